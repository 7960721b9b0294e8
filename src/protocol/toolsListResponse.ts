import type { JsonRpcId } from '../mcp/index.js'
import { SseEventSplitter, rewriteJsonRpcResponses, rewriteSseEvent, rewriteToolsList } from '../mcp/index.js'
import type { BodySendMode, ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import { RequestHeaders } from './requestHeaders.js'
import { continueResponse, continueWithBodyMode } from './responses.js'

/** What to change in `tools/list` results of one response. */
export interface ToolsListPlan {
  /** Ids of the request's `tools/list` calls, with the agent each was decided for. */
  readonly calls: ReadonlyMap<JsonRpcId, string | undefined>
  /** Keeps a tool in the list for an agent (the route's policy); absent: keep all. */
  readonly keepTool?: (agent: string | undefined, tool: string) => boolean
  /** The identity argument to add to every tool's schema (argument mode). */
  readonly addArgument?: { readonly name: string; readonly values: readonly string[]; readonly description: string }
  /** Told about tools that already declare the argument (they keep their own). */
  readonly onArgumentConflict?: (tool: string) => void
}

/**
 * Rewrites the response of a request that carried `tools/list`: on the response headers it asks
 * Envoy for the body (`mode_override`: BUFFERED for `application/json`, STREAMED for
 * `text/event-stream`), then filters each `tools/list` result and adds the identity argument.
 * JSON bodies get a matching `content-length`; SSE bodies are rewritten event by event, also
 * when events are split across chunks. Other responses pass untouched.
 */
export class ToolsListResponse {
  private mode: 'untouched' | 'json' | 'sse' = 'untouched'
  private hadContentLength = false
  private jsonDone = false
  private readonly splitter = new SseEventSplitter()

  constructor(
    private readonly plan: ToolsListPlan,
    private readonly requestBodyMode: BodySendMode,
  ) {}

  onResponseHeaders(message: ProcessingRequestMessage): ProcessingResponseMessage {
    const headers = new RequestHeaders(message.response_headers?.headers)
    const mediaType = (headers.get('content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase()
    const encoding = headers.get('content-encoding')?.trim().toLowerCase()
    if (
      headers.get(':status') !== '200' ||
      message.response_headers?.end_of_stream === true ||
      (encoding !== undefined && encoding !== '' && encoding !== 'identity')
    ) {
      // Compressed bodies cannot be read here: they pass unfiltered (calls are still enforced).
      return continueResponse('response_headers')
    }
    if (mediaType === 'application/json') {
      this.mode = 'json'
      this.hadContentLength = headers.get('content-length') !== undefined
      return continueWithBodyMode(this.requestBodyMode, 'BUFFERED', 'response_headers')
    }
    if (mediaType === 'text/event-stream') {
      this.mode = 'sse'
      const override = continueWithBodyMode(this.requestBodyMode, 'STREAMED', 'response_headers')
      if (headers.get('content-length') === undefined) return override
      // Envoy keeps a content-length it saw before the override; rewritten events change the
      // length, so the response goes out chunked instead.
      return { ...override, response_headers: continueResponse('response_headers', { set: [], remove: ['content-length'] }).response_headers }
    }
    return continueResponse('response_headers')
  }

  onResponseBody(message: ProcessingRequestMessage): ProcessingResponseMessage {
    const chunk = message.response_body?.body ?? Buffer.alloc(0)
    const end = message.response_body?.end_of_stream === true
    if (this.mode === 'json') return this.onJsonChunk(chunk)
    if (this.mode === 'sse') return this.onSseChunk(chunk, end)
    return continueResponse('response_body')
  }

  /**
   * BUFFERED sends the whole body in one message (`end_of_stream` is false only when trailers
   * follow), so the first message is the complete body.
   */
  private onJsonChunk(chunk: Buffer): ProcessingResponseMessage {
    if (this.jsonDone) return continueResponse('response_body')
    this.jsonDone = true
    const rewritten = this.rewriteJson(chunk.toString('utf8'))
    // Unchanged: no body mutation, so the bytes pass exactly as received.
    if (rewritten === undefined) return continueResponse('response_body')
    const body = Buffer.from(rewritten, 'utf8')
    const lengthHeader = this.hadContentLength ? [['content-length', String(body.length)] as const] : []
    return continueResponse('response_body', { set: lengthHeader, remove: [] }, body)
  }

  private onSseChunk(chunk: Buffer, end: boolean): ProcessingResponseMessage {
    const events = this.splitter.push(chunk)
    // At the end, the remainder is the last (possibly unterminated) event: rewrite it too.
    if (end) events.push(this.splitter.flush())
    const out = events.map((event) => rewriteSseEvent(event, (data) => this.rewriteJson(data))).join('')
    return continueResponse('response_body', undefined, Buffer.from(out, 'utf8'))
  }

  /** The rewritten JSON-RPC text, or undefined when nothing changed or it is not JSON-RPC. */
  private rewriteJson(text: string): string | undefined {
    const { calls, keepTool, addArgument } = this.plan
    let outcome
    try {
      outcome = rewriteJsonRpcResponses(text, new Set(calls.keys()), (result, id) =>
        rewriteToolsList(result, {
          ...(keepTool !== undefined ? { keepTool: (tool: string) => keepTool(calls.get(id), tool) } : {}),
          ...(addArgument !== undefined ? { addArgument } : {}),
        }),
      )
    } catch {
      return undefined
    }
    for (const tool of outcome.argumentConflicts) this.plan.onArgumentConflict?.(tool)
    return outcome.changed ? outcome.text : undefined
  }
}
