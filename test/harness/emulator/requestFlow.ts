/**
 * One downstream HTTP request through the emulated filter chain: ext_proc (decoder and, with
 * `response_header_mode: SEND`, encoder headers), then the router. The order of steps and
 * every outcome follow the fact sheet's emulator checklist; see `envoyEmulator.ts` for the list
 * of emulated and non-emulated behaviours.
 */
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import { ATTRIBUTES_KEY, evaluateAttributes } from './attributes.js'
import { BodyReader } from './bodyReader.js'
import { ExtProcStream } from './extProcStream.js'
import type { ExchangeOutcome, MessageCodec, StreamDeps } from './extProcStream.js'
import {
  buildRequestHeaders, buildResponseHeaders, getHeader, removeHeader, requestHasBody, toHeaderMap,
} from './headerMap.js'
import { applyHeaderMutation } from './headerMutations.js'
import type { MutationContext } from './headerMutations.js'
import { effectiveMode, unsupportedMode } from './modes.js'
import { finalizeUpstreamRequest, matchRoute, sendUpstream } from './router.js'
import type {
  BodyMutationMsg, CommonResponseMsg, EmulatedRequestRecord, EmulatedRoute, EmulatorStats,
  HeaderEntry, ImmediateResponseMsg, MutationRules, ProcessingMode, ProcessingRequestMsg,
  ProcessingResponseMsg,
} from './types.js'
import type { PrintOptions } from '../textFormatPrinter.js'

/** Options after defaults were applied. */
export interface ResolvedOptions {
  routes: EmulatedRoute[]
  requestAttributes: string[]
  messageTimeoutMs: number
  maxMessageTimeoutMs: number
  gracefulGrpcClose: boolean
  bufferLimitBytes: number
  processingMode: ProcessingMode
  allowModeOverride: boolean
  failureModeAllow: boolean
  sendProtocolConfig: boolean
  initialMetadata: Record<string, string>
  mutationRules: MutationRules
  suppressEnvoyHeaders: boolean
  routeMetadataPrintOptions: PrintOptions | undefined
}

/** Shared per-emulator collaborators. */
export interface FlowDeps {
  options: ResolvedOptions
  client: StreamDeps['client']
  codec: MessageCodec
  stats: EmulatorStats
  /** `envoy.type.v3.StatusCode` names → numbers (proto-loader decodes enums as names). */
  statusCodes: Map<string, number>
  agent: Agent
}

type Step = 'continue' | 'stop'

const EMPTY = Buffer.alloc(0)

/** Handles one downstream request; resolves when the response started (or a reply was sent). */
export class RequestFlow {
  private route: EmulatedRoute | undefined
  private headers: HeaderEntry[] = []
  private body: Buffer = EMPTY
  private mode: ProcessingMode
  private stream: ExtProcStream | undefined
  private reader: BodyReader | undefined
  private hasBody = false
  private attributesSent = false
  private replacedBody: Buffer | undefined
  private clearRouteCache = false
  private aborted = false
  private upstreamReq: ClientRequest | undefined
  private upstreamRes: IncomingMessage | undefined

  constructor(private readonly deps: FlowDeps, private readonly req: IncomingMessage,
    private readonly res: ServerResponse, private readonly record: EmulatedRequestRecord) {
    this.mode = { ...deps.options.processingMode }
    res.on('close', () => {
      record.finished = true
      if (!res.writableFinished) this.abort()
    })
  }

  /** Runs the whole flow. */
  async run(): Promise<void> {
    const route = matchRoute(this.deps.options.routes, this.record.path)
    if (route === undefined) {
      this.req.resume()
      this.localReply(404, 'route_not_found')
      return
    }
    this.route = route
    this.record.routeName = route.name
    this.headers = buildRequestHeaders(this.req)
    this.hasBody = requestHasBody(this.req)
    this.reader = new BodyReader(this.req, this.deps.options.bufferLimitBytes)
    if (route.extProcDisabled !== true) this.stream = this.newStream(route)
    if (this.mode.request_header_mode === 'SKIP' && this.mode.request_body_mode === 'BUFFERED') {
      // shouldRemoveContentLength(): BUFFERED with header SKIP (fact sheet §6).
      removeHeader(this.headers, 'content-length')
    }
    if (await this.requestHeadersPhase() === 'stop') return
    if (await this.requestBodyPhase() === 'stop') return
    if (!this.wantsResponseHeaders()) this.stream?.close()
    await this.forward()
  }

