import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import {
  CredentialCache,
  IdentityResolver,
  isTokenBoundFailure,
  sessionNameFrom,
  type AwsCredentials,
  type CallerContext,
  type CredentialCacheOptions,
  type IdentityLookup,
} from '../../src/credentials/index.js'
import { SignerError } from '../../src/errors.js'
import { startFakeSts, type FakeStsOptions } from '../harness/fakeSts.js'

const ISSUER = 'https://idp.example'
const AUDIENCE = 'mcp-gateway'
const JWT_AUTHN = 'envoy.filters.http.jwt_authn'
const ROLE = {
  admins: 'arn:aws:iam::123456789012:role/admins',
  dev: 'arn:aws:iam::123456789012:role/dev',
  readonly: 'arn:aws:iam::123456789012:role/readonly',
}

interface Signer {
  readonly kid: string
  readonly privateKey: CryptoKey
}

let signer: Signer
/** Same kid, other key: tokens that are well-formed but whose signature does not verify. */
let forger: Signer
let dir: string
let jwksFile: string

beforeAll(async () => {
  const pair = await generateKeyPair('ES256')
  signer = { kid: 'k1', privateKey: pair.privateKey }
  forger = { kid: 'k1', privateKey: (await generateKeyPair('ES256')).privateKey }
  dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-webid-'))
  jwksFile = join(dir, 'jwks.json')
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }))
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.()
})

let tokenSerial = 0

interface TokenOptions {
  sub?: string
  iss?: string
  groups?: string[]
  /** Expiry in seconds after `at`. */
  expiresIn?: number
  claims?: Record<string, unknown>
  by?: Signer
}

/** A signed token; every call gives a different token (`jti`), even for the same claims. */
async function mint(at: number, options: TokenOptions = {}): Promise<string> {
  const sec = Math.floor(at / 1000)
  return new SignJWT({ groups: options.groups ?? [], jti: `t-${++tokenSerial}`, ...options.claims })
    .setProtectedHeader({ alg: 'ES256', kid: (options.by ?? signer).kid })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(options.sub ?? 'alice')
    .setIssuedAt(sec)
    .setExpirationTime(sec + (options.expiresIn ?? 3600))
    .sign((options.by ?? signer).privateKey)
}

interface HarnessOptions {
  /** Verify tokens locally against the JWKS file (default true). */
  verify?: boolean
  /** Extra lines inside `verify:` (indented by the helper). */
  verifyExtra?: string
  /** Replaces the default `token:` line. */
  token?: string
  /** Replaces the default `roles:` block. */
  roles?: string
  /** Replaces the default fallback line ('' for none). */
  fallback?: string
  /** More lines of the identity. */
  identityExtra?: string
  sts?: FakeStsOptions
  cache?: Partial<CredentialCacheOptions>
}

const DEFAULT_ROLES = `    roles:
      - role_arn: "${ROLE.admins}"
        priority: 1
        match: { claim: groups, values: [admins] }
      - role_arn: "${ROLE.dev}"
        match: { cel: '"dev" in claims.groups' }
`

