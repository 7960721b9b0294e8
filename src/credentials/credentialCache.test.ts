import { describe, expect, it } from 'vitest'
import { SignerError } from '../errors.js'
import { freezeCredentials, type AwsCredentials } from './awsCredentials.js'
import { CredentialCache, type CredentialCacheEvent } from './credentialCache.js'

function setup(overrides: Partial<ConstructorParameters<typeof CredentialCache>[0]> = {}) {
  let now = 1_000_000
  const events: CredentialCacheEvent[] = []
  const cache = new CredentialCache({
    maxEntries: 10,
    refreshAheadMs: 300_000,
    expirySkewMs: 30_000,
    staticTtlMs: 3_600_000,
    backoffInitialMs: 1000,
    backoffMaxMs: 8000,
    now: () => now,
    onEvent: (e) => events.push(e),
    ...overrides,
  })
  return {
    cache,
    events,
    advance: (ms: number) => {
      now += ms
    },
    now: () => now,
  }
}

function creds(id: string, expiresAt?: number): AwsCredentials {
  return freezeCredentials({
    accessKeyId: id,
    secretAccessKey: `secret-${id}`,
    sessionToken: `token-${id}`,
    ...(expiresAt !== undefined ? { expiration: new Date(expiresAt) } : {}),
  })
}

/** A fetch whose calls are counted and whose results are released by the test. */
function controlledFetch() {
  const pending: Array<{ resolve: (c: AwsCredentials) => void; reject: (e: unknown) => void }> = []
  let calls = 0
  const fetch = () =>
    new Promise<AwsCredentials>((resolve, reject) => {
      calls++
      pending.push({ resolve, reject })
    })
  return { fetch, pending, calls: () => calls }
}

