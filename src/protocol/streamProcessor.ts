import { createHash, type Hash } from 'node:crypto'
import type { AwsCredentials, CallerContext } from '../credentials/index.js'
import { SignerError, type SignerErrorCode } from '../errors.js'
import { isJsonContentType, readJsonRpcId, type JsonRpcId } from '../mcp/index.js'
import { EMPTY_SHA256_HEX, sha256Hex } from '../signing/index.js'
import { errorReply } from './errorReply.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import { RequestHeaders, summaryFromHeaders } from './requestHeaders.js'
import {
  continueResponse,
  continueWithBodyMode,
  extendMessageTimeout,
  type HeaderChanges,
  type Phase,
} from './responses.js'
import { evaluateMcpRequest, routeNeedsMcp, type McpRequestOutcome, type McpSummary } from './mcpRequest.js'
import type { RequestOutcome, StreamDependencies, StreamSigningTarget } from './streamDependencies.js'
import { streamCredentialsOf, waitForCredentials, type StreamCredentials } from './streamCredentials.js'
import { asSignerError, bodyTooLarge, clientCaused } from './streamErrors.js'
import { ToolsListResponse } from './toolsListResponse.js'
import { metadataToPlain, structToPlain } from './structValues.js'

/** Key of the attributes map entry Envoy fills, whatever the filter's configured name. */
export const EXT_PROC_ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc'

/**
 * Where a stream is. One stream carries one HTTP request:
 * `awaiting_request_headers` → `passthrough` (no signing target) or
 * `awaiting_request_body` → `request_complete`; any local reply moves to `finished`.
 */
export type StreamState =
  | 'awaiting_request_headers'
  | 'passthrough'
  | 'awaiting_request_body'
  | 'request_complete'
  | 'finished'

/** How the processor talks back: responses, and ending the stream with OK. */
export interface StreamOutput {
  send(response: ProcessingResponseMessage): void
  finish(): void
}

/**
 * The per-stream state machine: reads the request headers, resolves the signing target, collects
 * the body, signs, and answers each message Envoy sends with the response of the matching type.
 * A message the current state does not allow throws `ERR_PROTOCOL_VIOLATION`; the stream loop
 * ends the stream with INVALID_ARGUMENT.
 */
export class StreamProcessor {
  private stateValue: StreamState = 'awaiting_request_headers'
  private headers = new RequestHeaders(undefined)
  private routeName = 'unknown'
  private target: StreamSigningTarget | undefined
  private deferredError: SignerError | undefined
  private credentials: StreamCredentials | undefined
  /** Created with the first of several body chunks; a body in one message is hashed in one call. */
  private bodyHash: Hash | undefined
  /** The body as received, by reference: hashed as it arrives, read only on MCP routes and for error ids. */
  private readonly bodyChunks: Buffer[] = []
  private bodyBytes = 0
  /** From `protocol_config`: true/false when Envoy told us, undefined for Envoy < 1.34. */
  private bufferedBodyMode: boolean | undefined
  /** Forwarded dynamic metadata (`metadata_context`) of the headers message, by namespace. */
  private metadata: Record<string, unknown> = {}
  private readonly startedAt: number
  /** What the request was, for metrics and logs; refined once the body is read. */
  private summary: McpSummary = { methodClass: 'unknown', tool: undefined }
  /** Rewrites `tools/list` results in the response, when the request asked for them. */
  private toolsListResponse: ToolsListResponse | undefined

  constructor(
    private readonly deps: StreamDependencies,
    private readonly callMetadata: Record<string, string | undefined>,
    private readonly out: StreamOutput,
  ) {
    this.startedAt = deps.monotonicMs()
  }

  get state(): StreamState {
    return this.stateValue
  }

  /** Envoy went away (cancel or end): nothing more is sent. */
  abandon(): void {
    this.stateValue = 'finished'
  }

  /**
   * Handles one message. Returns nothing when its response (if any) was sent synchronously —
   * the usual case: warm credentials, no MCP evaluation — and otherwise a promise that resolves
   * once it has been sent. A message the current state does not allow throws synchronously.
   */
  handle(message: ProcessingRequestMessage): void | Promise<void> {
    const kind = message.request
    switch (kind) {
      case 'request_headers':
        return this.onRequestHeaders(message)
      case 'request_body':
        return this.onRequestBody(message)
      case 'request_trailers':
        return this.onRequestTrailers()
      case 'response_headers':
      case 'response_body':
      case 'response_trailers':
        return this.onResponsePhase(kind, message)
      default:
        throw new SignerError(
          'ERR_PROTOCOL_VIOLATION',
          'unexpected ext_proc message: none of request_headers, request_body, request_trailers, ' +
            'response_headers, response_body, response_trailers is set',
        )
    }
  }