async function harness(options: HarnessOptions = {}) {
  const clock = { t: Date.now() }
  const now = () => clock.t
  const sts = await startFakeSts({ now, ...options.sts })
  closers.push(() => sts.close())
  const verify =
    options.verify === false
      ? ''
      : `    verify:\n      issuer: "${ISSUER}"\n      audiences: [${AUDIENCE}]\n      jwks_file: "${jwksFile}"\n` +
        (options.verifyExtra !== undefined ? `      ${options.verifyExtra}\n` : '')
  const text = `
sts: { region: us-east-1, timeout_ms: 2000 }
identities:
  caller:
    kind: web_identity
    ${options.token ?? 'token: { from: authorization }'}
${verify}${options.roles ?? DEFAULT_ROLES}${options.fallback ?? `    fallback_role_arn: "${ROLE.readonly}"`}
    endpoint: "${sts.endpoint}"
${options.identityExtra ?? ''}
  shared:
    kind: default_chain
`
  const { config } = loadConfig({ text })
  const cache = new CredentialCache({
    maxEntries: 10_000,
    refreshAheadMs: 300_000,
    expirySkewMs: 30_000,
    staticTtlMs: 3_600_000,
    backoffInitialMs: 1000,
    backoffMaxMs: 60_000,
    now,
    isPermanentFailure: isTokenBoundFailure,
    ...options.cache,
  })
  const ruleErrors: Array<[string, number, string]> = []
  const resolver = new IdentityResolver({
    config,
    cache,
    now,
    onRuleError: (identity, rule, message) => ruleErrors.push([identity, rule, message]),
  })
  return {
    sts,
    cache,
    resolver,
    ruleErrors,
    clock,
    advance: (ms: number) => {
      clock.t += ms
    },
    mint: (o: TokenOptions = {}) => mint(clock.t, o),
    lookup: (c: CallerContext) => resolver.lookup('caller', c),
  }
}

function bearer(token: string, metadata: Record<string, unknown> = {}): CallerContext {
  return { header: (name) => (name === 'authorization' ? `Bearer ${token}` : undefined), metadata }
}

async function credentialsOf(lookup: IdentityLookup): Promise<AwsCredentials> {
  return 'ready' in lookup ? lookup.ready : lookup.pending
}

/** The SignerError of a lookup, thrown synchronously or by the pending promise. */
async function failureOf(lookup: () => IdentityLookup): Promise<SignerError> {
  try {
    await credentialsOf(lookup())
  } catch (err) {
    if (err instanceof SignerError) return err
    throw err
  }
  throw new Error('expected the lookup to fail')
}

