/**
 * `sts.max_concurrent_calls`: how many STS calls one client has in flight at once, counted at a
 * fake STS that holds every call open. The real SDK client and its HTTP agent, on 127.0.0.1.
 */
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import {
  CredentialCache,
  IdentityResolver,
  createSdkStsClient,
  type StsClientOptions,
  type StsLike,
} from '../../src/credentials/index.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'

const HOLD_MS = 600

function command(i: number): AssumeRoleWithWebIdentityCommand {
  return new AssumeRoleWithWebIdentityCommand({
    RoleArn: 'arn:aws:iam::123456789012:role/mcp-callers',
    RoleSessionName: `caller-${i}`,
    WebIdentityToken: `token-${i}`,
  })
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('sts.max_concurrent_calls (the real SDK client against a fake STS)', () => {
  let sts: FakeSts | undefined
  afterEach(async () => {
    await sts?.close()
    sts = undefined
  })

  /** Sends `total` calls at once; returns how many reached STS while the first ones were held. */
  async function inFlightAtOnce(maxConcurrentCalls: number, total: number): Promise<number> {
    sts = await startFakeSts({ behaviour: { latencyMs: HOLD_MS } })
    const fake = sts
    const client = createSdkStsClient({
      region: 'us-east-1',
      endpoint: fake.endpoint,
      maxConcurrentCalls,
    })
    const calls = Array.from({ length: total }, (_, i) => client.send(command(i)))
    // Calls start one per event-loop turn; wait until they stop arriving, well inside the hold.
    let seen = -1
    await waitFor(() => {
      const settled = fake.calls.length === seen
      seen = fake.calls.length
      return settled && seen > 0
    }, HOLD_MS / 2)
    const atOnce = fake.calls.length
    const results = await Promise.all(calls)
    expect(results.every((r) => r.Credentials?.AccessKeyId !== undefined)).toBe(true)
    expect(fake.calls).toHaveLength(total)
    return atOnce
  }

  it('holds the calls beyond the limit until a slot frees (limit 3, 9 calls)', async () => {
    expect(await inFlightAtOnce(3, 9)).toBe(3)
  })

  it('lets more than the SDK agent default of 50 through when configured (limit 80, 100 calls)', async () => {
    // Without the agent sized to the limit, the SDK's agent would hold calls 51 and on itself.
    expect(await inFlightAtOnce(80, 100)).toBe(80)
  })

  it('defaults to 50', async () => {
    const { config } = loadConfig({ text: '{}' })
    expect(await inFlightAtOnce(config.sts.max_concurrent_calls, 70)).toBe(50)
  })

  it('reaches every STS client the configuration builds (web_identity and assume_role)', () => {
    const { config } = loadConfig({
      text: `
sts: { max_concurrent_calls: 7 }
identities:
  caller:
    kind: web_identity
    roles:
      - role_arn: arn:aws:iam::123456789012:role/mcp-callers
        match: { claim: sub, values: [anyone] }
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::123456789012:role/mcp-ops
`,
    })
    const built: StsClientOptions[] = []
    const createStsClient = (options: StsClientOptions): StsLike => {
      built.push(options)
      return { send: () => Promise.reject(new Error('not called')) }
    }
    void new IdentityResolver({
      config,
      cache: new CredentialCache({
        maxEntries: 10,
        refreshAheadMs: 0,
        expirySkewMs: 0,
        staticTtlMs: 1000,
        backoffInitialMs: 1000,
        backoffMaxMs: 1000,
      }),
      createStsClient,
    })
    expect(built.map((o) => o.maxConcurrentCalls)).toEqual([7, 7])
  })

  it('is checked at load: 1 to 1000', () => {
    expect(loadConfig({ text: 'sts: { max_concurrent_calls: 1000 }' }).config.sts.max_concurrent_calls).toBe(1000)
    expect(loadConfig({ text: '{}' }).config.sts.max_concurrent_calls).toBe(50)
    for (const bad of ['0', '1001', '2.5', '"ten"']) {
      expect(() => loadConfig({ text: `sts: { max_concurrent_calls: ${bad} }` }), bad).toThrow(/sts\.max_concurrent_calls/)
    }
  })
})
