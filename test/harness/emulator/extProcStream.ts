/**
 * One `ExternalProcessor/Process` call as Envoy's ext_proc client drives it (fact sheet §7, §10,
 * checklist 1, 2, 4, 9–12): opened lazily on the first message, responses matched to messages
 * in order, one message timer, `override_message_timeout` honoured once per call, and closed by
 * half-close followed by cancellation.
 *
 * Usually exactly one message is outstanding. STREAMED bodies pipeline: every chunk is sent as it
 * arrives (`handleDataStreamedMode`), so several `response_body` messages may be outstanding; each
 * reply answers the oldest. Like Envoy's `ProcessorState`, there is a single timer: every send
 * restarts it (`onStartProcessorCall`) and every reply stops it (`onFinishProcessorCall`), even
 * when older messages are still outstanding.
 */
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js'
import type { Client, ClientDuplexStream, ServiceError, StatusObject } from '@grpc/grpc-js'
import type {
  EmulatedRequestRecord, EmulatorStats, ProcessingRequestMsg, ProcessingResponseMsg, ResponseCase,
} from './types.js'

/** How waiting for one response ended. */
export type ExchangeOutcome =
  | { type: 'response'; response: ProcessingResponseMsg }
  | { type: 'immediate'; response: ProcessingResponseMsg }
  | { type: 'spurious' }
  | { type: 'timeout' }
  | { type: 'closed-ok' }
  | { type: 'grpc-error'; code: number; details: string }
  /** The emulator itself closed the stream (client abort, 413) while waiting. */
  | { type: 'cancelled' }

/** Serialises a request the way the server will decode it (for the records). */
export interface MessageCodec {
  roundTrip(message: ProcessingRequestMsg): ProcessingRequestMsg
}

/** What a stream needs from the emulator. */
export interface StreamDeps {
  client: Client & { Process(metadata: Metadata): ClientDuplexStream<unknown, unknown> }
  codec: MessageCodec
  stats: EmulatorStats
  record: EmulatedRequestRecord
  metadata: Record<string, string>
  messageTimeoutMs: number
  maxMessageTimeoutMs: number
  /**
   * Runtime guard `envoy.reloadable_features.ext_proc_graceful_grpc_close` (off by default):
   * half-close and wait up to 1000 ms (`remote_close_timeout_milliseconds`) for the server to
   * end the stream, resetting it only if it does not. Off: half-close, then reset at once.
   */
  gracefulClose?: boolean
}

/** `envoy.filters.http.ext_proc.remote_close_timeout_milliseconds` default (fact sheet §10). */
const REMOTE_CLOSE_TIMEOUT_MS = 1000

interface Pending {
  expect: ResponseCase
  resolve: (outcome: ExchangeOutcome) => void
}

/** The per-HTTP-request Process stream. */
export class ExtProcStream {
  private call: ClientDuplexStream<unknown, unknown> | undefined
  private state: 'new' | 'open' | 'ended' | 'closed' = 'new'
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  /** `new_timeout_received_`: reset by every send and every reply. */
  private timeoutOverridden = false
  private idleOutcome: ExchangeOutcome | undefined
  private sentCount = 0

  constructor(private readonly deps: StreamDeps) {}

  /** True until the server ended the stream or the emulator closed it. */
  get usable(): boolean {
    return (this.state === 'new' || this.state === 'open') && this.idleOutcome === undefined
  }

  /** True before the first message was written: it must carry `protocol_config`. */
  get isFirstMessage(): boolean {
    return this.sentCount === 0
  }

  /**
   * Sends one message and resolves with its response (responses answer messages in order). An
   * outcome recorded while no message was outstanding (spurious message, server close) is
   * returned instead, without writing.
   */
  exchange(message: ProcessingRequestMsg, expect: ResponseCase): Promise<ExchangeOutcome> {
    if (this.idleOutcome !== undefined) return Promise.resolve(this.idleOutcome)
    if (this.state === 'ended') return Promise.resolve({ type: 'closed-ok' })
    if (this.state === 'closed') return Promise.resolve({ type: 'cancelled' })
    const call = this.open()
    this.sentCount += 1
    this.deps.record.sent.push(this.deps.codec.roundTrip(message))
    return new Promise((resolve) => {
      this.pending.push({ expect, resolve })
      this.startTimer(this.deps.messageTimeoutMs)
      this.timeoutOverridden = false
      call.write(message)
    })
  }