function syncFailureOf(lookup: () => IdentityLookup): SignerError {
  try {
    lookup()
  } catch (err) {
    if (err instanceof SignerError) return err
    throw err
  }
  throw new Error('expected the lookup to throw synchronously')
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('web_identity: role selection and the STS exchange', () => {
  it('gives callers with different claims different roles, unsigned, with their own token', async () => {
    const h = await harness()
    const adminToken = await h.mint({ sub: 'alice', groups: ['dev', 'admins'] })
    const devToken = await h.mint({ sub: 'auth0|bob', groups: ['dev'] })
    const admin = await credentialsOf(h.lookup(bearer(adminToken)))
    const dev = await credentialsOf(h.lookup(bearer(devToken)))
    expect(h.sts.calls).toHaveLength(2)
    const [adminCall, devCall] = h.sts.calls
    expect(adminCall?.action).toBe('AssumeRoleWithWebIdentity')
    expect(adminCall?.params).toMatchObject({
      RoleArn: ROLE.admins,
      RoleSessionName: 'alice',
      WebIdentityToken: adminToken,
      DurationSeconds: '3600',
    })
    expect(devCall?.params).toMatchObject({
      RoleArn: ROLE.dev,
      RoleSessionName: sessionNameFrom('auth0|bob'),
      WebIdentityToken: devToken,
    })
    expect(devCall?.params.RoleSessionName).toMatch(/^auth0-bob-[0-9a-f]{10}$/)
    for (const call of h.sts.calls) {
      expect(call.headers.authorization).toBeUndefined()
      expect(call.headers['x-amz-security-token']).toBeUndefined()
      expect(call.params).not.toHaveProperty('Policy')
    }
    expect(admin.accessKeyId).toBe(adminCall?.accessKeyId)
    expect(dev.accessKeyId).toBe(devCall?.accessKeyId)
    expect(admin.accessKeyId).not.toBe(dev.accessKeyId)
    expect(h.sts.issued.get(admin.accessKeyId)?.roleArn).toBe(ROLE.admins)
    expect(admin.secretAccessKey).toBe(h.sts.issued.get(admin.accessKeyId)?.secretAccessKey)
    expect(admin.sessionToken).toBe(h.sts.issued.get(admin.accessKeyId)?.sessionToken)
  })

  it('uses the fallback role when no rule matches, and reports CEL errors with the identity name', async () => {
    const h = await harness()
    const creds = await credentialsOf(h.lookup(bearer(await h.mint({ sub: 'carol', claims: { groups: undefined } }))))
    expect(h.sts.calls[0]?.params.RoleArn).toBe(ROLE.readonly)
    expect(h.sts.issued.get(creds.accessKeyId)?.roleArn).toBe(ROLE.readonly)
    // The token has no `groups`: the CEL rule fails to evaluate, is reported, and does not match.
    expect(h.ruleErrors).toHaveLength(1)
    expect(h.ruleErrors[0]?.slice(0, 2)).toEqual(['caller', 1])
  })

  it('answers ERR_ROLE_NOT_MAPPED without naming any role, and calls no STS (verified and unverified)', async () => {
    for (const verify of [true, false]) {
      const h = await harness({ verify, fallback: '' })
      const token = await h.mint({ groups: ['sales'] })
      const err = await failureOf(() => h.lookup(bearer(token)))
      expect(err.code).toBe('ERR_ROLE_NOT_MAPPED')
      expect(err.message).toBe('cannot sign for the caller: no role mapping of identity "caller" matches')
      expect(err.message).not.toMatch(/arn:/)
      expect(h.sts.calls).toHaveLength(0)
    }
  })

  it('passes the chosen rule’s scope-down options to STS', async () => {
    const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
    const h = await harness({
      roles: `    roles:
      - role_arn: "${ROLE.admins}"
        match: { claim: groups, values: [admins] }
        session_policy: '${policy}'
        policy_arns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        duration_seconds: 900
`,
    })
    await credentialsOf(h.lookup(bearer(await h.mint({ groups: ['admins'] }))))
    expect(h.sts.calls[0]?.params).toMatchObject({
      RoleArn: ROLE.admins,
      Policy: policy,
      'PolicyArns.member.1.arn': 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      DurationSeconds: '900',
    })
  })

  it('names the session from session_name_claim, and rejects a token without it', async () => {
    const h = await harness({ verify: false, identityExtra: '    session_name_claim: email' })
    await credentialsOf(h.lookup(bearer(await h.mint({ claims: { email: 'Alice Smith@example.com' } }))))
    expect(h.sts.calls[0]?.params.RoleSessionName).toBe(sessionNameFrom('Alice Smith@example.com'))
    const noEmail = await h.mint({ sub: 'dave' })
    const err = syncFailureOf(() => h.lookup(bearer(noEmail)))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).toBe('cannot authenticate the caller: the token has no "email" claim to name the session')
    expect(h.sts.calls).toHaveLength(1)
  })

  it('reports a missing token as ERR_TOKEN_MISSING and cannot be a role-chaining source', async () => {
    const h = await harness()
    const err = syncFailureOf(() => h.resolver.lookup('caller', { header: () => undefined, metadata: {} }))
    expect(err.code).toBe('ERR_TOKEN_MISSING')
    const chained = await h.resolver.resolve('caller').catch((e: unknown) => e)
    expect(chained).toBeInstanceOf(SignerError)
    expect((chained as SignerError).code).toBe('ERR_IDENTITY_UNKNOWN')
    expect(h.sts.calls).toHaveLength(0)
  })

  it('rejects a forged token before any STS call when verifying locally', async () => {
    const h = await harness()
    const forged = await h.mint({ by: forger, groups: ['admins'] })
    const err = await failureOf(() => h.lookup(bearer(forged)))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).toBe('cannot authenticate the caller: the signature does not verify')
    expect(h.sts.calls).toHaveLength(0)
  })
})

