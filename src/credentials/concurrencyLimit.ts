/** Runs `task` when a slot is free; `signal` aborts the wait. */
export type Limited = <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T>

/**
 * A limiter: at most `max` tasks run at once; the others wait in arrival order. A waiting task
 * whose `signal` aborts leaves the queue and rejects with the signal's reason, as the task itself
 * would have (e.g. `AbortSignal.timeout` → `TimeoutError`).
 */
export function concurrencyLimit(max: number): Limited {
  let running = 0
  const waiting: Array<() => void> = []
  const release = (): void => {
    running -= 1
    waiting.shift()?.()
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
    if (running < max) return start()
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
    })
  }
}
