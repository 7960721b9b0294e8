import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import type { JsonRpcId } from '../mcp/index.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import { ToolsListResponse, type ToolsListPlan } from './toolsListResponse.js'

function responseHeaders(
  status: string,
  headers: Array<[string, string]> = [],
  endOfStream = false,
): ProcessingRequestMessage {
  const list = [[':status', status], ...headers].map(([key, value]) => ({
    key: key as string,
    raw_value: Buffer.from(value as string),
  }))
  return {
    request: 'response_headers',
    response_headers: { headers: { headers: list }, end_of_stream: endOfStream },
  }
}

function responseBody(body: Buffer | string, endOfStream: boolean): ProcessingRequestMessage {
  return {
    request: 'response_body',
    response_body: { body: Buffer.from(body), end_of_stream: endOfStream },
  }
}

interface PlanOptions {
  readonly calls?: Array<[JsonRpcId, string | undefined]>
  readonly filter?: boolean
  readonly argument?: boolean
}

function makePlan(options: PlanOptions = {}): { plan: ToolsListPlan; conflicts: string[] } {
  const conflicts: string[] = []
  const plan: ToolsListPlan = {
    calls: new Map(options.calls ?? [[1, 'reader']]),
    ...(options.filter === false
      ? {}
      : {
          keepTool: (agent: string | undefined, tool: string) =>
            agent === 'reader' && tool.startsWith('get_'),
        }),
    ...(options.argument === true
      ? {
          addArgument: {
            name: 'aws_profile',
            values: ['prod', 'staging'],
            description: 'AWS identity',
          },
        }
      : {}),
    onArgumentConflict: (tool) => {
      conflicts.push(tool)
    },
  }
  return { plan, conflicts }
}

const JSON_TYPE: Array<[string, string]> = [['content-type', 'application/json']]
const SSE_TYPE: Array<[string, string]> = [['content-type', 'text/event-stream']]

/** The replacement body of a body reply: bytes, `''` for clear_body, undefined for none. */
function bodyOf(reply: ProcessingResponseMessage): Buffer | undefined {
  const mutation = reply.response_body?.response?.body_mutation
  if (mutation === undefined) return undefined
  return 'body' in mutation ? mutation.body : Buffer.alloc(0)
}

function setHeaders(reply: ProcessingResponseMessage): Array<[string, string]> | undefined {
  return reply.response_body?.response?.header_mutation?.set_headers?.map((h) => [
    h.header.key,
    h.header.raw_value.toString(),
  ])
}

const TOOLS = [
  {
    name: 'get_user',
    description: 'Reads a user — ü€',
    inputSchema: { type: 'object', properties: { id: { type: 'number' } } },
  },
  { name: 'delete_user', description: 'Deletes a user', inputSchema: { type: 'object' } },
  {
    name: 'get_bucket',
    inputSchema: { type: 'object', properties: { aws_profile: { type: 'string' } } },
  },
]
const TOOLS_RESULT = { jsonrpc: '2.0', id: 1, result: { tools: TOOLS, nextCursor: 'c2' } }
const FILTERED_RESULT = {
  jsonrpc: '2.0',
  id: 1,
  result: { tools: [TOOLS[0], TOOLS[2]], nextCursor: 'c2' },
}

const PLAIN_CONTINUE = (phase: 'response_headers' | 'response_body') => ({
  [phase]: { response: { status: 'CONTINUE' } },
})

