import { pino, type DestinationStream } from 'pino'

/** A pino destination that can be flushed. */
export interface FlushableDestination extends DestinationStream {
  /** Writes what is pending now, synchronously. */
  flush(): void
}

/**
 * A destination that writes the lines logged during one event-loop turn with one synchronous
 * write, at the end of that turn (`setImmediate`). A busy server logs one line per request;
 * one `write` system call per line was one of the largest costs of a request (see README,
 * Performance). Lines are never held longer than the current turn, keep their order, and what
 * is pending is written when the process exits.
 */
export function batchedDestination(target: DestinationStream): FlushableDestination {
  let pending: string[] = []
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (pending.length === 0) return
    const chunk = pending.length === 1 ? (pending[0] as string) : pending.join('')
    pending = []
    target.write(chunk)
  }
  return {
    write(line: string): void {
      pending.push(line)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush,
  }
}

let stdout: FlushableDestination | undefined

/** The process's batched stdout (one per process, flushed on exit). */
export function batchedStdout(): FlushableDestination {
  if (stdout === undefined) {
    const destination = batchedDestination(pino.destination({ dest: 1, sync: true }))
    process.on('exit', () => destination.flush())
    stdout = destination
  }
  return stdout
}