  private onRequestHeaders(message: ProcessingRequestMessage): void | Promise<void> {
    if (this.stateValue !== 'awaiting_request_headers') {
      throw this.violation('request_headers')
    }
    const request = message.request_headers ?? {}
    this.headers = new RequestHeaders(request.headers)
    this.summary = summaryFromHeaders(this.headers)
    const config = message.protocol_config
    this.bufferedBodyMode = config === undefined ? undefined : config.request_body_mode === 'BUFFERED'
    const attributes = structToPlain(message.attributes?.[EXT_PROC_ATTRIBUTES_KEY])
    this.metadata = metadataToPlain(message.metadata_context?.filter_metadata)
    const routeName = attributes['xds.route_name']
    if (typeof routeName === 'string' && routeName !== '') this.routeName = routeName
    try {
      this.target =
        this.deps.resolveTarget({
          callMetadata: this.callMetadata,
          attributes,
          requestPath: this.headers.path,
        }) ?? undefined
    } catch (err) {
      this.deferredError = asSignerError(err, 'ERR_ROUTE_METADATA_INVALID', 'cannot read route metadata')
    }
    if (this.target === undefined && this.deferredError === undefined) {
      this.stateValue = 'passthrough'
      this.report('passed_through', undefined)
      this.out.send(continueResponse('request_headers'))
      return
    }
    if (this.target !== undefined) this.routeName = this.target.routeName
    if (request.end_of_stream === true) return this.finishRequest('request_headers', EMPTY_SHA256_HEX)
    return this.expectBody(config?.request_body_mode, config?.response_body_mode)
  }

  private expectBody(requestMode: string | undefined, responseMode: string | undefined): void {
    const declared = Number(this.headers.get('content-length'))
    if (Number.isFinite(declared) && declared > this.deps.settings.maxBodyBytes) {
      return this.replyError(bodyTooLarge(this.deps.settings.maxBodyBytes))
    }
    this.startCredentialLookup()
    this.stateValue = 'awaiting_request_body'
    if (this.bufferedBodyMode !== false) {
      this.out.send(continueResponse('request_headers'))
      return
    }
    if (this.deps.settings.requestBodyModeOverride) {
      this.bufferedBodyMode = true
      this.out.send(continueWithBodyMode('BUFFERED', (responseMode ?? 'NONE') as 'NONE'))
      return
    }
    this.replyError(
      new SignerError(
        'ERR_BODY_MODE_UNSUPPORTED',
        `cannot sign the request body: Envoy's request_body_mode is ${requestMode ?? 'NONE'}, ` +
          'set it to BUFFERED (or enable allow_mode_override and server.request_body_mode_override)',
      ),
    )
  }

  private onRequestBody(message: ProcessingRequestMessage): void | Promise<void> {
    const body = message.request_body ?? {}
    switch (this.stateValue) {
      case 'passthrough':
        this.out.send(continueResponse('request_body'))
        return
      case 'awaiting_request_body':
        break
      default:
        throw this.violation('request_body')
    }
    const chunk = body.body ?? Buffer.alloc(0)
    this.bodyBytes += chunk.length
    if (this.bodyBytes > this.deps.settings.maxBodyBytes) {
      return this.replyError(bodyTooLarge(this.deps.settings.maxBodyBytes))
    }
    // BUFFERED sends the whole body in one message; end_of_stream is false only when trailers
    // follow. Without protocol_config (Envoy < 1.34) chunks are collected until end_of_stream.
    const complete = body.end_of_stream === true || this.bufferedBodyMode === true
    this.bodyChunks.push(chunk)
    if (complete && this.bodyHash === undefined) return this.finishRequest('request_body', sha256Hex(chunk))
    this.bodyHash ??= createHash('sha256')
    this.bodyHash.update(chunk)
    if (complete) return this.finishRequest('request_body', this.bodyHash.digest('hex'))
    this.out.send(continueResponse('request_body'))
  }

  private onRequestTrailers(): void {
    switch (this.stateValue) {
      case 'passthrough':
      case 'request_complete':
        this.out.send(continueResponse('request_trailers'))
        return
      case 'awaiting_request_body':
        return this.replyError(
          new SignerError(
            'ERR_BODY_MODE_UNSUPPORTED',
            'cannot sign the request: trailers arrived before the complete body; use request_body_mode BUFFERED',
          ),
        )
      default:
        throw this.violation('request_trailers')
    }
  }

