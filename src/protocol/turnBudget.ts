/** What a {@link TurnBudget} needs from its environment; injectable so tests can drive it. */
export interface TurnBudgetOptions {
  /**
   * Milliseconds of work one event-loop turn may spend before further work waits for a later
   * turn; 0 (or less) never defers.
   */
  readonly budgetMs: number
  /** Monotonic clock in milliseconds (default `performance.now`). */
  readonly monotonicMs?: () => number
  /** Runs a callback once the current turn's I/O has been handled (default `setImmediate`). */
  readonly afterIo?: (callback: () => void) => void
  /** Called for each piece of work that had to wait for a later turn (for metrics). */
  readonly onDeferred?: () => void
}

/**
 * Spreads work over event-loop turns once a turn has used its budget.
 *
 * One socket read can carry the first messages of hundreds of streams (a burst of new callers
 * after a restart): handled in one go, they hold the event loop for tens or hundreds of
 * milliseconds, and everything else — timers, health checks, other streams' answers, STS replies —
 * waits. With a budget, work runs at once while the turn has budget left; after that it joins a
 * backlog that is worked off after the turn's I/O (`setImmediate`), one budget per turn, oldest
 * first. Work arriving in a later turn with budget to spare runs at once, ahead of the backlog:
 * ordering across callers is not promised, and the caller keeps the order of its own pieces
 * (the ext_proc loop queues a stream's next message behind the previous one).
 *
 * The cost when nothing is deferred: two clock reads per piece of work and one `setImmediate`
 * per turn that ran any.
 */
export class TurnBudget {
  private budgetMs: number
  private readonly monotonicMs: () => number
  private readonly afterIo: (callback: () => void) => void
  private readonly onDeferred: () => void
  /** Milliseconds used in the current turn. */
  private used = 0
  private turnEndScheduled = false
  private readonly backlog: Array<() => void> = []

  constructor(options: TurnBudgetOptions) {
    this.budgetMs = options.budgetMs
    this.monotonicMs = options.monotonicMs ?? (() => performance.now())
    this.afterIo = options.afterIo ?? setImmediate
    this.onDeferred = options.onDeferred ?? (() => undefined)
  }

  /** Pieces of work waiting for a later turn. */
  get waiting(): number {
    return this.backlog.length
  }

  /** Changes the budget (configuration reload); applies from the next piece of work. */
  setBudget(budgetMs: number): void {
    this.budgetMs = budgetMs
  }

  /**
   * Runs `work` now when the turn has budget left, returning what it returns; otherwise in a
   * later turn, returning a promise that settles as `work`'s result does (a throw rejects it).
   */
  run(work: () => void | Promise<void>): void | Promise<void> {
    if (this.budgetMs <= 0) return work()
    if (this.used < this.budgetMs) return this.timed(work)
    this.onDeferred()
    return new Promise<void>((resolve, reject) => {
      this.backlog.push(() => {
        try {
          const result = this.timed(work)
          if (result === undefined) resolve()
          else result.then(resolve, reject)
        } catch (err) {
          reject(err)
        }
      })
      this.scheduleTurnEnd()
    })
  }

  private timed(work: () => void | Promise<void>): void | Promise<void> {
    const started = this.monotonicMs()
    try {
      return work()
    } finally {
      this.used += this.monotonicMs() - started
      this.scheduleTurnEnd()
    }
  }

  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return
    this.turnEndScheduled = true
    this.afterIo(this.endTurn)
  }

  /** After a turn's I/O: a fresh budget for the backlog, then a fresh one for the next turn. */
  private readonly endTurn = (): void => {
    this.turnEndScheduled = false
    this.used = 0
    while (this.used < this.budgetMs || this.budgetMs <= 0) {
      const next = this.backlog.shift()
      if (next === undefined) break
      next()
    }
    this.used = 0
    if (this.backlog.length > 0) this.scheduleTurnEnd()
  }
}