describe('CredentialCache', () => {
  it('shares one fetch among 1,000 concurrent misses of one key', async () => {
    const { cache, now } = setup()
    const f = controlledFetch()
    const waiting = Array.from({ length: 1000 }, () => cache.get('k', f.fetch))
    expect(f.calls()).toBe(1)
    f.pending[0]!.resolve(creds('A', now() + 3_600_000))
    const results = await Promise.all(waiting)
    expect(new Set(results.map((r) => r.accessKeyId))).toEqual(new Set(['A']))
    expect(f.calls()).toBe(1)
  })

  it('serves cached credentials without fetching until the refresh window', async () => {
    const { cache, advance, now } = setup()
    let n = 0
    const fetch = async () => creds(`K${++n}`, now() + 3_600_000)
    expect((await cache.get('k', fetch)).accessKeyId).toBe('K1')
    advance(3_600_000 - 300_001)
    expect((await cache.get('k', fetch)).accessKeyId).toBe('K1')
    expect(n).toBe(1)
  })

  it('refreshes ahead of expiry in the background while serving the old set', async () => {
    const { cache, advance, now, events } = setup()
    const f = controlledFetch()
    const first = cache.get('k', f.fetch)
    f.pending[0]!.resolve(creds('OLD', now() + 3_600_000))
    await first
    advance(3_600_000 - 200_000) // inside the 5-minute refresh window, outside the skew
    const during = await cache.get('k', f.fetch)
    expect(during.accessKeyId).toBe('OLD')
    expect(f.calls()).toBe(2)
    expect(events.filter((e) => e.type === 'refresh')).toHaveLength(1)
    // Many requests during the refresh: still the old set, still one refresh.
    for (let i = 0; i < 50; i++) expect((await cache.get('k', f.fetch)).accessKeyId).toBe('OLD')
    expect(f.calls()).toBe(2)
    f.pending[1]!.resolve(creds('NEW', now() + 3_600_000))
    await new Promise((r) => setImmediate(r))
    expect((await cache.get('k', f.fetch)).accessKeyId).toBe('NEW')
  })

  it('never serves credentials inside the expiry skew; waits for a fresh set instead', async () => {
    const { cache, advance, now } = setup()
    const f = controlledFetch()
    const first = cache.get('k', f.fetch)
    f.pending[0]!.resolve(creds('OLD', now() + 100_000))
    await first
    advance(100_000 - 29_000) // 29 s left < 30 s skew
    const next = cache.get('k', f.fetch)
    expect(f.calls()).toBe(2)
    f.pending[1]!.resolve(creds('NEW', now() + 3_600_000))
    expect((await next).accessKeyId).toBe('NEW')
  })

  it('does not refresh short-lived credentials on every request', async () => {
    const { cache, advance, now } = setup()
    let n = 0
    const fetch = async () => creds(`K${++n}`, now() + 120_000) // 2 min < 5 min refresh-ahead
    await cache.get('k', fetch)
    advance(10_000)
    await cache.get('k', fetch)
    await new Promise((r) => setImmediate(r))
    expect(n).toBe(1) // refresh starts only half-way through the lifetime
    advance(55_000)
    await cache.get('k', fetch)
    await new Promise((r) => setImmediate(r))
    expect(n).toBe(2)
  })

  it('remembers failures with exponential backoff and recovers', async () => {
    const { cache, advance, now } = setup()
    let calls = 0
    let failing = true
    const error = new SignerError('ERR_STS_FAILED', 'cannot assume role: Throttling')
    const fetch = async () => {
      calls++
      if (failing) throw error
      return creds('OK', now() + 3_600_000)
    }
    await expect(cache.get('k', fetch)).rejects.toBe(error)
    await expect(cache.get('k', fetch)).rejects.toBe(error) // within 1 s backoff: no call
    expect(calls).toBe(1)
    advance(1000)
    await expect(cache.get('k', fetch)).rejects.toBe(error)
    expect(calls).toBe(2)
    advance(1999) // second backoff is 2 s
    await expect(cache.get('k', fetch)).rejects.toBe(error)
    expect(calls).toBe(2)
    advance(1)
    failing = false
    expect((await cache.get('k', fetch)).accessKeyId).toBe('OK')
    expect(calls).toBe(3)
  })

  it('caps the backoff at backoffMaxMs', async () => {
    const { cache, advance } = setup()
    let calls = 0
    const fetch = async (): Promise<AwsCredentials> => {
      calls++
      throw new SignerError('ERR_STS_FAILED', 'x')
    }
    for (let i = 0; i < 8; i++) {
      await cache.get('k', fetch).catch(() => undefined)
      advance(8000)
    }
    expect(calls).toBe(8)
  })

  it('keeps keys apart', async () => {
    const { cache, now } = setup()
    const a = await cache.get('a', async () => creds('A', now() + 3_600_000))
    const b = await cache.get('b', async () => creds('B', now() + 3_600_000))
    expect([a.accessKeyId, b.accessKeyId]).toEqual(['A', 'B'])
    expect(cache.size).toBe(2)
  })

  it('evicts the least recently used entry beyond maxEntries and reports it', async () => {
    const { cache, now, events } = setup({ maxEntries: 2 })
    for (const k of ['a', 'b', 'c']) await cache.get(k, async () => creds(k, now() + 3_600_000))
    expect(cache.size).toBe(2)
    expect(events.filter((e) => e.type === 'eviction').map((e) => e.key)).toEqual(['a'])
  })

  it('rejects credentials that arrive already expired', async () => {
    const { cache, now } = setup()
    await expect(cache.get('k', async () => creds('X', now() - 1))).rejects.toMatchObject({
      code: 'ERR_CREDENTIALS_UNAVAILABLE',
    })
  })

  it('treats credentials without expiration as static for staticTtlMs', async () => {
    const { cache, advance } = setup()
    let n = 0
    const fetch = async () => creds(`S${++n}`)
    await cache.get('k', fetch)
    advance(3_600_000 - 300_001)
    await cache.get('k', fetch)
    expect(n).toBe(1)
    advance(3_600_000)
    expect((await cache.get('k', fetch)).accessKeyId).toBe('S2')
  })

  it('peek returns cached credentials synchronously, undefined on a miss', async () => {
    const { cache, now } = setup()
    const fetch = async () => creds('P', now() + 3_600_000)
    expect(cache.peek('k', fetch)).toBeUndefined()
    await cache.get('k', fetch)
    expect(cache.peek('k', fetch)?.credentials.accessKeyId).toBe('P')
    expect(cache.expiries()).toEqual([{ key: 'k', seconds: 3600 }])
  })
})