describe('web_identity: one STS call per caller', () => {
  for (const verify of [true, false]) {
    it(`shares one STS call among 1,000 concurrent first lookups of one caller (verify: ${verify})`, async () => {
      const h = await harness({ verify, sts: { behaviour: { latencyMs: 50 } } })
      const token = await h.mint({ groups: ['admins'] })
      const lookups = Array.from({ length: 1000 }, () => h.lookup(bearer(token)))
      expect(lookups.every((l) => 'pending' in l)).toBe(true)
      const results = await Promise.all(lookups.map(credentialsOf))
      expect(h.sts.calls).toHaveLength(1)
      expect(new Set(results.map((c) => c.accessKeyId))).toEqual(new Set([h.sts.calls[0]?.accessKeyId]))
      expect(new Set(results).size).toBe(1)
    })
  }

  it('serves the second lookup synchronously from the cache (no local verification)', async () => {
    const h = await harness({ verify: false })
    const token = await h.mint({ groups: ['admins'] })
    const first = h.lookup(bearer(token))
    expect('pending' in first).toBe(true)
    const creds = await credentialsOf(first)
    const second = h.lookup(bearer(token))
    expect(second).toEqual({ ready: creds })
    expect(h.sts.calls).toHaveLength(1)
  })

  it('serves the second lookup synchronously thanks to the verified-token cache', async () => {
    const h = await harness()
    const token = await h.mint({ groups: ['admins'] })
    const creds = await credentialsOf(h.lookup(bearer(token)))
    const second = h.lookup(bearer(token))
    expect('ready' in second).toBe(true)
    expect(await credentialsOf(second)).toBe(creds)
    expect(h.sts.calls).toHaveLength(1)
  })

  it('verifies again (pending, but no STS call) when verified claims are not cached', async () => {
    const h = await harness({ verifyExtra: 'cache_seconds: 0' })
    const token = await h.mint({ groups: ['admins'] })
    const creds = await credentialsOf(h.lookup(bearer(token)))
    const second = h.lookup(bearer(token))
    expect('pending' in second).toBe(true)
    expect(await credentialsOf(second)).toBe(creds)
    expect(h.sts.calls).toHaveLength(1)
  })

  it('never serves cached credentials to a token that has expired since', async () => {
    for (const verify of [true, false]) {
      const h = await harness({ verify })
      const token = await h.mint({ groups: ['admins'], expiresIn: 60 })
      await credentialsOf(h.lookup(bearer(token)))
      // 60 s token lifetime + 30 s default clock tolerance.
      h.advance(91_000)
      await sleep(5)
      const err = await failureOf(() => h.lookup(bearer(token)))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
      expect(err.message).toBe('cannot authenticate the caller: the token has expired')
      expect(h.sts.calls).toHaveLength(1)
    }
  })
})

describe('web_identity: callers never share credentials by accident', () => {
  it('unverified: two tokens claiming the same sub get separate STS calls and credentials', async () => {
    const h = await harness({ verify: false })
    const mine = await h.mint({ sub: 'alice', groups: ['admins'] })
    // Not signed by the IdP: only STS could tell, so it must be asked.
    const theirs = await h.mint({ sub: 'alice', groups: ['admins'], by: forger })
    const a = await credentialsOf(h.lookup(bearer(mine)))
    const b = await credentialsOf(h.lookup(bearer(theirs)))
    expect(h.sts.calls).toHaveLength(2)
    expect(h.sts.calls.map((c) => c.params.WebIdentityToken)).toEqual([mine, theirs])
    expect(h.sts.calls.map((c) => c.params.RoleSessionName)).toEqual(['alice', 'alice'])
    expect(a.accessKeyId).not.toBe(b.accessKeyId)
    // And each keeps getting its own.
    expect(h.lookup(bearer(mine))).toEqual({ ready: a })
    expect(h.lookup(bearer(theirs))).toEqual({ ready: b })
  })

  it('verified: a new token of the same issuer + sub reuses the cached credentials', async () => {
    const h = await harness()
    const first = await h.mint({ sub: 'alice', groups: ['admins'] })
    const renewed = await h.mint({ sub: 'alice', groups: ['admins'] })
    expect(renewed).not.toBe(first)
    const a = await credentialsOf(h.lookup(bearer(first)))
    const b = await credentialsOf(h.lookup(bearer(renewed)))
    expect(h.sts.calls).toHaveLength(1)
    expect(b).toBe(a)
  })

  it('verified: the same sub with claims that map to another role gets its own credentials', async () => {
    const h = await harness()
    const a = await credentialsOf(h.lookup(bearer(await h.mint({ sub: 'alice', groups: ['admins'] }))))
    const b = await credentialsOf(h.lookup(bearer(await h.mint({ sub: 'alice', groups: ['dev'] }))))
    expect(h.sts.calls.map((c) => c.params.RoleArn)).toEqual([ROLE.admins, ROLE.dev])
    expect(a.accessKeyId).not.toBe(b.accessKeyId)
  })
})

