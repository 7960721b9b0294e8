/**
 * ext_proc's encoder half for one upstream response (fact sheet §3, §4, §5, §6, §7, §9, §10):
 * `response_headers` with `:status` first, its reply's header mutations and `mode_override`,
 * then the body by `response_body_mode` — NONE passed through, BUFFERED held and sent in one
 * `response_body`, STREAMED chunk by chunk (`streamedResponse.ts`) — and finally what the
 * downstream client gets. Order of steps: `Filter::encodeHeaders` / `onData` and
 * `ProcessorState::handleHeadersResponse` / `handleBodyResponse`.
 */
import type { IncomingMessage } from 'node:http'
import { CONTENT_LENGTH_MISMATCH, contentLengthMismatch, mutatedBody } from './bodyMutations.js'
import { DownstreamWriter } from './downstreamWriter.js'
import type { ExtProcStream } from './extProcStream.js'
import type { FlowContext, Step } from './flowContext.js'
import { buildResponseHeaders, removeHeader, toHeaderMap } from './headerMap.js'
import { applyHeaderMutation } from './headerMutations.js'
import { removesContentLength } from './modes.js'
import { StreamedResponse, UPSTREAM_RESET } from './streamedResponse.js'
import type { CommonResponseMsg, HeaderEntry, ProcessingResponseMsg } from './types.js'
import { UpstreamBody } from './upstreamBody.js'

/** Relays one upstream response through the encoder half of the filter. */
export class ResponseFlow {
  private readonly headers: HeaderEntry[]
  /** `HttpHeaders.end_of_stream` / `no_body_`: HEAD, 204, 304, `content-length: 0`. */
  private readonly noBody: boolean
  private readonly writer: DownstreamWriter
  private readonly body: UpstreamBody
  private replacedBody: Buffer | undefined

  constructor(private readonly ctx: FlowContext, private readonly upstream: IncomingMessage) {
    const status = upstream.statusCode ?? 502
    this.headers = buildResponseHeaders(status, upstream.rawHeaders)
    this.noBody = ctx.record.method === 'HEAD' || status === 204 || status === 304 ||
      upstream.headers['content-length'] === '0'
    this.writer = new DownstreamWriter(ctx, this.headers, this.noBody)
    this.body = new UpstreamBody(upstream, ctx.deps.options.bufferLimitBytes,
      () => ctx.mode.response_body_mode === 'BUFFERED')
  }

  /** Runs until the response is written (or replaced, or reset). */
  async run(): Promise<void> {
    const ctx = this.ctx
    if (ctx.stream?.usable !== true) {
      // ext_proc is done with this request (closed, failed open, server OK close, disabled).
      ctx.record.responseBodyMode = 'NONE'
      this.passThrough()
      return
    }
    this.body.start()
    if (ctx.mode.response_header_mode !== 'SKIP') {
      if (await this.headersPhase() === 'stop') {
        this.drop()
        return
      }
    } else if (removesContentLength(ctx.mode.response_body_mode, 'SKIP')) {
      removeHeader(this.headers, 'content-length')
    }
    const mode = ctx.stream?.usable === true ? ctx.mode.response_body_mode : 'NONE'
    ctx.record.responseBodyMode = mode
    // closeGrpcStreamIfLastRespReceived after response_headers: no body, or nothing to send.
    if (this.noBody || mode === 'NONE') ctx.stream?.close()
    if (this.replacedBody !== undefined) return this.replaced(this.replacedBody)
    // A body-less response sends no body message in any mode (checklist 5).
    if (this.noBody) return this.passThrough()
    if (mode === 'BUFFERED') return this.buffered()
    if (mode === 'STREAMED') return this.streamed()
    return this.passThrough()
  }

  // ---- response headers --------------------------------------------------------------------

  private async headersPhase(): Promise<Step> {
    const ctx = this.ctx
    const message = ctx.message({ response_headers: { headers: toHeaderMap(this.headers),
      ...(this.noBody ? { end_of_stream: true } : {}) } }, false)
    const exchange = (ctx.stream as ExtProcStream).exchange(message, 'response_headers')
    // encodeHeaders removes content-length after sending, by the mode before the reply (§6).
    if (removesContentLength(ctx.mode.response_body_mode, 'SEND')) {
      removeHeader(this.headers, 'content-length')
    }
    const overflow = this.body.overflow.then(() => 'overflow' as const)
    const outcome = await Promise.race([exchange, overflow])
    if (outcome === 'overflow') return this.payloadTooLarge()
    if (outcome.type !== 'response') return ctx.onFailure(outcome)
    return this.onHeadersResponse(outcome.response)
  }

  private onHeadersResponse(response: ProcessingResponseMsg): Step {
    const ctx = this.ctx
    if (ctx.applyModeOverride(response, 'response') === 'stop') return 'stop'
    const common: CommonResponseMsg = response.response_headers?.response ?? {}
    const result = applyHeaderMutation(this.headers, common.header_mutation,
      ctx.mutationContext(ctx.mode.response_body_mode !== 'BUFFERED', false))
    if (!result.ok) return ctx.processingError(result.error)
    // clear_route_cache is a decoder-only action: ignored here (EncodingProcessorState).
    if (common.status === 'CONTINUE_AND_REPLACE') {
      // No further response-direction messages; a body mutation replaces the body (§9).
      ctx.mode.response_body_mode = 'NONE'
      if (common.body_mutation !== undefined) {
        removeHeader(this.headers, 'content-length')
        this.replacedBody = mutatedBody(common.body_mutation, this.body.takeHeld())
      }
    }
    return 'continue'
  }

