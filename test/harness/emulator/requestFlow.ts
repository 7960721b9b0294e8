/**
 * One downstream request through the emulated filter chain: ext_proc's decoder half, the router,
 * then ext_proc's encoder half (`responseFlow.ts`). The order of steps and every outcome follow
 * the fact sheet's emulator checklist; see `envoyEmulator.ts` for the list of emulated and
 * non-emulated behaviours.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import { BodyReader } from './bodyReader.js'
import { CONTENT_LENGTH_MISMATCH, contentLengthMismatch, mutatedBody } from './bodyMutations.js'
import { ExtProcStream } from './extProcStream.js'
import { FlowContext } from './flowContext.js'
import type { FlowDeps, Step } from './flowContext.js'
import {
  buildRequestHeaders, getHeader, removeHeader, requestHasBody, toHeaderMap,
} from './headerMap.js'
import { applyHeaderMutation } from './headerMutations.js'
import { ResponseFlow } from './responseFlow.js'
import { finalizeUpstreamRequest, matchRoute, sendUpstream } from './router.js'
import type {
  CommonResponseMsg, EmulatedRequestRecord, EmulatedRoute, HeaderEntry, ProcessingResponseMsg,
} from './types.js'

export type { FlowDeps, ResolvedOptions } from './flowContext.js'

const EMPTY = Buffer.alloc(0)

/** Handles one downstream request; resolves when the response started (or a reply was sent). */
export class RequestFlow {
  private readonly ctx: FlowContext
  private headers: HeaderEntry[] = []
  private body: Buffer = EMPTY
  private reader: BodyReader | undefined
  private hasBody = false
  private replacedBody: Buffer | undefined
  private clearRouteCache = false
  private upstreamReq: ClientRequest | undefined
  private upstreamRes: IncomingMessage | undefined

  constructor(private readonly deps: FlowDeps, private readonly req: IncomingMessage,
    res: ServerResponse, private readonly record: EmulatedRequestRecord) {
    this.ctx = new FlowContext(deps, res, record)
    res.on('close', () => {
      record.finished = true
      if (!res.writableFinished) this.abort()
    })
  }

