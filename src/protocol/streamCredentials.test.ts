import { describe, expect, it } from 'vitest'
import type { AwsCredentials } from '../credentials/index.js'
import { OVERRIDE_GRACE_MS, streamCredentialsOf, waitForCredentials } from './streamCredentials.js'

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } as AwsCredentials
const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

describe('streamCredentialsOf and waitForCredentials', () => {
  it('returns cached credentials as they are, without asking Envoy for time', async () => {
    const extended: number[] = []
    const handle = streamCredentialsOf({ ready: CREDS })
    expect(handle).toEqual({ ready: CREDS })
    expect(await waitForCredentials(handle, { waitMs: 5000, extendTimeout: (ms) => extended.push(ms) })).toBe(CREDS)
    expect(extended).toEqual([])
  })

  it('tracks whether a pending lookup has settled', async () => {
    const handle = streamCredentialsOf({ pending: later(1, CREDS) })
    expect('settled' in handle && handle.settled).toBe(false)
    await later(5, undefined)
    expect('settled' in handle && handle.settled).toBe(true)
  })

  it('asks Envoy for more time once when the lookup outlasts the grace period', async () => {
    const extended: number[] = []
    const handle = streamCredentialsOf({ pending: later(OVERRIDE_GRACE_MS + 30, CREDS) })
    expect(await waitForCredentials(handle, { waitMs: 5000, extendTimeout: (ms) => extended.push(ms) })).toBe(CREDS)
    expect(extended).toEqual([5000])
  })

  it('does not ask when the lookup settles within the grace period, or when waitMs is 0', async () => {
    const extended: number[] = []
    const fast = streamCredentialsOf({ pending: later(2, CREDS) })
    expect(await waitForCredentials(fast, { waitMs: 5000, extendTimeout: (ms) => extended.push(ms) })).toBe(CREDS)
    const slow = streamCredentialsOf({ pending: later(OVERRIDE_GRACE_MS + 20, CREDS) })
    expect(await waitForCredentials(slow, { waitMs: 0, extendTimeout: (ms) => extended.push(ms) })).toBe(CREDS)
    expect(extended).toEqual([])
  })

  it('rejects with what the lookup rejected with', async () => {
    const failure = new Error('sts down')
    const handle = streamCredentialsOf({ pending: Promise.reject(failure) })
    await expect(waitForCredentials(handle, { waitMs: 5000, extendTimeout: () => undefined })).rejects.toBe(failure)
  })
})