  /**
   * Envoy's `close()`: half-close, then reset (the server sees `end`, then `cancelled`); with
   * `gracefulClose`, half-close and reset only if the server has not ended the stream in time.
   */
  close(): void {
    const wasOpen = this.state === 'open'
    this.state = 'closed'
    this.settleAll({ type: 'cancelled' })
    if (wasOpen && this.call !== undefined) {
      this.deps.record.streamEnd ??= 'emulator-closed'
      const call = this.call
      call.end()
      if (this.deps.gracefulClose !== true) {
        call.cancel()
        return
      }
      const timer = setTimeout(() => call.cancel(), REMOTE_CLOSE_TIMEOUT_MS)
      call.on('status', () => clearTimeout(timer))
    }
  }

  private open(): ClientDuplexStream<unknown, unknown> {
    if (this.call !== undefined) return this.call
    const metadata = new Metadata()
    // Envoy's async client adds these two; initial_metadata (filter, then route) follows.
    metadata.set('x-envoy-internal', 'true')
    metadata.set('x-forwarded-for', '127.0.0.1')
    for (const [key, value] of Object.entries(this.deps.metadata)) metadata.set(key, value)
    const call = this.deps.client.Process(metadata)
    this.call = call
    this.state = 'open'
    this.deps.stats.streamsOpened += 1
    this.deps.record.streamOpened = true
    call.on('data', (message: ProcessingResponseMsg) => this.onMessage(message))
    call.on('status', (status: StatusObject) => this.onStatus(status))
    // Errors are reported through 'status' as well; this listener only keeps Node quiet.
    call.on('error', (_err: ServiceError) => undefined)
    return call
  }

  private startTimer(ms: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.onTimeout(), ms)
  }

  private stopTimer(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Answers the oldest outstanding message; stops the timer as `onFinishProcessorCall` does. */
  private settle(outcome: ExchangeOutcome): void {
    const head = this.pending.shift()
    if (head === undefined) return
    this.stopTimer()
    this.timeoutOverridden = false
    head.resolve(outcome)
  }

  private settleAll(outcome: ExchangeOutcome): void {
    this.stopTimer()
    const all = this.pending.splice(0)
    for (const pending of all) pending.resolve(outcome)
  }

  private onMessage(message: ProcessingResponseMsg): void {
    if (this.state === 'closed') return
    this.deps.record.received.push(message)
    if (message.override_message_timeout !== undefined) {
      // Fact sheet §7: every other field of such a message is ignored (early return), and the
      // override only applies while a message timer runs.
      this.onNewTimeout(message.override_message_timeout)
      return
    }
    const head = this.pending[0]
    if (head === undefined) {
      this.deps.stats.spuriousMessages += 1
      this.idleOutcome ??= { type: 'spurious' }
      return
    }
    if (message.response === 'immediate_response') {
      this.settle({ type: 'immediate', response: message })
    } else if (message.response === head.expect) {
      this.settle({ type: 'response', response: message })
    } else {
      this.deps.stats.spuriousMessages += 1
      this.settle({ type: 'spurious' })
    }
  }

  private onNewTimeout(duration: { seconds?: number; nanos?: number }): void {
    this.deps.stats.overrideMessageTimeoutReceived += 1
    const ms = (duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6
    // `restartMessageTimer`: only while the timer runs, once per call, 1 ms ≤ ms ≤ max.
    if (this.timer === undefined || this.timeoutOverridden || ms < 1 ||
      ms > this.deps.maxMessageTimeoutMs) {
      this.deps.stats.overrideMessageTimeoutIgnored += 1
      return
    }
    this.timeoutOverridden = true
    this.startTimer(ms)
  }

  private onTimeout(): void {
    this.timer = undefined
    this.deps.stats.messageTimeouts += 1
    this.settle({ type: 'timeout' })
  }

  private onStatus(status: StatusObject): void {
    if (this.state === 'closed') return
    this.state = 'ended'
    this.deps.record.grpcStatus = { code: status.code, details: status.details }
    const ok = status.code === GrpcStatus.OK
    this.deps.record.streamEnd = ok ? 'server-ok' : 'server-error'
    const outcome: ExchangeOutcome = ok
      ? { type: 'closed-ok' }
      : { type: 'grpc-error', code: status.code, details: status.details }
    if (this.pending.length > 0) {
      this.settleAll(outcome)
    } else if (!ok) {
      this.idleOutcome ??= outcome
    }
  }
}