  private newStream(route: EmulatedRoute): ExtProcStream {
    const merged: Record<string, string> = {}
    const lower = (o: Record<string, string> | undefined): void => {
      for (const [k, v] of Object.entries(o ?? {})) merged[k.toLowerCase()] = v
    }
    lower(this.deps.options.initialMetadata)
    lower(route.grpcInitialMetadata)
    return new ExtProcStream({
      client: this.deps.client, codec: this.deps.codec, stats: this.deps.stats,
      record: this.record, metadata: merged,
      messageTimeoutMs: this.deps.options.messageTimeoutMs,
      maxMessageTimeoutMs: this.deps.options.maxMessageTimeoutMs,
      gracefulClose: this.deps.options.gracefulGrpcClose,
    })
  }

  private wantsResponseHeaders(): boolean {
    return this.stream?.usable === true && this.mode.response_header_mode === 'SEND'
  }

  // ---- request headers ---------------------------------------------------------------------

  private async requestHeadersPhase(): Promise<Step> {
    const stream = this.stream
    if (stream === undefined || this.mode.request_header_mode === 'SKIP') return 'continue'
    const endOfStream = this.hasBody ? {} : { end_of_stream: true }
    const message = this.message({ request_headers: {
      headers: toHeaderMap(this.headers), ...endOfStream } }, true)
    const exchange = stream.exchange(message, 'request_headers')
    const watchOverflow = this.mode.request_body_mode === 'BUFFERED' && this.hasBody
    const outcome = watchOverflow
      ? await Promise.race([exchange, this.overflow()])
      : await exchange
    if (outcome === 'overflow') return this.payloadTooLarge()
    if (outcome.type !== 'response') return this.onFailure(outcome)
    return this.onRequestHeadersResponse(outcome.response)
  }

  private async overflow(): Promise<'overflow'> {
    await this.reader?.overflow
    return 'overflow'
  }

  private onRequestHeadersResponse(response: ProcessingResponseMsg): Step {
    if (this.applyModeOverride(response) === 'stop') return 'stop'
    const common: CommonResponseMsg = response.request_headers?.response ?? {}
    const replace = common.status === 'CONTINUE_AND_REPLACE'
    const result = applyHeaderMutation(this.headers, common.header_mutation,
      this.mutationContext(this.mode.request_body_mode !== 'BUFFERED', replace))
    if (!result.ok) return this.processingError(result.error)
    this.noteClearRouteCache(common)
    if (replace) {
      // CONTINUE_AND_REPLACE: the body is replaced or created and no further request-direction
      // messages are sent (fact sheet §9).
      if (common.body_mutation !== undefined) {
        removeHeader(this.headers, 'content-length')
        this.replacedBody = mutatedBody(common.body_mutation, EMPTY)
      }
      this.mode.request_body_mode = 'NONE'
    }
    return 'continue'
  }

  private applyModeOverride(response: ProcessingResponseMsg): Step {
    if (!this.deps.options.allowModeOverride || response.mode_override === undefined) {
      return 'continue'
    }
    this.mode = effectiveMode(this.deps.options.processingMode, response.mode_override)
    const unsupported = unsupportedMode(this.mode)
    if (unsupported === undefined) return 'continue'
    this.stream?.close()
    return this.localReply(500, `emulator_cannot_emulate_${unsupported}`)
  }

  // ---- request body ------------------------------------------------------------------------

  private async requestBodyPhase(): Promise<Step> {
    const reader = this.reader as BodyReader
    const buffered = this.mode.request_body_mode === 'BUFFERED' && this.hasBody &&
      this.stream?.usable === true && this.replacedBody === undefined
    const read = buffered
      ? await Promise.race([reader.complete, this.overflow()])
      : await reader.complete
    if (read === 'overflow') return this.payloadTooLarge()
    if (read.aborted || this.aborted) {
      this.abort()
      return 'stop'
    }
    this.body = this.replacedBody ?? read.body
    if (!buffered) return 'continue'
    const stream = this.stream as ExtProcStream
    const message = this.message({ request_body: read.body.length > 0
      ? { body: read.body, end_of_stream: true }
      : { end_of_stream: true } }, true)
    const outcome = await stream.exchange(message, 'request_body')
    if (outcome.type !== 'response') return this.onFailure(outcome)
    return this.onRequestBodyResponse(outcome.response)
  }