describe('ToolsListResponse: response headers', () => {
  it('leaves a non-200 response alone, and then its body', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'BUFFERED')
    expect(rewriter.onResponseHeaders(responseHeaders('500', JSON_TYPE))).toEqual(
      PLAIN_CONTINUE('response_headers'),
    )
    expect(rewriter.onResponseBody(responseBody('{"x":1}', true))).toEqual(
      PLAIN_CONTINUE('response_body'),
    )
  })

  it('leaves a response without a body alone', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'BUFFERED')
    expect(rewriter.onResponseHeaders(responseHeaders('200', JSON_TYPE, true))).toEqual(
      PLAIN_CONTINUE('response_headers'),
    )
  })

  it('leaves other content types alone', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'BUFFERED')
    expect(
      rewriter.onResponseHeaders(responseHeaders('200', [['content-type', 'text/plain']])),
    ).toEqual(PLAIN_CONTINUE('response_headers'))
    expect(rewriter.onResponseBody(responseBody(JSON.stringify(TOOLS_RESULT), true))).toEqual(
      PLAIN_CONTINUE('response_body'),
    )
  })

  it('asks for the buffered body of an application/json response, keeping the request body mode', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'BUFFERED')
    const headers = responseHeaders('200', [
      ['content-type', 'Application/JSON; charset=utf-8'],
      ['content-length', '10'],
    ])
    expect(rewriter.onResponseHeaders(headers)).toEqual({
      response_headers: { response: { status: 'CONTINUE' } },
      mode_override: { request_body_mode: 'BUFFERED', response_body_mode: 'BUFFERED' },
    })
  })

  it('asks for the streamed body of an SSE response', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'STREAMED')
    expect(rewriter.onResponseHeaders(responseHeaders('200', SSE_TYPE))).toEqual({
      response_headers: { response: { status: 'CONTINUE' } },
      mode_override: { request_body_mode: 'STREAMED', response_body_mode: 'STREAMED' },
    })
  })

  it('removes content-length from an SSE response it will rewrite', () => {
    const rewriter = new ToolsListResponse(makePlan().plan, 'BUFFERED')
    expect(
      rewriter.onResponseHeaders(responseHeaders('200', [...SSE_TYPE, ['content-length', '512']])),
    ).toEqual({
      response_headers: {
        response: {
          status: 'CONTINUE',
          header_mutation: { set_headers: [], remove_headers: ['content-length'] },
        },
      },
      mode_override: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' },
    })
  })
})

describe('ToolsListResponse: JSON bodies', () => {
  function jsonRewriter(headers: Array<[string, string]>, options: PlanOptions = {}) {
    const { plan, conflicts } = makePlan(options)
    const rewriter = new ToolsListResponse(plan, 'BUFFERED')
    rewriter.onResponseHeaders(responseHeaders('200', headers))
    return { rewriter, conflicts }
  }

  it('filters the tools and sets content-length to the new byte length when the response had one', () => {
    const original = JSON.stringify(TOOLS_RESULT)
    const { rewriter } = jsonRewriter([
      ...JSON_TYPE,
      ['content-length', String(Buffer.byteLength(original))],
    ])
    const reply = rewriter.onResponseBody(responseBody(original, true))
    const expected = Buffer.from(JSON.stringify(FILTERED_RESULT), 'utf8')
    expect(bodyOf(reply)?.equals(expected)).toBe(true)
    expect(setHeaders(reply)).toEqual([['content-length', String(expected.length)]])
    expect(expected.length).not.toBe(JSON.stringify(FILTERED_RESULT).length) // multi-byte characters count as bytes
    expect(reply.response_body?.response?.status).toBe('CONTINUE')
  })

  it('sets no content-length when the response had none', () => {
    const { rewriter } = jsonRewriter(JSON_TYPE)
    const reply = rewriter.onResponseBody(responseBody(JSON.stringify(TOOLS_RESULT), true))
    expect(bodyOf(reply)?.toString('utf8')).toBe(JSON.stringify(FILTERED_RESULT))
    expect(setHeaders(reply)).toEqual([])
    expect(reply.response_body?.response?.header_mutation?.remove_headers).toEqual([])
  })

  it('sends no body or header mutation when nothing changes, so the bytes pass as received', () => {
    const original =
      '{ "jsonrpc" : "2.0", "id": 1, "result": {"tools": [{"name":"get_a","n":1.50}]} }'
    const { rewriter } = jsonRewriter([...JSON_TYPE, ['content-length', String(original.length)]])
    const reply = rewriter.onResponseBody(responseBody(original, true))
    expect(reply).toEqual({ response_body: { response: { status: 'CONTINUE' } } })
  })

  it('leaves responses to other ids and batches of them unchanged', () => {
    const original = JSON.stringify([
      { ...TOOLS_RESULT, id: 2 },
      { jsonrpc: '2.0', id: 1, error: { code: 1, message: 'x' } },
    ])
    const { rewriter } = jsonRewriter(JSON_TYPE)
    expect(rewriter.onResponseBody(responseBody(original, true))).toEqual({
      response_body: { response: { status: 'CONTINUE' } },
    })
  })

  it('passes a body that is not JSON unchanged', () => {
    const { rewriter } = jsonRewriter(JSON_TYPE)
    const reply = rewriter.onResponseBody(responseBody('<html>oops</html>', true))
    expect(reply).toEqual({ response_body: { response: { status: 'CONTINUE' } } })
  })

  it('treats the one BUFFERED message as the whole body; a later message passes untouched', () => {
    const original = JSON.stringify(TOOLS_RESULT)
    const { rewriter } = jsonRewriter(JSON_TYPE)
    const first = rewriter.onResponseBody(responseBody(original, false))
    expect(bodyOf(first)?.toString('utf8')).toBe(JSON.stringify(FILTERED_RESULT))
    expect(rewriter.onResponseBody(responseBody('', true))).toEqual({
      response_body: { response: { status: 'CONTINUE' } },
    })
  })

  it('adds the identity argument and reports tools that already declare it', () => {
    const { rewriter, conflicts } = jsonRewriter(JSON_TYPE, { filter: false, argument: true })
    const reply = rewriter.onResponseBody(responseBody(JSON.stringify(TOOLS_RESULT), true))
    const tools = (JSON.parse(bodyOf(reply)?.toString() ?? '') as typeof FILTERED_RESULT).result
      .tools
    const property = { type: 'string', enum: ['prod', 'staging'], description: 'AWS identity' }
    expect(tools.map((t) => t.inputSchema)).toEqual([
      { type: 'object', properties: { id: { type: 'number' }, aws_profile: property } },
      { type: 'object', properties: { aws_profile: property } },
      { type: 'object', properties: { aws_profile: { type: 'string' } } },
    ])
    expect(conflicts).toEqual(['get_bucket'])
  })

  // Regression (fixed): an unchanged body is decoded to a string and re-encoded ("give back exactly the bytes
  // collected so far" says the comment), so bytes that are not valid UTF-8 become U+FFFD. An
  // `application/json` response with `content-encoding: gzip` (a common upstream setting) is
  // therefore corrupted: the bytes sent on differ from the upstream's (and no longer match its
  // content-length), where it should pass unchanged like any body that is not JSON.
  it('passes a body that is not UTF-8 (gzip) byte for byte', () => {
    const gz = gzipSync(JSON.stringify(TOOLS_RESULT))
    const { rewriter } = jsonRewriter([
      ...JSON_TYPE,
      ['content-encoding', 'gzip'],
      ['content-length', String(gz.length)],
    ])
    const reply = rewriter.onResponseBody(responseBody(gz, true))
    const body = bodyOf(reply)
    expect(body === undefined || body.equals(gz)).toBe(true)
  })

  // Regression (fixed): with the BUFFERED mode the rewriter asked for, Envoy sends the whole body in ONE message
  // whose end_of_stream is false when trailers follow (the request side handles exactly this in
  // StreamProcessor.onRequestBody). onJsonChunk waits for end_of_stream, answers that only body
  // message with `clear_body`, and no further body message comes: the client gets an empty body.
  it(
    'rewrites a BUFFERED JSON body whose end_of_stream is false because trailers follow',
    () => {
      const { rewriter } = jsonRewriter(JSON_TYPE)
      const reply = rewriter.onResponseBody(responseBody(JSON.stringify(TOOLS_RESULT), false))
      expect(bodyOf(reply)?.toString('utf8')).toBe(JSON.stringify(FILTERED_RESULT))
    },
  )
})

