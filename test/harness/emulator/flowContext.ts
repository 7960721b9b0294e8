/**
 * What one downstream request shares between the decoder (request) and encoder (response)
 * halves of the emulated ext_proc filter: the Process stream, the processing mode after any
 * `mode_override`, the record, the messages' common fields, and the ways a request ends early —
 * a local reply while no response headers went downstream, a reset afterwards (fact sheet §4,
 * §7, §8, §10).
 */
import type { Agent, ServerResponse } from 'node:http'
import { ATTRIBUTES_KEY, evaluateAttributes } from './attributes.js'
import type { ExchangeOutcome, ExtProcStream, MessageCodec, StreamDeps } from './extProcStream.js'
import { removeHeader } from './headerMap.js'
import { applyHeaderMutation } from './headerMutations.js'
import type { MutationContext } from './headerMutations.js'
import { effectiveMode, unsupportedMode, unsupportedResponseMode } from './modes.js'
import type {
  EmulatedRequestRecord, EmulatedRoute, EmulatorStats, HeaderEntry, ImmediateResponseMsg,
  MutationRules, ProcessingMode, ProcessingRequestMsg, ProcessingResponseMsg,
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

/** Whether a phase lets the request go on. */
export type Step = 'continue' | 'stop'

/** Which half of the filter received a headers response with a `mode_override`. */
export type Direction = 'request' | 'response'

const EMPTY = Buffer.alloc(0)

/** Per-request state and replies shared by `RequestFlow` and `ResponseFlow`. */
export class FlowContext {
  route: EmulatedRoute | undefined
  stream: ExtProcStream | undefined
  /** The mode in force: the filter's, replaced by an honoured `mode_override`. */
  mode: ProcessingMode
  /** Set once the client went away or the emulator gave up on the request. */
  aborted = false
  private attributesSent = false

  constructor(readonly deps: FlowDeps, readonly res: ServerResponse,
    readonly record: EmulatedRequestRecord) {
    this.mode = { ...deps.options.processingMode }
  }

  /**
   * Adds the common fields: `metadata_context` always, `attributes` on the first
   * request-direction message, `protocol_config` on the first message of the stream.
   */
  message(request: ProcessingRequestMsg, requestDirection: boolean): ProcessingRequestMsg {
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

  mutationContext(skipContentLength: boolean, allowMethod: boolean): MutationContext {
    return { rules: this.deps.options.mutationRules, stats: this.deps.stats, skipContentLength,
      allowMethod }
  }

  /**
   * Applies an honoured `mode_override` of a headers response (fact sheet §4). A mode the
   * emulator cannot emulate for the direction still to come ends the request with a 500.
   */
  applyModeOverride(response: ProcessingResponseMsg, direction: Direction): Step {
    if (!this.deps.options.allowModeOverride || response.mode_override === undefined) {
      return 'continue'
    }
    this.mode = effectiveMode(this.deps.options.processingMode, response.mode_override)
    // At response-headers time the request direction is over: only the response part matters.
    const unsupported = direction === 'request'
      ? unsupportedMode(this.mode)
      : unsupportedResponseMode(this.mode)
    if (unsupported === undefined) return 'continue'
    this.stream?.close()
    return this.localReply(500, `emulator_cannot_emulate_${unsupported}`)
  }

  /** Envoy's handling of an exchange that ended without the expected response (§7, §8). */
  onFailure(outcome: ExchangeOutcome): Step {
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

  /** A mutation or validation error: always a 500 with the message as details. */
  processingError(message: string): Step {
    this.stream?.close()
    return this.localReply(500, message)
  }

  /**
   * `sendLocalReply`: the reply replaces the response while no response headers went
   * downstream; afterwards Envoy can only reset the stream (fact sheet §7).
   */
  localReply(status: number, details: string, body: Buffer = EMPTY,
    headers: HeaderEntry[] = [], immediate = false): Step {
    if (this.res.destroyed) return 'stop'
    if (this.res.headersSent) return this.resetDownstream(details)
    // Envoy's response code details never contain whitespace.
    const cleanDetails = details.replace(/\s/g, '_')
    this.record.localReply = { status, details: cleanDetails, body: body.toString('utf8'),
      immediate }
    this.record.responseStatus = status
    this.deps.stats.localReplies += 1
    removeHeader(headers, 'content-length')
    const flat = headers.filter((h) => !h.key.startsWith(':')).flatMap((h) => [h.key, h.value])
    this.res.writeHead(status, [...flat, 'content-length', String(body.length)])
    this.res.end(body)
    return 'stop'
  }

  /**
   * Resets the downstream stream: for the HTTP/1.1 client the connection closes without (the
   * rest of) a response. The first reason is recorded.
   */
  resetDownstream(details: string): Step {
    if (!this.res.destroyed) this.record.downstreamReset ??= details.replace(/\s/g, '_')
    this.res.destroy()
    return 'stop'
  }

  private failOpenOr(status: number, details: string): Step {
    if (this.deps.options.failureModeAllow) {
      this.deps.stats.failureModeAllowed += 1
      return 'continue'
    }
    return this.localReply(status, details)
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
}
