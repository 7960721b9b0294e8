import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { CredentialCache, IdentityResolver, freezeCredentials } from '../../src/credentials/index.js'
import { SignerError } from '../../src/errors.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'

const BASE = { accessKeyId: 'AKIDBASE0000000000001', secretAccessKey: 'base-secret-value-0001', sessionToken: 'base-session-token-0001' }

function cache() {
  return new CredentialCache({
    maxEntries: 100,
    refreshAheadMs: 300_000,
    expirySkewMs: 30_000,
    staticTtlMs: 3_600_000,
    backoffInitialMs: 1000,
    backoffMaxMs: 60_000,
  })
}

describe('credential sources (real SDK clients against local files and a fake STS)', () => {
  let sts: FakeSts
  let dir: string

  beforeAll(async () => {
    sts = await startFakeSts({ callerCredentials: { [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken } } })
    dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-creds-'))
    writeFileSync(
      join(dir, 'credentials'),
      `[base]\naws_access_key_id = ${BASE.accessKeyId}\naws_secret_access_key = ${BASE.secretAccessKey}\naws_session_token = ${BASE.sessionToken}\n`,
    )
    writeFileSync(join(dir, 'config'), '[profile base]\nregion = us-east-1\n')
  })
  afterAll(async () => {
    await sts.close()
  })

  function resolver(extra: string) {
    const { config } = loadConfig({
      text: `
sts: { region: us-east-1, timeout_ms: 2000 }
identities:
  base:
    kind: profile
    profile: base
    credentials_file: ${join(dir, 'credentials')}
    config_file: ${join(dir, 'config')}
${extra}`,
    })
    return new IdentityResolver({ config, cache: cache() })
  }

  it('reads a named profile from the configured files', async () => {
    const creds = await resolver('').resolve('base')
    expect(creds).toEqual(freezeCredentials(BASE))
    expect(Object.isFrozen(creds)).toBe(true)
  })

  it('assumes a role with credentials of the source identity, signed (verified by the fake STS)', async () => {
    const r = resolver(`
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::123456789012:role/mcp-ops
    source: base
    external_id: ext-42
    session_name: mcp-test
    duration_seconds: 900
    source_identity: platform
    endpoint: ${sts.endpoint}
`)
    const before = sts.calls.length
    const creds = await r.resolve('ops')
    const call = sts.calls[before]
    expect(call?.action).toBe('AssumeRole')
    expect(call?.signatureValid).toBe(true)
    expect(call?.params).toMatchObject({
      RoleArn: 'arn:aws:iam::123456789012:role/mcp-ops',
      RoleSessionName: 'mcp-test',
      DurationSeconds: '900',
      ExternalId: 'ext-42',
      SourceIdentity: 'platform',
    })
    const issued = sts.issued.get(creds.accessKeyId)
    expect(issued).toBeDefined()
    expect(creds.secretAccessKey).toBe(issued?.secretAccessKey)
    expect(creds.sessionToken).toBe(issued?.sessionToken)
    expect(creds.expiration?.getTime()).toBe(issued?.expiration.getTime())
    // Cached: a second resolve makes no STS call.
    await r.resolve('ops')
    expect(sts.calls.length).toBe(before + 1)
  })

  it('chains roles: a role assumed with another assumed role', async () => {
    // A second fake STS that accepts any caller, so the hop-2 call (signed with hop-1's fresh
    // credentials) is answered; the recorded authorization shows which key signed it.
    const open = await startFakeSts()
    try {
      const r = resolver(`
  hop1: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/hop1", source: base, endpoint: "${open.endpoint}" }
  hop2: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/hop2", source: hop1, endpoint: "${open.endpoint}" }
`)
      const creds = await r.resolve('hop2')
      expect(open.calls.map((c) => c.params.RoleArn)).toEqual([
        'arn:aws:iam::123456789012:role/hop1',
        'arn:aws:iam::123456789012:role/hop2',
      ])
      expect(open.calls[0]?.headers.authorization?.[0]).toContain(`Credential=${BASE.accessKeyId}/`)
      expect(open.calls[1]?.headers.authorization?.[0]).toContain(`Credential=${open.calls[0]?.accessKeyId}/`)
      expect(open.issued.get(creds.accessKeyId)?.roleArn).toBe('arn:aws:iam::123456789012:role/hop2')
    } finally {
      await open.close()
    }
  })

  it('maps an STS AccessDenied to ERR_STS_FAILED with the AWS error code and no secret', async () => {
    const r = resolver(`
  denied: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/denied", source: base, endpoint: "${sts.endpoint}" }
`)
    sts.setBehaviour({ failNext: { count: 1, error: { code: 'AccessDenied', status: 403, message: 'not authorized' } } })
    const err = await r.resolve('denied').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SignerError)
    expect((err as SignerError).code).toBe('ERR_STS_FAILED')
    expect((err as SignerError).message).toBe(
      'cannot assume role for identity "denied": STS AssumeRole failed (AccessDenied, HTTP 403)',
    )
    expect((err as SignerError).message).not.toContain(BASE.secretAccessKey)
  })

  it('gives up on an STS that never answers within sts.timeout_ms', async () => {
    const r = resolver(`
  slow: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/slow", source: base, endpoint: "${sts.endpoint}" }
`)
    sts.setBehaviour({ hang: true })
    const started = Date.now()
    const err = await r.resolve('slow').catch((e: unknown) => e)
    sts.setBehaviour({ hang: false })
    expect((err as SignerError).code).toBe('ERR_STS_FAILED')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('reports a missing profile as ERR_CREDENTIALS_UNAVAILABLE naming the identity and profile', async () => {
    const { config } = loadConfig({
      text: `identities:\n  nope: { kind: profile, profile: absent, credentials_file: ${join(dir, 'credentials')}, config_file: ${join(dir, 'config')} }\n`,
    })
    const err = await new IdentityResolver({ config, cache: cache() }).resolve('nope').catch((e: unknown) => e)
    expect((err as SignerError).code).toBe('ERR_CREDENTIALS_UNAVAILABLE')
    expect((err as SignerError).message).toMatch(/^cannot resolve credentials for identity "nope" from profile "absent": /)
  })

  it('rejects an unknown identity name', async () => {
    await expect(resolver('').resolve('ghost')).rejects.toMatchObject({ code: 'ERR_IDENTITY_UNKNOWN' })
  })
})