describe('ToolsListResponse: SSE bodies', () => {
  const progress =
    'event: message\nid: 7\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1.50,"message":"héllo ✓"}}\n\n'
  const comment = ': keep-alive\n\n'
  const otherId = `data: ${JSON.stringify({ ...TOOLS_RESULT, id: 2 })}\n\n`
  const toolsEvent = `event: message\nid: 8\ndata: ${JSON.stringify(TOOLS_RESULT)}\n\n`
  const toolsEventRewritten = `event: message\nid: 8\ndata: ${JSON.stringify(FILTERED_RESULT)}\n\n`
  const notJson = 'data: not json ü\n\n'
  const STREAM = progress + comment + otherId + toolsEvent + notJson
  const EXPECTED = progress + comment + otherId + toolsEventRewritten + notJson

  function sseRewriter(options: PlanOptions = {}) {
    const { plan, conflicts } = makePlan(options)
    const rewriter = new ToolsListResponse(plan, 'BUFFERED')
    rewriter.onResponseHeaders(responseHeaders('200', SSE_TYPE))
    return { rewriter, conflicts }
  }

  /** Feeds `chunks` (the last one ends the stream) and joins the bodies sent. */
  function run(chunks: Buffer[], options: PlanOptions = {}): Buffer {
    const { rewriter } = sseRewriter(options)
    const out = chunks.map((chunk, index) => {
      const reply = rewriter.onResponseBody(responseBody(chunk, index === chunks.length - 1))
      expect(reply.response_body?.response?.status).toBe('CONTINUE')
      return bodyOf(reply) ?? Buffer.alloc(0)
    })
    return Buffer.concat(out)
  }

  function splitAt(bytes: Buffer, ...offsets: number[]): Buffer[] {
    const points = [0, ...offsets, bytes.length]
    return points.slice(1).map((end, i) => bytes.subarray(points[i], end))
  }

  it('rewrites the tools/list event and passes every other event byte for byte, in one chunk', () => {
    expect(run([Buffer.from(STREAM)]).toString('utf8')).toBe(EXPECTED)
  })

  it('gives the same output when an event is split inside a UTF-8 character and inside the blank line', () => {
    const bytes = Buffer.from(STREAM)
    const euro = bytes.indexOf(Buffer.from('€')) + 1 // after the first of its three bytes
    const blank = Buffer.byteLength(progress + comment + otherId + toolsEvent) - 1 // between the two LFs
    const check = Buffer.from('✓')
    const inCheck = bytes.indexOf(check) + 2
    expect(bytes.subarray(blank - 1, blank + 1).toString()).toBe('\n\n')
    const one = run([bytes])
    expect(run(splitAt(bytes, euro, blank)).equals(one)).toBe(true)
    expect(run(splitAt(bytes, inCheck, euro, blank)).equals(one)).toBe(true)
  })

  it('gives the same output for every two-chunk split of the stream', () => {
    const bytes = Buffer.from(STREAM)
    const one = run([bytes])
    const differing: number[] = []
    for (let at = 1; at < bytes.length; at++) {
      if (!run(splitAt(bytes, at)).equals(one)) differing.push(at)
    }
    expect(differing).toEqual([])
  })

  it('handles CRLF events split between CR and LF of the blank line', () => {
    const crlf = STREAM.replaceAll('\n', '\r\n')
    const bytes = Buffer.from(crlf)
    const end =
      Buffer.byteLength(crlf.slice(0, crlf.indexOf('\r\n\r\n', crlf.indexOf('"id":1,')))) + 3 // "\r\n\r|\n"
    expect(bytes.subarray(end - 3, end + 1).toString()).toBe('\r\n\r\n')
    const one = run([bytes])
    expect(one.toString()).toBe(EXPECTED.replaceAll('\n', '\r\n'))
    expect(run(splitAt(bytes, end)).equals(one)).toBe(true)
    expect(run(splitAt(bytes, end - 1)).equals(one)).toBe(true)
  })

  it('holds back an incomplete event until its end arrives', () => {
    const { rewriter } = sseRewriter()
    const half = toolsEvent.slice(0, 40)
    const first = rewriter.onResponseBody(responseBody(comment + half, false))
    expect(bodyOf(first)?.toString()).toBe(comment)
    const held = rewriter.onResponseBody(responseBody(toolsEvent.slice(40, -1), false))
    expect(first.response_body?.response?.body_mutation).toEqual({ body: Buffer.from(comment) })
    expect(held.response_body?.response?.body_mutation).toEqual({ clear_body: true })
    const last = rewriter.onResponseBody(responseBody('\n', true))
    expect(bodyOf(last)?.toString()).toBe(toolsEventRewritten)
  })

  it('passes a stream without tools/list responses byte-identical, whatever the chunking', () => {
    const stream = Buffer.from(
      progress + comment + otherId + 'event: ping\n\n' + notJson + 'data: {"partial"',
    )
    expect(run([stream]).equals(stream)).toBe(true)
    expect(run(splitAt(stream, 5, 100, 101, stream.length - 3)).equals(stream)).toBe(true)
  })

  it('rewrites a last tools/list event that the stream ends without a blank line', () => {
    const unterminated = Buffer.from(comment + toolsEvent.slice(0, -2))
    const expected = comment + toolsEventRewritten.slice(0, -2)
    expect(run([unterminated]).toString('utf8')).toBe(expected)
    expect(run(splitAt(unterminated, 20, 60)).toString('utf8')).toBe(expected)
  })

  it('reports argument conflicts from SSE events', () => {
    const { rewriter, conflicts } = sseRewriter({ filter: false, argument: true })
    const reply = rewriter.onResponseBody(responseBody(toolsEvent, true))
    const data = JSON.parse(
      bodyOf(reply)?.toString().split('data: ')[1] ?? '',
    ) as typeof TOOLS_RESULT
    expect(data.result.tools.map((t) => t.name)).toEqual(['get_user', 'delete_user', 'get_bucket'])
    expect(conflicts).toEqual(['get_bucket'])
  })
})