describe('web_identity: STS failures', () => {
  it('maps ExpiredTokenException to ERR_TOKEN_REJECTED and never retries that token', async () => {
    const h = await harness({ verify: false })
    const token = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'ExpiredTokenException', status: 400 } } })
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(err.code).toBe('ERR_TOKEN_REJECTED')
    expect(err.message).toBe(
      'cannot assume a role for the caller (identity "caller"): STS AssumeRoleWithWebIdentity rejected the token (ExpiredTokenException)',
    )
    expect(err.message).not.toContain(token)
    expect(h.sts.calls).toHaveLength(1)
    // Long past any backoff: still rejected without asking STS.
    for (const wait of [0, 1000, 3_600_000]) {
      h.advance(wait)
      const again = await failureOf(() => h.lookup(bearer(token)))
      expect(again.code).toBe('ERR_TOKEN_REJECTED')
    }
    expect(h.sts.calls).toHaveLength(1)
  })

  // Regression: the SDK names these errors `InvalidIdentityTokenException` and
  // `IDPRejectedClaimException`; matching the bare wire codes used to turn them into ERR_STS_FAILED
  // (502, retried with the same token) instead of ERR_TOKEN_REJECTED (401, never retried).
  it('maps InvalidIdentityToken to ERR_TOKEN_REJECTED and never retries that token', async () => {
    const h = await harness({ verify: false })
    const token = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'InvalidIdentityToken', status: 400 } } })
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(err.code).toBe('ERR_TOKEN_REJECTED')
    expect(err.message).toMatch(
      /^cannot assume a role for the caller \(identity "caller"\): STS AssumeRoleWithWebIdentity rejected the token \(InvalidIdentityToken(Exception)?\)$/,
    )
    expect(err.message).not.toContain(token)
    expect(h.sts.calls).toHaveLength(1)
    // Long past any backoff: still rejected without asking STS.
    for (const wait of [0, 1000, 3_600_000]) {
      h.advance(wait)
      const again = await failureOf(() => h.lookup(bearer(token)))
      expect(again.code).toBe('ERR_TOKEN_REJECTED')
    }
    expect(h.sts.calls).toHaveLength(1)
  })

  it('maps IDPRejectedClaim to ERR_TOKEN_REJECTED', async () => {
    const h = await harness({ verify: false })
    const token = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'IDPRejectedClaim', status: 403 } } })
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(h.sts.calls).toHaveLength(1)
    expect(err.code).toBe('ERR_TOKEN_REJECTED')
  })

  it('rejects concurrent lookups of a rejected token with one STS call', async () => {
    const h = await harness({ sts: { behaviour: { latencyMs: 20 } } })
    const token = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'ExpiredTokenException', status: 400 } } })
    const errors = await Promise.all(Array.from({ length: 100 }, () => failureOf(() => h.lookup(bearer(token)))))
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_TOKEN_REJECTED']))
    expect(h.sts.calls).toHaveLength(1)
  })

  it('maps AccessDenied to ERR_STS_DENIED and never retries that token', async () => {
    const h = await harness({ verify: false, sts: { allowedRoleArns: [ROLE.dev] } })
    const token = await h.mint({ groups: ['admins'] })
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(err.code).toBe('ERR_STS_DENIED')
    expect(err.message).toBe(
      'cannot assume a role for the caller (identity "caller"): STS AssumeRoleWithWebIdentity denied access (AccessDenied)',
    )
    h.advance(120_000)
    expect((await failureOf(() => h.lookup(bearer(token)))).code).toBe('ERR_STS_DENIED')
    expect(h.sts.calls).toHaveLength(1)
    // Another caller mapped to an allowed role is not affected.
    await credentialsOf(h.lookup(bearer(await h.mint({ sub: 'bob', groups: ['dev'] }))))
    expect(h.sts.calls).toHaveLength(2)
  })

  it('asks STS again when the caller comes with a new token (unverified: new cache entry)', async () => {
    const h = await harness({ verify: false })
    const rejected = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'ExpiredTokenException', status: 400 } } })
    expect((await failureOf(() => h.lookup(bearer(rejected)))).code).toBe('ERR_TOKEN_REJECTED')
    const fresh = await h.mint({ groups: ['admins'] })
    const creds = await credentialsOf(h.lookup(bearer(fresh)))
    expect(h.sts.calls).toHaveLength(2)
    expect(h.sts.calls[1]?.params.WebIdentityToken).toBe(fresh)
    expect(creds.accessKeyId).toBe(h.sts.calls[1]?.accessKeyId)
  })

  it('asks STS again when the caller comes with a new token (verified: same entry, new fingerprint)', async () => {
    const h = await harness()
    const rejected = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'ExpiredTokenException', status: 400 } } })
    expect((await failureOf(() => h.lookup(bearer(rejected)))).code).toBe('ERR_TOKEN_REJECTED')
    expect((await failureOf(() => h.lookup(bearer(rejected)))).code).toBe('ERR_TOKEN_REJECTED')
    expect(h.sts.calls).toHaveLength(1)
    const fresh = await h.mint({ groups: ['admins'] })
    const creds = await credentialsOf(h.lookup(bearer(fresh)))
    expect(h.sts.calls).toHaveLength(2)
    expect(h.sts.calls[1]?.params.WebIdentityToken).toBe(fresh)
    expect(creds.accessKeyId).toBe(h.sts.calls[1]?.accessKeyId)
  })

  it('maps Throttling to ERR_STS_FAILED and backs off exponentially (injected clock)', async () => {
    const h = await harness({ verify: false })
    const token = await h.mint({ groups: ['admins'] })
    h.sts.setBehaviour({ failNext: { count: 1000, error: { code: 'Throttling', status: 400 } } })
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(err.code).toBe('ERR_STS_FAILED')
    expect(err.message).toMatch(/^cannot assume a role for the caller \(identity "caller"\): STS AssumeRoleWithWebIdentity failed \(Throttling/)
    // One fetch; the SDK client itself may retry once (maxAttempts 2).
    const perFetch = h.sts.calls.length
    expect(perFetch).toBeGreaterThanOrEqual(1)
    expect(perFetch).toBeLessThanOrEqual(2)

    const attempt = async () => (await failureOf(() => h.lookup(bearer(token)))).code
    // Within the first backoff (1 s): no call.
    expect(await attempt()).toBe('ERR_STS_FAILED')
    h.advance(999)
    expect(await attempt()).toBe('ERR_STS_FAILED')
    expect(h.sts.calls).toHaveLength(perFetch)
    // After it: one more fetch, which fails again and doubles the wait (2 s).
    h.advance(1)
    expect(await attempt()).toBe('ERR_STS_FAILED')
    expect(h.sts.calls).toHaveLength(2 * perFetch)
    h.advance(1999)
    expect(await attempt()).toBe('ERR_STS_FAILED')
    expect(h.sts.calls).toHaveLength(2 * perFetch)
    // Throttling is not token-bound: once the backoff is over and STS recovers, it works.
    h.sts.setBehaviour({ failNext: undefined })
    h.advance(1)
    const creds = await credentialsOf(h.lookup(bearer(token)))
    expect(h.sts.calls).toHaveLength(2 * perFetch + 1)
    expect(creds.accessKeyId).toBe(h.sts.calls.at(-1)?.accessKeyId)
  })
})