  private onRequestBodyResponse(response: ProcessingResponseMsg): Step {
    const common: CommonResponseMsg = response.request_body?.response ?? {}
    // With header SKIP there are no held headers: mutations are dropped (fact sheet §3).
    const headersHeld = this.mode.request_header_mode !== 'SKIP'
    if (headersHeld) {
      const result = applyHeaderMutation(this.headers, common.header_mutation,
        this.mutationContext(false, false))
      if (!result.ok) return this.processingError(result.error)
    }
    const mutation = common.body_mutation
    if (mutation !== undefined) {
      if (mutation.mutation === 'streamed_response') {
        this.deps.stats.spuriousMessages += 1
        return this.onFailure({ type: 'spurious' })
      }
      const length = getHeader(this.headers, 'content-length')
      const newLength = mutation.body?.length ?? 0
      if (headersHeld && length !== undefined && !(/^\d+$/.test(length) &&
        Number(length) === newLength)) {
        return this.processingError('mismatch between content length and the length of the ' +
          'mutated body')
      }
      this.body = mutatedBody(mutation, this.body)
    }
    this.noteClearRouteCache(common)
    return 'continue'
  }

  // ---- upstream and response headers -------------------------------------------------------

  private async forward(): Promise<void> {
    let route = this.route as EmulatedRoute
    if (this.clearRouteCache) {
      const again = matchRoute(this.deps.options.routes, getHeader(this.headers, ':path') ?? '/')
      if (again === undefined) {
        this.localReply(404, 'route_not_found')
        return
      }
      route = again
      this.record.routeName = route.name
    }
    const upstream = finalizeUpstreamRequest(route, this.headers, this.body,
      this.deps.options.suppressEnvoyHeaders)
    this.record.upstream = upstream
    const sent = sendUpstream(route, upstream, this.deps.agent)
    this.upstreamReq = sent.req
    let response: IncomingMessage
    try {
      response = await sent.response
    } catch {
      this.stream?.close()
      if (!this.aborted) {
        this.localReply(503, 'upstream_reset_before_response_started{connection_failure}')
      }
      return
    }
    this.upstreamRes = response
    if (this.aborted) {
      response.destroy()
      return
    }
    await this.relay(response)
  }

  private async relay(response: IncomingMessage): Promise<void> {
    const headers = buildResponseHeaders(response.statusCode ?? 502, response.rawHeaders)
    if (this.wantsResponseHeaders()) {
      const step = await this.responseHeadersPhase(headers, response)
      if (step === 'stop') {
        response.destroy()
        return
      }
    }
    this.stream?.close()
    if (this.aborted) return
    const status = Number(getHeader(headers, ':status'))
    const flat = headers.filter((h) => !h.key.startsWith(':')).flatMap((h) => [h.key, h.value])
    this.record.responseStatus = status
    this.res.writeHead(status, flat)
    // Flush now so SSE streams reach the client before their first event.
    this.res.flushHeaders()
    response.on('error', () => this.res.destroy())
    response.on('aborted', () => this.res.destroy())
    response.pipe(this.res)
  }

  private async responseHeadersPhase(headers: HeaderEntry[], response: IncomingMessage):
    Promise<Step> {
    const status = response.statusCode ?? 502
    const endOfStream = this.record.method === 'HEAD' || status === 204 || status === 304 ||
      response.headers['content-length'] === '0'
    const message = this.message({ response_headers: {
      headers: toHeaderMap(headers), ...(endOfStream ? { end_of_stream: true } : {}) } }, false)
    const outcome = await (this.stream as ExtProcStream).exchange(message, 'response_headers')
    if (outcome.type !== 'response') return this.onFailure(outcome)
    if (this.applyModeOverride(outcome.response) === 'stop') return 'stop'
    const common: CommonResponseMsg = outcome.response.response_headers?.response ?? {}
    const result = applyHeaderMutation(headers, common.header_mutation,
      this.mutationContext(this.mode.response_body_mode !== 'BUFFERED', false))
    if (!result.ok) return this.processingError(result.error)
    return 'continue'
  }

  // ---- messages, failures, replies ---------------------------------------------------------