  private onResponsePhase(phase: Extract<Phase, `response_${string}`>, message: ProcessingRequestMessage): void {
    if (this.stateValue !== 'passthrough' && this.stateValue !== 'request_complete') {
      throw this.violation(phase)
    }
    const rewriter = this.toolsListResponse
    if (rewriter !== undefined && phase === 'response_headers') return this.out.send(rewriter.onResponseHeaders(message))
    if (rewriter !== undefined && phase === 'response_body') return this.out.send(rewriter.onResponseBody(message))
    this.out.send(continueResponse(phase))
  }

  private finishRequest(phase: 'request_headers' | 'request_body', payloadHash: string): void | Promise<void> {
    if (this.deferredError !== undefined) return this.replyError(this.deferredError)
    const target = this.target as StreamSigningTarget
    if (phase === 'request_body' && routeNeedsMcp(target)) return this.finishMcpRequest(target, payloadHash)
    return this.signWhenReady(phase, target, target.identity, payloadHash, undefined)
  }

  /** Reads the JSON-RPC body (policy, identity override, tools/list), then signs. */
  private async finishMcpRequest(routeTarget: StreamSigningTarget, payloadHash: string): Promise<void> {
    let target = routeTarget
    let outcome: McpRequestOutcome
    try {
      outcome = await evaluateMcpRequest(this.deps.mcp, target, this.body(), this.caller())
    } catch (err) {
      return this.replyError(asSignerError(err, 'ERR_JSON_RPC_PARSE', 'cannot read the request body'))
    }
    if (this.abandoned()) return
    this.summary = outcome.summary
    if (outcome.kind === 'refuse') return this.refuse(outcome.reply, outcome.code)
    if (outcome.identity !== target.identity) {
      target = { ...target, identity: outcome.identity }
      this.target = target
      this.credentials = undefined
    }
    const body = outcome.body
    if (body !== undefined) payloadHash = sha256Hex(body)
    if (outcome.toolsList !== undefined) {
      this.toolsListResponse = new ToolsListResponse(outcome.toolsList, 'BUFFERED')
    }
    return this.signWhenReady('request_body', target, routeTarget.identity, payloadHash, body)
  }

  /** Signs now when the credentials are at hand (no promise, no await), else once they are. */
  private signWhenReady(
    phase: 'request_headers' | 'request_body',
    target: StreamSigningTarget,
    routeIdentity: string,
    payloadHash: string,
    body: Buffer | undefined,
  ): void | Promise<void> {
    if (this.credentials === undefined) this.startCredentialLookup()
    const handle = this.credentials
    if (this.deferredError === undefined && handle !== undefined && 'ready' in handle) {
      return this.signAndContinue(phase, target, routeIdentity, payloadHash, body, handle.ready)
    }
    return this.awaitCredentials().then(
      (credentials) => {
        if (this.abandoned()) return
        this.signAndContinue(phase, target, routeIdentity, payloadHash, body, credentials)
      },
      (err: unknown) =>
        this.replyError(
          asSignerError(err, 'ERR_CREDENTIALS_UNAVAILABLE', `cannot resolve credentials for identity "${target.identity}"`),
        ),
    )
  }

  private signAndContinue(
    phase: 'request_headers' | 'request_body',
    target: StreamSigningTarget,
    routeIdentity: string,
    payloadHash: string,
    body: Buffer | undefined,
    credentials: AwsCredentials,
  ): void {
    const started = this.deps.monotonicMs()
    let changes: HeaderChanges
    try {
      changes = this.deps.sign(
        {
          method: this.headers.method,
          target,
          contentType: this.headers.get('content-type'),
          payloadSha256Hex: payloadHash,
          signingDate: this.deps.now(),
          requestHeaderNames: this.headers.names(),
          stripHeaders: this.stripHeaders(routeIdentity, target.identity),
        },
        credentials,
      )
    } catch (err) {
      return this.replyError(asSignerError(err, 'ERR_SIGNING_FAILED', 'cannot sign the request'))
    }
    this.deps.observer.signed((this.deps.monotonicMs() - started) / 1000)
    this.stateValue = 'request_complete'
    // Nothing reads the body any more: let it go now rather than with the stream.
    this.bodyChunks.length = 0
    this.report('signed', undefined)
    if (body === undefined) {
      this.out.send(continueResponse(phase, changes))
      return
    }
    // The body changed: Envoy keeps content-length in BUFFERED mode and rejects a mismatch.
    const withLength = { set: [...changes.set, ['content-length', String(body.length)] as const], remove: changes.remove }
    this.out.send(continueResponse(phase, withLength, body))
  }

