/** Runs `task` when a slot is free; `signal` aborts the wait. */
export type Limited = <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T>

/** How a {@link concurrencyLimit} starts tasks. */
export interface LimitOptions {
  /**
   * Start at most one task per event-loop turn (from `setImmediate`), even when several slots
   * are free. For tasks whose start is CPU-heavy (an AWS SDK call spends about a millisecond
   * before anything is sent): a burst of them then never blocks the loop for longer than one
   * start, requests already served from cache keep flowing between starts, and answers that
   * come back after the same delay arrive spread out as well. Costs one loop turn per task.
   */
  readonly paced?: boolean
}

/**
 * A limiter: at most `max` tasks run at once; the others wait in arrival order. A waiting task
 * whose `signal` aborts leaves the queue and rejects with the signal's reason, as the task itself
 * would have (e.g. `AbortSignal.timeout` → `TimeoutError`); so does a task whose signal has
 * aborted before it could start.
 */
export function concurrencyLimit(max: number, options: LimitOptions = {}): Limited {
  const paced = options.paced === true
  let running = 0
  const waiting: Array<() => void> = []
  let pumpScheduled = false
  const pump = (): void => {
    pumpScheduled = false
    if (running < max) waiting.shift()?.()
    if (waiting.length > 0 && running < max) schedulePump()
  }
  const schedulePump = (): void => {
    if (pumpScheduled) return
    pumpScheduled = true
    setImmediate(pump)
  }
  const release = (): void => {
    running -= 1
    if (paced) schedulePump()
    else waiting.shift()?.()
  }
  return <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const start = (): Promise<T> => {
      running += 1
      let result: Promise<T>
      try {
        result = task()
      } catch (err) {
        result = Promise.reject(err)
      }
      return result.finally(release)
    }
    if (!paced && running < max) return start()
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const index = waiting.indexOf(go)
        if (index >= 0) waiting.splice(index, 1)
        reject(signal?.reason)
      }
      const go = (): void => {
        signal?.removeEventListener('abort', onAbort)
        start().then(resolve, reject)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      waiting.push(go)
      if (paced) schedulePump()
    })
  }
}
