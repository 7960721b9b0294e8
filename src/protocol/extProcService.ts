import { status as GrpcStatus, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js'
import { isSignerError } from '../errors.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import type { StreamDependencies } from './streamDependencies.js'
import { StreamProcessor } from './streamProcessor.js'
import { TurnBudget } from './turnBudget.js'

export type ProcessCall = ServerDuplexStream<ProcessingRequestMessage, ProcessingResponseMessage>

/** Stream-level events, for metrics. Implementations must not throw. */
export interface StreamLifecycleObserver {
  streamOpened(): void
  streamClosed(): void
  /** The stream ended with a non-OK gRPC status; `code` is the gRPC status name. */
  streamFailed(code: string): void
}

/** How the `Process` handler shares the event loop. */
export interface ProcessHandlerOptions {
  /**
   * Shared by all streams: once an event-loop turn has spent its budget handling messages, the
   * next ones wait for a later turn (see {@link TurnBudget}). Default: never defer.
   */
  readonly turnBudget?: TurnBudget
}

/**
 * The `Process` handler: one `StreamProcessor` per call, messages handled strictly in order, and
 * every way a stream can end mapped here — the only place that knows gRPC status codes.
 * Envoy half-closes and then cancels once it has the last response it needs; both are normal.
 * `currentDeps` may be a function: it is called once per stream (configuration reloads).
 */
export function createProcessHandler(
  currentDeps: StreamDependencies | (() => StreamDependencies),
  lifecycle: StreamLifecycleObserver,
  options: ProcessHandlerOptions = {},
): (call: ProcessCall) => void {
  const turns = options.turnBudget ?? new TurnBudget({ budgetMs: 0 })
  return (call) => {
    // Read once per stream: a configuration reload applies to new streams only.
    const deps = typeof currentDeps === 'function' ? currentDeps() : currentDeps
    lifecycle.streamOpened()
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      processor.abandon()
      lifecycle.streamClosed()
    }
    const out = {
      send(response: ProcessingResponseMessage): void {
        if (!closed && !call.cancelled) call.write(response)
      },
      finish(): void {
        if (closed) return
        close()
        if (!call.cancelled) call.end()
      },
    }
    const processor = new StreamProcessor(deps, flattenMetadata(call.metadata), out)
    const fail = (err: unknown): void => {
      if (closed) return
      const violation = isSignerError(err, 'ERR_PROTOCOL_VIOLATION')
      if (!violation) deps.observer.internalError(err)
      const code = violation ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL
      lifecycle.streamFailed(GrpcStatus[code])
      close()
      if (!call.cancelled) {
        call.emit('error', {
          code,
          details: violation ? (err as Error).message : 'internal error in the ext_proc server',
        })
      }
    }
    // Messages are handled strictly in order. Most are answered synchronously; while one waits
    // (credentials being fetched, a body being evaluated, a busy event-loop turn), later ones
    // queue behind it.
    let pending: Promise<void> | undefined
    const handleNow = (message: ProcessingRequestMessage): Promise<void> | undefined => {
      if (closed) return undefined
      try {
        return processor.handle(message)?.catch(fail)
      } catch (err) {
        fail(err)
        return undefined
      }
    }
    const handle = (message: ProcessingRequestMessage): void | Promise<void> => turns.run(() => handleNow(message))
    const settle = (tail: Promise<void>): void => {
      pending = tail
      void tail.then(() => {
        if (pending === tail) pending = undefined
      })
    }
    call.on('data', (message: ProcessingRequestMessage) => {
      if (pending === undefined) {
        const waiting = handle(message)
        if (waiting !== undefined) settle(waiting)
        return
      }
      settle(pending.then(() => handle(message)))
    })
    call.on('end', () => {
      // The client half-closed: answer what is queued, then end with OK.
      if (pending === undefined) out.finish()
      else settle(pending.then(() => out.finish()))
    })
    call.on('cancelled', close)
    call.on('error', close)
  }
}

/** gRPC call metadata as lower-case name → first text value (binary `-bin` entries skipped). */
function flattenMetadata(metadata: Metadata): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {}
  for (const [key, values] of Object.entries(metadata.getMap())) {
    if (typeof values === 'string') result[key.toLowerCase()] = values
  }
  return result
}