  // ---- bodies ------------------------------------------------------------------------------

  /** NONE (or ext_proc done): what was held, then everything else as it comes. */
  private passThrough(): void {
    if (!this.writer.writeHead()) {
      this.drop()
      return
    }
    this.writer.write(this.body.takeHeld())
    this.body.forward({
      data: (chunk) => { if (!this.writer.write(chunk)) this.waitForDrain() },
      end: () => this.writer.end(),
      aborted: () => this.upstreamReset(),
    })
  }

  private replaced(body: Buffer): void {
    // Later upstream data is drained ("Clearing body chunk because CONTINUE_AND_REPLACE").
    this.body.forward({ data: () => undefined, end: () => undefined, aborted: () => undefined })
    this.writer.end(body)
  }

  private async buffered(): Promise<void> {
    const ctx = this.ctx
    // With header SKIP the headers went on at encodeHeaders; only the body is held (§3).
    const headersHeld = ctx.mode.response_header_mode !== 'SKIP'
    if (!headersHeld && !this.writer.writeHead()) return this.drop()
    const read = await this.body.readToEnd()
    if (read === 'overflow') {
      this.payloadTooLarge()
      return
    }
    if (read === 'aborted') return this.upstreamReset()
    await this.exchangeWhole(read, headersHeld, false)
  }

  private async streamed(): Promise<void> {
    if (this.body.ended) {
      // handleHeadersResponse: the whole body arrived while the headers call was outstanding,
      // so Envoy sends it in one message, handled like a BUFFERED body (BufferedBodyCallback).
      const headersHeld = this.ctx.mode.response_header_mode !== 'SKIP'
      return this.exchangeWhole(this.body.takeHeld(), headersHeld, true)
    }
    await new StreamedResponse(this.ctx, this.body, this.writer, this.upstream).run()
  }

  /** One `response_body{body, end_of_stream: true}`, its reply, then the response (§6). */
  private async exchangeWhole(body: Buffer, headersHeld: boolean, skipContentLength: boolean):
    Promise<void> {
    const ctx = this.ctx
    const message = ctx.message({ response_body: body.length > 0
      ? { body, end_of_stream: true }
      : { end_of_stream: true } }, false)
    const outcome = await (ctx.stream as ExtProcStream).exchange(message, 'response_body')
    let final: Buffer | undefined = body
    if (outcome.type === 'response') {
      final = this.onWholeBodyResponse(outcome.response, body, headersHeld, skipContentLength)
    } else if (ctx.onFailure(outcome) === 'stop') {
      final = undefined
    }
    if (final === undefined) return
    this.writer.end(final)
    // No early close after a BUFFERED body reply; Envoy closes when the filter is destroyed.
    ctx.stream?.close()
  }

  /** `handleBufferedBodyCallback`; `undefined` when the request ended with a reply or reset. */
  private onWholeBodyResponse(response: ProcessingResponseMsg, body: Buffer,
    headersHeld: boolean, skipContentLength: boolean): Buffer | undefined {
    const ctx = this.ctx
    const common: CommonResponseMsg = response.response_body?.response ?? {}
    // Without held headers (header SKIP) mutations are dropped (fact sheet §3).
    if (headersHeld) {
      const result = applyHeaderMutation(this.headers, common.header_mutation,
        ctx.mutationContext(skipContentLength, false))
      if (!result.ok) {
        ctx.processingError(result.error)
        return undefined
      }
    }
    const mutation = common.body_mutation
    if (mutation === undefined) return body
    if (mutation.mutation === 'streamed_response') {
      ctx.deps.stats.spuriousMessages += 1
      return ctx.onFailure({ type: 'spurious' }) === 'stop' ? undefined : body
    }
    if (headersHeld && contentLengthMismatch(this.headers, mutation)) {
      ctx.processingError(CONTENT_LENGTH_MISMATCH)
      return undefined
    }
    return mutatedBody(mutation, body)
  }

  // ---- endings -----------------------------------------------------------------------------

  /** `responseDataTooLarge`: a 500 local reply (or a reset once headers went downstream). */
  private payloadTooLarge(): Step {
    this.ctx.stream?.close()
    this.drop()
    return this.ctx.localReply(500, 'response_payload_too_large',
      Buffer.from('Internal Server Error'), [{ key: 'content-type', value: 'text/plain' }])
  }

  private upstreamReset(): void {
    this.ctx.stream?.close()
    this.ctx.resetDownstream(UPSTREAM_RESET)
  }

  private waitForDrain(): void {
    this.upstream.pause()
    this.ctx.res.once('drain', () => this.upstream.resume())
  }

  private drop(): void {
    this.body.detach()
    this.upstream.destroy()
  }
}
