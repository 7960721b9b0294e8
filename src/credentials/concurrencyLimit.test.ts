import { describe, expect, it } from 'vitest'
import { concurrencyLimit } from './concurrencyLimit.js'

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('concurrencyLimit', () => {
  it('runs at most max tasks at once, the others in arrival order', async () => {
    const limit = concurrencyLimit(2)
    const gates = [deferred<number>(), deferred<number>(), deferred<number>(), deferred<number>()]
    const started: number[] = []
    const results = gates.map((gate, i) => limit(() => (started.push(i), gate.promise)))
    const firstOutcome = (results[0] as Promise<number>).then(String, (err: Error) => err.message)
    await settle()
    expect(started).toEqual([0, 1])
    gates[1]?.resolve(1)
    await settle()
    expect(started).toEqual([0, 1, 2])
    gates[0]?.reject(new Error('failed'))
    await settle()
    expect(started).toEqual([0, 1, 2, 3])
    gates[2]?.resolve(2)
    gates[3]?.resolve(3)
    expect(await firstOutcome).toBe('failed')
    expect(await Promise.all(results.slice(1))).toEqual([1, 2, 3])
  })

  it('rejects a waiting task whose signal aborts, with the signal\'s reason, and never starts it', async () => {
    const limit = concurrencyLimit(1)
    const gate = deferred<string>()
    const first = limit(() => gate.promise)
    const controller = new AbortController()
    let started = false
    const second = limit(async () => {
      started = true
      return 'second'
    }, controller.signal)
    controller.abort(new DOMException('timed out', 'TimeoutError'))
    await expect(second).rejects.toMatchObject({ name: 'TimeoutError' })
    const third = limit(async () => 'third')
    gate.resolve('first')
    expect(await first).toBe('first')
    expect(await third).toBe('third')
    expect(started).toBe(false)
    await expect(limit(async () => 'x', AbortSignal.abort(new Error('already')))).resolves.toBe('x')
  })

  it('turns a task that throws synchronously into a rejection and frees its slot', async () => {
    const limit = concurrencyLimit(1)
    await expect(limit(() => {
      throw new Error('sync')
    })).rejects.toThrow('sync')
    expect(await limit(async () => 'next')).toBe('next')
  })

  describe('paced', () => {
    it('starts at most one task per event-loop turn, however many slots are free', async () => {
      const limit = concurrencyLimit(10, { paced: true })
      const started: number[] = []
      const results = [0, 1, 2].map((i) => limit(async () => (started.push(i), i)))
      expect(started).toEqual([]) // nothing starts synchronously
      await settle()
      expect(started).toEqual([0])
      await settle()
      expect(started).toEqual([0, 1])
      await settle()
      expect(started).toEqual([0, 1, 2])
      expect(await Promise.all(results)).toEqual([0, 1, 2])
    })

    it('lets other callbacks of the loop run between two starts', async () => {
      const limit = concurrencyLimit(10, { paced: true })
      const events: string[] = []
      const results = [0, 1].map((i) =>
        limit(async () => {
          events.push(`start ${i}`)
          if (i !== 0) return
          // A timer that is due by the end of this start stands for I/O that became ready
          // meanwhile. (Waiting 3 ms makes sure it is due: timers have a 1 ms granularity.)
          setTimeout(() => events.push('timer'), 0)
          const until = performance.now() + 3
          while (performance.now() < until) {
            // busy-wait
          }
        }),
      )
      await Promise.all(results)
      expect(events).toEqual(['start 0', 'timer', 'start 1'])
    })

    it('still runs at most max at once, the next one a turn after a slot frees', async () => {
      const limit = concurrencyLimit(1, { paced: true })
      const gates = [deferred<number>(), deferred<number>()]
      const started: number[] = []
      const results = gates.map((gate, i) => limit(() => (started.push(i), gate.promise)))
      await settle()
      await settle()
      expect(started).toEqual([0])
      gates[0]?.resolve(0)
      await settle()
      await settle()
      expect(started).toEqual([0, 1])
      gates[1]?.resolve(1)
      expect(await Promise.all(results)).toEqual([0, 1])
    })

    it('rejects a task whose signal aborts before its turn, and one already aborted', async () => {
      const limit = concurrencyLimit(5, { paced: true })
      const controller = new AbortController()
      let started = false
      const waiting = limit(async () => {
        started = true
        return 'never'
      }, controller.signal)
      controller.abort(new DOMException('timed out', 'TimeoutError'))
      await expect(waiting).rejects.toMatchObject({ name: 'TimeoutError' })
      await expect(limit(async () => 'x', AbortSignal.abort(new Error('already')))).rejects.toThrow('already')
      expect(await limit(async () => 'after')).toBe('after')
      expect(started).toBe(false)
    })
  })
})