describe('web_identity: jwt_authn payload', () => {
  const token = 'token: { from: jwt_authn, payload_key: jwt_payload }'

  it('maps the role from the payload Envoy verified, not from the token', async () => {
    const h = await harness({ verify: false, token })
    const jwt = await h.mint({ sub: 'alice', groups: [] })
    const payload = { iss: ISSUER, sub: 'alice', groups: ['admins'] }
    const creds = await credentialsOf(h.lookup(bearer(jwt, { [JWT_AUTHN]: { jwt_payload: payload } })))
    expect(h.sts.calls[0]?.params).toMatchObject({ RoleArn: ROLE.admins, RoleSessionName: 'alice', WebIdentityToken: jwt })
    expect(creds.accessKeyId).toBe(h.sts.calls[0]?.accessKeyId)
  })

  it('keys Envoy-verified callers by issuer + sub: a renewed token reuses the credentials', async () => {
    const h = await harness({ verify: false, token })
    const payload = { iss: ISSUER, sub: 'alice', groups: ['admins'] }
    const a = await credentialsOf(h.lookup(bearer(await h.mint(), { [JWT_AUTHN]: { jwt_payload: payload } })))
    const b = h.lookup(bearer(await h.mint(), { [JWT_AUTHN]: { jwt_payload: payload } }))
    expect(b).toEqual({ ready: a })
    expect(h.sts.calls).toHaveLength(1)
  })

  it('rejects a header token whose iss or sub differ from the payload as ERR_TOKEN_INVALID', async () => {
    const h = await harness({ verify: false, token })
    const jwt = await h.mint({ sub: 'mallory', groups: ['admins'] })
    for (const payload of [
      { iss: ISSUER, sub: 'alice', groups: ['admins'] },
      { iss: 'https://other.example', sub: 'mallory', groups: ['admins'] },
    ]) {
      const err = syncFailureOf(() => h.lookup(bearer(jwt, { [JWT_AUTHN]: { jwt_payload: payload } })))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
      expect(err.message).toBe('cannot authenticate the caller: the token does not match the jwt_authn payload')
    }
    expect(h.sts.calls).toHaveLength(0)
  })

  it('with local verification too, rejects a mismatching payload', async () => {
    const h = await harness({ token })
    const jwt = await h.mint({ sub: 'alice', groups: ['admins'] })
    const err = await failureOf(() => h.lookup(bearer(jwt, { [JWT_AUTHN]: { jwt_payload: { iss: ISSUER, sub: 'bob' } } })))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(h.sts.calls).toHaveLength(0)
  })

  // Regression: a token found in the verified-token cache used to skip the jwt_authn payload
  // check, so a request rejected on a cold cache was accepted on a warm one.
  it('with local verification, rejects a mismatching payload also when the token was verified before', async () => {
    const h = await harness({ token })
    const jwt = await h.mint({ sub: 'alice', groups: ['admins'] })
    await credentialsOf(h.lookup(bearer(jwt, { [JWT_AUTHN]: { jwt_payload: { iss: ISSUER, sub: 'alice' } } })))
    const err = await failureOf(() => h.lookup(bearer(jwt, { [JWT_AUTHN]: { jwt_payload: { iss: ISSUER, sub: 'bob' } } })))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
  })

  it('reports a payload that was not forwarded as ERR_TOKEN_MISSING', async () => {
    const h = await harness({ verify: false, token })
    const jwt = await h.mint()
    const err = syncFailureOf(() => h.lookup(bearer(jwt)))
    expect(err.code).toBe('ERR_TOKEN_MISSING')
    expect(err.message).toContain('forwarding_namespaces')
  })
})