  /** The route's own token header and that of an identity a call switched to. */
  private stripHeaders(routeIdentity: string, identity: string): readonly string[] {
    const route = this.deps.headersToStrip(routeIdentity)
    if (identity === routeIdentity) return route
    return [...new Set([...route, ...this.deps.headersToStrip(identity)])]
  }

  /** A local reply decided by the MCP layer (policy or override refusal). */
  private refuse(reply: ProcessingResponseMessage, code: SignerErrorCode): void {
    this.report(code === 'ERR_JSON_RPC_PARSE' ? 'rejected' : 'denied', code)
    this.stateValue = 'finished'
    this.out.send(reply)
    this.out.finish()
  }

  private caller(): CallerContext {
    const headers = this.headers
    return { header: (name) => headers.get(name), metadata: this.metadata }
  }

  private startCredentialLookup(): void {
    if (this.target === undefined || this.credentials !== undefined) return
    try {
      this.credentials = streamCredentialsOf(this.deps.lookupIdentity(this.target.identity, this.caller()))
    } catch (err) {
      this.deferredError ??= asSignerError(err, 'ERR_IDENTITY_UNKNOWN', 'cannot resolve the identity')
    }
  }

  private async awaitCredentials(): Promise<AwsCredentials> {
    if (this.deferredError !== undefined) throw this.deferredError
    return waitForCredentials(this.credentials as StreamCredentials, {
      waitMs: this.deps.settings.credentialWaitTimeoutMs,
      extendTimeout: (waitMs) => {
        if (!this.abandoned()) this.out.send(extendMessageTimeout(waitMs))
      },
    })
  }

  private replyError(error: SignerError): void {
    if (this.stateValue === 'finished') return
    const outcome: RequestOutcome = clientCaused(error.code) ? 'rejected' : 'error'
    this.report(outcome, error.code)
    this.stateValue = 'finished'
    this.out.send(errorReply({ code: error.code, message: error.message, ...this.jsonRpcIdField() }))
    this.out.finish()
  }

  /** JSON-RPC POSTs get a JSON-RPC error with the request's id; other requests a plain JSON error. */
  private jsonRpcIdField(): { jsonRpcId?: JsonRpcId } {
    if (this.headers.method !== 'POST' || !isJsonContentType(this.headers.get('content-type'))) return {}
    const complete = this.bodyChunks.length > 0 && this.bodyBytes <= this.deps.settings.maxBodyBytes
    return { jsonRpcId: complete ? readJsonRpcId(this.body()) : null }
  }

  /**
   * The request body. BUFFERED mode delivers it in one message, which is used as it is: the body
   * is only copied when it came in several chunks (Envoy < 1.34 without protocol_config).
   */
  private body(): Buffer {
    return this.bodyChunks.length === 1 ? (this.bodyChunks[0] as Buffer) : Buffer.concat(this.bodyChunks)
  }

  private report(outcome: RequestOutcome, errorCode: string | undefined): void {
    this.deps.observer.requestFinished({
      routeName: this.routeName,
      method: this.headers.method,
      methodClass: this.summary.methodClass,
      tool: this.summary.tool,
      identity: this.target?.identity,
      outcome,
      errorCode,
      durationMs: this.deps.monotonicMs() - this.startedAt,
      bodyBytes: this.bodyBytes,
      target: this.target,
    })
  }

  /** Re-read after each await: the stream may have been cancelled meanwhile. */
  private abandoned(): boolean {
    return this.stateValue === 'finished'
  }

  private violation(received: Phase): SignerError {
    return new SignerError(
      'ERR_PROTOCOL_VIOLATION',
      `unexpected ext_proc message ${received} in state ${this.stateValue}: expected ${this.expected()}`,
    )
  }

  private expected(): string {
    switch (this.stateValue) {
      case 'awaiting_request_headers':
        return 'request_headers first (Envoy needs request_header_mode: SEND)'
      case 'awaiting_request_body':
        return 'request_body'
      case 'passthrough':
      case 'request_complete':
        return 'response_headers, response_body or trailers (request_headers arrive once)'
      case 'finished':
        return 'nothing: the request was answered locally'
    }
  }
}

