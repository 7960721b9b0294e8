import { describe, expect, it } from 'vitest'
import { TurnBudget } from './turnBudget.js'

/** A clock the work advances, and an `afterIo` queue the test flushes turn by turn. */
function harness(budgetMs: number) {
  let now = 0
  const turnEnds: Array<() => void> = []
  let deferred = 0
  const budget = new TurnBudget({
    budgetMs,
    monotonicMs: () => now,
    afterIo: (callback) => turnEnds.push(callback),
    onDeferred: () => (deferred += 1),
  })
  const ran: string[] = []
  /** Work that takes `ms` of the fake clock. */
  const work = (name: string, ms: number) => () => {
    ran.push(name)
    now += ms
  }
  /** Ends the current turn: runs what was scheduled after its I/O. */
  const endTurn = async (): Promise<void> => {
    const callbacks = turnEnds.splice(0)
    for (const callback of callbacks) callback()
    await Promise.resolve()
  }
  return { budget, ran, work, endTurn, turnEnds, deferred: () => deferred }
}

describe('TurnBudget', () => {
  it('runs work at once, synchronously, while the turn has budget left', () => {
    const h = harness(4)
    expect(h.budget.run(h.work('a', 1))).toBeUndefined()
    expect(h.budget.run(h.work('b', 2))).toBeUndefined()
    expect(h.ran).toEqual(['a', 'b'])
    expect(h.deferred()).toBe(0)
    // One end-of-turn callback for the whole turn, however many pieces ran.
    expect(h.turnEnds).toHaveLength(1)
  })

  it('hands back the promise of work that waits for I/O', async () => {
    const h = harness(4)
    const result = h.budget.run(async () => {
      await Promise.resolve()
      h.ran.push('async')
    })
    expect(result).toBeInstanceOf(Promise)
    await result
    expect(h.ran).toEqual(['async'])
  })

  it('defers work once the turn has used its budget, then works the backlog off one budget per turn, oldest first', async () => {
    const h = harness(4)
    h.budget.run(h.work('a', 3))
    h.budget.run(h.work('b', 3)) // 3 < 4: still runs; the turn has now used 6
    const later = ['c', 'd', 'e', 'f'].map((name) => h.budget.run(h.work(name, 3)))
    expect(h.ran).toEqual(['a', 'b'])
    expect(later.every((p) => p instanceof Promise)).toBe(true)
    expect(h.deferred()).toBe(4)
    expect(h.budget.waiting).toBe(4)

    await h.endTurn()
    expect(h.ran).toEqual(['a', 'b', 'c', 'd'])
    expect(h.budget.waiting).toBe(2)
    await h.endTurn()
    expect(h.ran).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    await Promise.all(later)
    expect(h.budget.waiting).toBe(0)
    await h.endTurn()
    expect(h.turnEnds).toHaveLength(0)
  })

  it('gives the next turn a fresh budget: new work runs at once, ahead of an older backlog', async () => {
    const h = harness(4)
    h.budget.run(h.work('a', 5))
    void h.budget.run(h.work('b', 5))
    void h.budget.run(h.work('c', 5))
    await h.endTurn() // b runs (5 ≥ 4 ends the drain); c still waits
    expect(h.ran).toEqual(['a', 'b'])
    h.budget.run(h.work('new', 1))
    expect(h.ran).toEqual(['a', 'b', 'new'])
    await h.endTurn()
    expect(h.ran).toEqual(['a', 'b', 'new', 'c'])
  })

  it('never defers with a budget of 0', () => {
    const h = harness(0)
    for (const name of ['a', 'b', 'c']) expect(h.budget.run(h.work(name, 100))).toBeUndefined()
    expect(h.ran).toEqual(['a', 'b', 'c'])
    expect(h.deferred()).toBe(0)
    expect(h.turnEnds).toHaveLength(0)
  })

  it('works the whole backlog off when the budget is set to 0 (configuration reload)', async () => {
    const h = harness(1)
    h.budget.run(h.work('a', 2))
    const waiting = ['b', 'c', 'd'].map((name) => h.budget.run(h.work(name, 2)))
    h.budget.setBudget(0)
    await h.endTurn()
    await Promise.all(waiting)
    expect(h.ran).toEqual(['a', 'b', 'c', 'd'])
    expect(h.budget.waiting).toBe(0)
  })

  it('rejects the promise of deferred work that throws or rejects, and goes on with the rest', async () => {
    const h = harness(1)
    h.budget.run(h.work('a', 2))
    const throws = h.budget.run(() => {
      throw new Error('sync failure')
    })
    const rejects = h.budget.run(async () => {
      throw new Error('async failure')
    })
    const fine = h.budget.run(h.work('after', 0))
    await h.endTurn()
    await expect(throws).rejects.toThrow('sync failure')
    await expect(rejects).rejects.toThrow('async failure')
    await fine
    expect(h.ran).toEqual(['a', 'after'])
  })

  it('lets other callbacks of the event loop run between two budgets (real clock and setImmediate)', async () => {
    const budget = new TurnBudget({ budgetMs: 2 })
    const events: string[] = []
    const busy = (name: string) => () => {
      const until = performance.now() + 1.5
      while (performance.now() < until) {
        // burn the CPU like a handler would
      }
      events.push(name)
    }
    // A timer due at once: without a budget it would run only after all ten pieces.
    setTimeout(() => events.push('timer'), 0)
    const results = Array.from({ length: 10 }, (_, i) => budget.run(busy(`w${i}`)))
    await Promise.all(results)
    const timerAt = events.indexOf('timer')
    expect(timerAt).toBeGreaterThan(0)
    expect(timerAt).toBeLessThan(events.length - 1)
    expect(events.filter((e) => e !== 'timer')).toEqual(Array.from({ length: 10 }, (_, i) => `w${i}`))
  })
})
