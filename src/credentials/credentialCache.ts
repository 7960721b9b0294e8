import { LRUCache } from 'lru-cache'
import { SignerError } from '../errors.js'
import type { AwsCredentials } from './awsCredentials.js'

export interface CredentialCacheOptions {
  /** Upper bound of cached credential sets (least recently used are evicted). */
  readonly maxEntries: number
  /** Start a background refresh this many ms before expiration. */
  readonly refreshAheadMs: number
  /** Stop serving credentials this many ms before expiration. */
  readonly expirySkewMs: number
  /** Lifetime given to credentials without an expiration. */
  readonly staticTtlMs: number
  /** Wait after the first failed fetch; doubles per consecutive failure. */
  readonly backoffInitialMs: number
  readonly backoffMaxMs: number
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number
  /** Observer for metrics; must not throw. */
  readonly onEvent?: (event: CredentialCacheEvent) => void
  /**
   * Failures that retrying cannot fix for the same input (e.g. STS rejected the caller's token):
   * they are not retried until a fetch comes with another `fingerprint`, whatever the backoff.
   */
  readonly isPermanentFailure?: (error: unknown) => boolean
}

/** Per-call options of `get` and `peek`. */
export interface FetchOptions {
  /** Identifies the fetch's input (e.g. a digest of the caller's token); see `isPermanentFailure`. */
  readonly fingerprint?: string
}

export type CredentialCacheEvent =
  | { readonly type: 'hit' | 'miss' | 'refresh' | 'eviction' | 'backoff_reject'; readonly key: string }
  | { readonly type: 'fetch_ok'; readonly key: string; readonly expiresAt: number }
  | { readonly type: 'fetch_error'; readonly key: string; readonly error: unknown }

/** What `peek` finds: credentials usable right now, or nothing (a fetch is needed or running). */
export type CachedLookup = { readonly credentials: AwsCredentials } | undefined

interface Entry {
  readonly credentials: AwsCredentials
  /** Serve until this time (expiration minus skew). */
  readonly usableUntil: number
  /** Refresh in the background from this time on. */
  readonly refreshFrom: number
}

interface Failure {
  readonly error: unknown
  readonly retryAt: number
  readonly attempts: number
  readonly permanent: boolean
  readonly fingerprint: string | undefined
}

/**
 * The credential cache shared by every identity: one entry per key, one fetch in flight per key
 * (concurrent misses and a background refresh share it), refresh ahead of expiry while the valid
 * credentials keep being served, and failures remembered with exponential backoff so an
 * unavailable source is not hammered.
 */
export class CredentialCache {
  private readonly options: Required<Omit<CredentialCacheOptions, 'onEvent' | 'isPermanentFailure'>> &
    Pick<CredentialCacheOptions, 'onEvent' | 'isPermanentFailure'>
  private readonly entries: LRUCache<string, Entry>
  private readonly failures: LRUCache<string, Failure>
  private readonly inFlight = new Map<string, Promise<AwsCredentials>>()

  constructor(options: CredentialCacheOptions) {
    this.options = { now: Date.now, ...options }
    this.entries = new LRUCache<string, Entry>({
      max: options.maxEntries,
      dispose: (_value, key, reason) => {
        if (reason === 'evict') this.emit({ type: 'eviction', key })
      },
    })
    this.failures = new LRUCache<string, Failure>({ max: options.maxEntries })
  }

  /** Number of cached credential sets. */
  get size(): number {
    return this.entries.size
  }

  /**
   * Returns credentials usable now without waiting, starting a background refresh when they are
   * close to expiry; `undefined` when the caller has to wait for `get`.
   */
  peek(key: string, fetch: () => Promise<AwsCredentials>, options: FetchOptions = {}): CachedLookup {
    const entry = this.entries.get(key)
    const now = this.options.now()
    if (entry === undefined || now >= entry.usableUntil) return undefined
    if (now >= entry.refreshFrom && !this.inFlight.has(key) && this.blockingFailure(key, options) === undefined) {
      this.emit({ type: 'refresh', key })
      this.startFetch(key, fetch, options).catch(() => {
        // Recorded as a failure; the current credentials stay in use until they expire.
      })
    }
    return { credentials: entry.credentials }
  }