describe('web_identity: headers to strip', () => {
  it('reports a custom token header, and nothing for Authorization or other identities', async () => {
    const custom = await harness({ verify: false, token: 'token: { from: header, header: x-caller-token }' })
    expect(custom.resolver.headersToStrip('caller')).toEqual(['x-caller-token'])
    expect(custom.resolver.headersToStrip('shared')).toEqual([])
    expect(custom.resolver.headersToStrip('ghost')).toEqual([])
    const jwt = await custom.mint({ groups: ['admins'] })
    const creds = await credentialsOf(
      custom.resolver.lookup('caller', { header: (n) => (n === 'x-caller-token' ? jwt : undefined), metadata: {} }),
    )
    expect(creds.accessKeyId).toBe(custom.sts.calls[0]?.accessKeyId)

    const viaJwtAuthn = await harness({ verify: false, token: 'token: { from: jwt_authn, header: x-jwt, payload_key: p }' })
    expect(viaJwtAuthn.resolver.headersToStrip('caller')).toEqual(['x-jwt'])

    const authorization = await harness({ verify: false })
    expect(authorization.resolver.headersToStrip('caller')).toEqual([])
  })
})

describe('web_identity: refresh ahead', () => {
  it('serves the current credentials while a refresh runs, then the new ones', async () => {
    // 900 s credentials: refreshed min(300 s refresh-ahead, half the lifetime) = 300 s before
    // expiry, i.e. from 600 s on; served until 30 s before expiry.
    const h = await harness({ verify: false, sts: { expiresInSeconds: 900 } })
    const token = await h.mint({ groups: ['admins'] })
    const old = await credentialsOf(h.lookup(bearer(token)))
    expect(old.expiration?.getTime()).toBe(Math.floor(h.clock.t / 1000) * 1000 + 900_000)
    expect(h.sts.calls).toHaveLength(1)

    h.advance(500_000)
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    expect(h.sts.calls).toHaveLength(1)

    h.sts.setBehaviour({ latencyMs: 100 })
    h.advance(110_000)
    // In the refresh window: the old set is served at once, and one refresh starts.
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    await sleep(20)
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    await expect.poll(() => h.sts.calls[1]?.status, { timeout: 2000 }).toBe(200)
    await expect.poll(() => (h.lookup(bearer(token)) as { ready?: AwsCredentials }).ready?.accessKeyId, { timeout: 2000 })
      .toBe(h.sts.calls[1]?.accessKeyId)
    expect(h.sts.calls).toHaveLength(2)
    const fresh = (h.lookup(bearer(token)) as { ready: AwsCredentials }).ready
    expect(fresh.accessKeyId).not.toBe(old.accessKeyId)
    expect(fresh.expiration?.getTime()).toBeGreaterThan(old.expiration?.getTime() ?? Infinity)
    expect(h.sts.calls[1]?.params.WebIdentityToken).toBe(token)
  })

  it('keeps serving the old set when the refresh fails, until it is no longer usable', async () => {
    const h = await harness({ verify: false, sts: { expiresInSeconds: 900 } })
    const token = await h.mint({ groups: ['admins'], expiresIn: 7200 })
    const old = await credentialsOf(h.lookup(bearer(token)))
    h.sts.setBehaviour({ failNext: { count: 1, error: { code: 'ExpiredTokenException', status: 400 } } })
    h.advance(700_000)
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    await expect.poll(() => h.sts.calls[1]?.status, { timeout: 2000 }).toBe(400)
    await sleep(10)
    // The refresh was rejected for this token: still served, and not retried.
    expect(h.lookup(bearer(token))).toEqual({ ready: old })
    expect(h.sts.calls).toHaveLength(2)
    // 30 s before expiry the old set is no longer usable: the rejection is answered.
    h.advance(900_000 - 700_000 - 30_000)
    const err = await failureOf(() => h.lookup(bearer(token)))
    expect(err.code).toBe('ERR_TOKEN_REJECTED')
    expect(h.sts.calls).toHaveLength(2)
  })
})