  /** Runs the whole flow. */
  async run(): Promise<void> {
    const ctx = this.ctx
    const route = matchRoute(this.deps.options.routes, this.record.path)
    if (route === undefined) {
      this.req.resume()
      ctx.localReply(404, 'route_not_found')
      return
    }
    ctx.route = route
    this.record.routeName = route.name
    this.headers = buildRequestHeaders(this.req)
    this.hasBody = requestHasBody(this.req)
    this.reader = new BodyReader(this.req, this.deps.options.bufferLimitBytes)
    if (route.extProcDisabled !== true) ctx.stream = this.newStream(route)
    if (ctx.mode.request_header_mode === 'SKIP' && ctx.mode.request_body_mode === 'BUFFERED') {
      // shouldRemoveContentLength(): BUFFERED with header SKIP (fact sheet §6).
      removeHeader(this.headers, 'content-length')
    }
    if (await this.requestHeadersPhase() === 'stop') return
    if (await this.requestBodyPhase() === 'stop') return
    // noExternalProcess(): nothing to do on the response path, so close now (fact sheet §10).
    if (!this.needsResponsePhase()) ctx.stream?.close()
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

  private needsResponsePhase(): boolean {
    const mode = this.ctx.mode
    return this.ctx.stream?.usable === true &&
      (mode.response_header_mode === 'SEND' || mode.response_body_mode !== 'NONE')
  }

  // ---- request headers ---------------------------------------------------------------------

  private async requestHeadersPhase(): Promise<Step> {
    const ctx = this.ctx
    const stream = ctx.stream
    if (stream === undefined || ctx.mode.request_header_mode === 'SKIP') return 'continue'
    const endOfStream = this.hasBody ? {} : { end_of_stream: true }
    const message = ctx.message({ request_headers: {
      headers: toHeaderMap(this.headers), ...endOfStream } }, true)
    const exchange = stream.exchange(message, 'request_headers')
    const watchOverflow = ctx.mode.request_body_mode === 'BUFFERED' && this.hasBody
    const outcome = watchOverflow
      ? await Promise.race([exchange, this.overflow()])
      : await exchange
    if (outcome === 'overflow') return this.payloadTooLarge()
    if (outcome.type !== 'response') return ctx.onFailure(outcome)
    return this.onRequestHeadersResponse(outcome.response)
  }

  private async overflow(): Promise<'overflow'> {
    await this.reader?.overflow
    return 'overflow'
  }

  private onRequestHeadersResponse(response: ProcessingResponseMsg): Step {
    const ctx = this.ctx
    if (ctx.applyModeOverride(response, 'request') === 'stop') return 'stop'
    const common: CommonResponseMsg = response.request_headers?.response ?? {}
    const replace = common.status === 'CONTINUE_AND_REPLACE'
    const result = applyHeaderMutation(this.headers, common.header_mutation,
      ctx.mutationContext(ctx.mode.request_body_mode !== 'BUFFERED', replace))
    if (!result.ok) return ctx.processingError(result.error)
    this.noteClearRouteCache(common)
    if (replace) {
      // CONTINUE_AND_REPLACE: the body is replaced or created and no further request-direction
      // messages are sent (fact sheet §9).
      if (common.body_mutation !== undefined) {
        removeHeader(this.headers, 'content-length')
        this.replacedBody = mutatedBody(common.body_mutation, EMPTY)
      }
      ctx.mode.request_body_mode = 'NONE'
    }
    return 'continue'
  }

  // ---- request body ------------------------------------------------------------------------

  private async requestBodyPhase(): Promise<Step> {
    const ctx = this.ctx
    const reader = this.reader as BodyReader
    const buffered = ctx.mode.request_body_mode === 'BUFFERED' && this.hasBody &&
      ctx.stream?.usable === true && this.replacedBody === undefined
    const read = buffered
      ? await Promise.race([reader.complete, this.overflow()])
      : await reader.complete
    if (read === 'overflow') return this.payloadTooLarge()
    if (read.aborted || ctx.aborted) {
      this.abort()
      return 'stop'
    }
    this.body = this.replacedBody ?? read.body
    if (!buffered) return 'continue'
    const stream = ctx.stream as ExtProcStream
    const message = ctx.message({ request_body: read.body.length > 0
      ? { body: read.body, end_of_stream: true }
      : { end_of_stream: true } }, true)
    const outcome = await stream.exchange(message, 'request_body')
    if (outcome.type !== 'response') return ctx.onFailure(outcome)
    return this.onRequestBodyResponse(outcome.response)
  }

  private onRequestBodyResponse(response: ProcessingResponseMsg): Step {
    const ctx = this.ctx
    const common: CommonResponseMsg = response.request_body?.response ?? {}
    // With header SKIP there are no held headers: mutations are dropped (fact sheet §3).
    const headersHeld = ctx.mode.request_header_mode !== 'SKIP'
    if (headersHeld) {
      const result = applyHeaderMutation(this.headers, common.header_mutation,
        ctx.mutationContext(false, false))
      if (!result.ok) return ctx.processingError(result.error)
    }
    const mutation = common.body_mutation
    if (mutation !== undefined) {
      if (mutation.mutation === 'streamed_response') {
        this.deps.stats.spuriousMessages += 1
        return ctx.onFailure({ type: 'spurious' })
      }
      if (headersHeld && contentLengthMismatch(this.headers, mutation)) {
        return ctx.processingError(CONTENT_LENGTH_MISMATCH)
      }
      this.body = mutatedBody(mutation, this.body)
    }
    this.noteClearRouteCache(common)
    return 'continue'
  }

  // ---- upstream ----------------------------------------------------------------------------

  private async forward(): Promise<void> {
    const ctx = this.ctx
    let route = ctx.route as EmulatedRoute
    if (this.clearRouteCache) {
      const again = matchRoute(this.deps.options.routes, getHeader(this.headers, ':path') ?? '/')
      if (again === undefined) {
        ctx.localReply(404, 'route_not_found')
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
      ctx.stream?.close()
      if (!ctx.aborted) {
        ctx.localReply(503, 'upstream_reset_before_response_started{connection_failure}')
      }
      return
    }
    this.upstreamRes = response
    if (ctx.aborted) {
      response.destroy()
      return
    }
    await new ResponseFlow(ctx, response).run()
  }

  // ---- helpers -----------------------------------------------------------------------------

  private noteClearRouteCache(common: CommonResponseMsg): void {
    if (common.clear_route_cache !== true) return
    if (common.header_mutation === undefined) {
      this.deps.stats.clearRouteCacheIgnored += 1
    } else {
      this.clearRouteCache = true
    }
  }

  private payloadTooLarge(): Step {
    this.ctx.stream?.close()
    return this.ctx.localReply(413, 'request_payload_too_large',
      Buffer.from('Payload Too Large'))
  }

  /** Stops everything for this request: the Process stream and the upstream exchange. */
  abort(): void {
    if (this.ctx.aborted) return
    this.ctx.aborted = true
    this.ctx.stream?.close()
    this.upstreamReq?.destroy()
    this.upstreamRes?.destroy()
  }
}