  /** Returns usable credentials for `key`, fetching them (once, shared) when needed. */
  async get(
    key: string,
    fetch: () => Promise<AwsCredentials>,
    options: FetchOptions = {},
  ): Promise<AwsCredentials> {
    const cached = this.peek(key, fetch, options)
    if (cached !== undefined) {
      this.emit({ type: 'hit', key })
      return cached.credentials
    }
    this.emit({ type: 'miss', key })
    const running = this.inFlight.get(key)
    if (running !== undefined) return running
    const failure = this.blockingFailure(key, options)
    if (failure !== undefined) {
      this.emit({ type: 'backoff_reject', key })
      throw failure.error
    }
    return this.startFetch(key, fetch, options)
  }

  /** Seconds until expiry of every cached set that has an expiration, by key (for metrics). */
  expiries(): Array<{ readonly key: string; readonly seconds: number }> {
    const now = this.options.now()
    const result: Array<{ key: string; seconds: number }> = []
    for (const [key, entry] of this.entries.entries()) {
      const expiration = entry.credentials.expiration?.getTime()
      if (expiration !== undefined) result.push({ key, seconds: (expiration - now) / 1000 })
    }
    return result
  }

  /** Drops every entry, failure and forgets in-flight fetches (their results are still stored). */
  clear(): void {
    this.entries.clear()
    this.failures.clear()
  }

  /** The remembered failure that forbids a fetch now, if any. */
  private blockingFailure(key: string, options: FetchOptions): Failure | undefined {
    const failure = this.failures.get(key)
    if (failure === undefined) return undefined
    if (failure.permanent) return failure.fingerprint === options.fingerprint ? failure : undefined
    return this.options.now() < failure.retryAt ? failure : undefined
  }

  private startFetch(
    key: string,
    fetch: () => Promise<AwsCredentials>,
    options: FetchOptions,
  ): Promise<AwsCredentials> {
    const promise = (async () => {
      try {
        const credentials = await fetch()
        this.store(key, credentials)
        return credentials
      } catch (error) {
        this.recordFailure(key, error, options.fingerprint)
        throw error
      } finally {
        this.inFlight.delete(key)
      }
    })()
    this.inFlight.set(key, promise)
    return promise
  }

  private store(key: string, credentials: AwsCredentials): void {
    const now = this.options.now()
    const expiresAt = credentials.expiration?.getTime() ?? now + this.options.staticTtlMs
    const usableUntil = expiresAt - this.options.expirySkewMs
    if (usableUntil <= now) {
      // Inside the skew margin when they arrived: not cached. The waiting requests may still use
      // them if they have not really expired; already-expired credentials are a failure.
      if (expiresAt <= now) {
        throw new SignerError(
          'ERR_CREDENTIALS_UNAVAILABLE',
          'cannot use credentials: they were already expired when received',
        )
      }
      this.failures.delete(key)
      this.emit({ type: 'fetch_ok', key, expiresAt })
      return
    }
    this.failures.delete(key)
    this.emit({ type: 'fetch_ok', key, expiresAt })
    // Refresh ahead by the configured margin, but never earlier than half-way through the
    // lifetime, so short-lived credentials are not refreshed on every request.
    const ahead = Math.min(this.options.refreshAheadMs, (expiresAt - now) / 2)
    const refreshFrom = expiresAt - ahead
    this.entries.set(key, { credentials, usableUntil, refreshFrom })
  }

  private recordFailure(key: string, error: unknown, fingerprint: string | undefined): void {
    const previous = this.failures.get(key)
    const attempts = (previous?.attempts ?? 0) + 1
    const delay = Math.min(
      this.options.backoffMaxMs,
      this.options.backoffInitialMs * 2 ** Math.min(attempts - 1, 30),
    )
    const permanent = this.options.isPermanentFailure?.(error) ?? false
    this.failures.set(key, { error, retryAt: this.options.now() + delay, attempts, permanent, fingerprint })
    this.emit({ type: 'fetch_error', key, error })
  }

  private emit(event: CredentialCacheEvent): void {
    this.options.onEvent?.(event)
  }
}