  private message(request: ProcessingRequestMsg, requestDirection: boolean): ProcessingRequestMsg {
    const stream = this.stream as ExtProcStream
    const message: ProcessingRequestMsg = { ...request, metadata_context: {} }
    const expressions = this.deps.options.requestAttributes
    if (requestDirection && !this.attributesSent && expressions.length > 0) {
      this.attributesSent = true
      message.attributes = { [ATTRIBUTES_KEY]: { fields: evaluateAttributes(expressions,
        this.route as EmulatedRoute, this.deps.options.routeMetadataPrintOptions) } }
    }
    if (stream.isFirstMessage && this.deps.options.sendProtocolConfig) {
      // proto3 defaults (NONE, false) are not on Envoy's wire, so they are left out here too.
      message.protocol_config = {
        ...(this.mode.request_body_mode === 'NONE' ? {}
          : { request_body_mode: this.mode.request_body_mode }),
        ...(this.mode.response_body_mode === 'NONE' ? {}
          : { response_body_mode: this.mode.response_body_mode }),
      }
    }
    return message
  }

  private mutationContext(skipContentLength: boolean, allowMethod: boolean): MutationContext {
    return { rules: this.deps.options.mutationRules, stats: this.deps.stats, skipContentLength,
      allowMethod }
  }

  private noteClearRouteCache(common: CommonResponseMsg): void {
    if (common.clear_route_cache !== true) return
    if (common.header_mutation === undefined) {
      this.deps.stats.clearRouteCacheIgnored += 1
    } else {
      this.clearRouteCache = true
    }
  }

  private onFailure(outcome: ExchangeOutcome): Step {
    this.stream?.close()
    switch (outcome.type) {
      case 'immediate':
        return this.immediateReply(outcome.response.immediate_response ?? {})
      case 'timeout':
        return this.failOpenOr(504, 'ext_proc_error_per-message_timeout_exceeded')
      case 'grpc-error':
        return this.failOpenOr(500,
          `ext_proc_error_gRPC_error_${outcome.code}{${outcome.details}}`)
      case 'spurious':
        return this.failOpenOr(500, 'spurious_message')
      case 'closed-ok':
        return 'continue'
      default:
        return 'stop'
    }
  }

  private failOpenOr(status: number, details: string): Step {
    if (this.deps.options.failureModeAllow) {
      this.deps.stats.failureModeAllowed += 1
      return 'continue'
    }
    return this.localReply(status, details)
  }

  private processingError(message: string): Step {
    this.stream?.close()
    return this.localReply(500, message)
  }

  private payloadTooLarge(): Step {
    this.stream?.close()
    return this.localReply(413, 'request_payload_too_large', Buffer.from('Payload Too Large'))
  }

  private immediateReply(immediate: ImmediateResponseMsg): Step {
    const code = this.statusNumber(immediate.status?.code)
    const body = immediate.body ?? EMPTY
    const headers: HeaderEntry[] = body.length > 0
      ? [{ key: 'content-type', value: 'text/plain' }]
      : []
    // Failures of these mutations are only logged by Envoy (fact sheet §8): keep what applied.
    applyHeaderMutation(headers, immediate.headers, this.mutationContext(true, false))
    return this.localReply(code, immediate.details ?? '', body, headers, true)
  }

  private statusNumber(code: string | number | undefined): number {
    const n = typeof code === 'number' ? code : this.deps.statusCodes.get(code ?? '') ?? 0
    return n >= 200 ? n : 200
  }

  private localReply(status: number, details: string, body: Buffer = EMPTY,
    headers: HeaderEntry[] = [], immediate = false): Step {
    // Envoy's response code details never contain whitespace.
    const cleanDetails = details.replace(/\s/g, '_')
    this.record.localReply = { status, details: cleanDetails, body: body.toString('utf8'),
      immediate }
    this.record.responseStatus = status
    this.deps.stats.localReplies += 1
    if (this.res.headersSent || this.res.destroyed) {
      this.res.destroy()
      return 'stop'
    }
    removeHeader(headers, 'content-length')
    const flat = headers.filter((h) => !h.key.startsWith(':')).flatMap((h) => [h.key, h.value])
    this.res.writeHead(status, [...flat, 'content-length', String(body.length)])
    this.res.end(body)
    return 'stop'
  }

  /** Stops everything for this request: the Process stream and the upstream exchange. */
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    this.stream?.close()
    this.upstreamReq?.destroy()
    this.upstreamRes?.destroy()
  }
}

function mutatedBody(mutation: BodyMutationMsg, current: Buffer): Buffer {
  if (mutation.mutation === 'body') return mutation.body ?? EMPTY
  if (mutation.mutation === 'clear_body' && mutation.clear_body === true) return EMPTY
  return current
}
