/**
 * Adversarial clients end to end (Envoy emulator → real server → SigV4-verifying echo upstream,
 * fake STS that checks web identity token signatures like AWS does):
 *
 * - a caller cannot obtain another caller's cached credentials: the same `sub` from another
 *   issuer (two web_identity identities, different JWKS and issuers, the same role), the same
 *   claims in a token that is not validly signed, a replayed token after expiry;
 * - a client cannot pick an identity outside the route's allowlist, cannot inject `x-amz-*`,
 *   `authorization` or `x-mcp-sigv4-*` request headers that survive to the upstream or change the
 *   signing target, cannot change the signed host or path;
 * - a client cannot smuggle a JSON-RPC message past the policy (duplicate keys, escaped
 *   duplicates, batches mixing allowed and denied calls, content-type and encoding tricks);
 * - secrets never appear in logs, metrics, error bodies or the reply to a forced internal error.
 */
import { KeyObject, verify as verifySignature } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Metrics } from '../../src/metrics/index.js'
import { startEnvoyEmulator, type EmulatedRoute, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream, type RecordedUpstreamRequest, type SigV4Upstream, type UpstreamEcho } from '../harness/sigv4VerifyingUpstream.js'
import { AWS_MCP_HOST, rawRequest, type RawResponse } from '../e2e/fixture.js'
import {
  ALT,
  BASE,
  PROFILE_KEYS,
  profileSecrets,
  settleStreams,
  sleep,
  startReliabilityApp,
  watchProcess,
  type ProcessWatch,
  type ReliabilityApp,
} from './support.js'

const ISSUER_A = 'https://idp-a.adversarial.example'
const ISSUER_B = 'https://idp-b.adversarial.example'
const AUDIENCE = 'mcp-gateway'
const SHARED_ROLE = 'arn:aws:iam::123456789012:role/shared-callers'
const AGENT_HEADER = 'x-mcp-agent'
const SCOPED_ROLE = 'arn:aws:iam::123456789012:role/scoped'
const SESSION_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

type Keys = { privateKey: CryptoKey; publicKey: CryptoKey }

/** Verifies an ES256 compact JWT against public keys, synchronously (what STS does with the IdP's JWKS). */
function signedByOneOf(token: string, keys: KeyObject[]): boolean {
  const [header, payload, signature] = token.split('.')
  if (header === undefined || payload === undefined || signature === undefined) return false
  const data = Buffer.from(`${header}.${payload}`)
  const sig = Buffer.from(signature, 'base64url')
  return keys.some((key) => verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig))
}

interface Sent extends RawResponse {
  record: RecordedUpstreamRequest | undefined
}

describe('adversarial clients', () => {
  let f: ReliabilityApp
  let sts: FakeSts
  let upstream: SigV4Upstream
  let envoy: EnvoyEmulator
  let watch: ProcessWatch
  let keyA: Keys
  let keyB: Keys
  let rogue: Keys
  /** Every token handed out, to look for in logs and replies. */
  const tokens: string[] = []
  /** Every local reply (error) body and header set the server produced. */
  const replies: string[] = []
  let marker = 0

  async function token(
    claims: Record<string, unknown>,
    options: { key?: Keys; issuer?: string; kid?: string; expiresAt?: number } = {},
  ): Promise<string> {
    const t = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? 'a1' })
      .setIssuer(options.issuer ?? ISSUER_A)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.expiresAt ?? Math.floor(Date.now() / 1000) + 3600)
      .sign((options.key ?? keyA).privateKey)
    tokens.push(t)
    return t
  }

  /**
   * Sends one request through the emulator; the body carries a unique marker so the upstream
   * record (if any) can be found.
   */
  async function send(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Sent> {
    marker += 1
    const tag = `m${marker}`
    const withMarker = body === undefined ? undefined : body
    const res = await rawRequest(envoy.port, method, path.includes('?') ? `${path}&tag=${tag}` : `${path}?tag=${tag}`, headers, withMarker)
    const record = upstream.requests.find((r) => r.path.includes(`tag=${tag}`))
    if (res.headers['x-mcp-sigv4-error'] !== undefined) replies.push(JSON.stringify(res.headers) + res.body)
    return { ...res, record }
  }

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    send('POST', path, { 'content-type': 'application/json', ...headers }, body)

  function expectSignedBy(res: Sent, accessKeyId: string | ((id: string) => boolean)): void {
    expect({ status: res.status, error: res.headers['x-mcp-sigv4-error'] }).toEqual({ status: 200, error: undefined })
    expect(res.record?.verified).toBe(true)
    const id = res.record?.accessKeyId ?? ''
    if (typeof accessKeyId === 'string') expect(id).toBe(accessKeyId)
    else expect(accessKeyId(id)).toBe(true)
  }

  function expectRefused(res: Sent, status: number, code: string): void {
    expect({ status: res.status, code: res.headers['x-mcp-sigv4-error'], forwarded: res.record !== undefined }).toEqual({ status, code, forwarded: false })
  }

  beforeAll(async () => {
    watch = watchProcess()
    keyA = await generateKeyPair('ES256', { extractable: true })
    keyB = await generateKeyPair('ES256', { extractable: true })
    rogue = await generateKeyPair('ES256', { extractable: true })
    const jwk = async (k: Keys, kid: string) => ({ ...(await exportJWK(k.publicKey)), kid, alg: 'ES256', use: 'sig' })
    const jwksA = { keys: [await jwk(keyA, 'a1')] }
    const jwksB = { keys: [await jwk(keyB, 'b1')] }
    // Like AWS STS: only tokens really signed by a registered IdP key are exchanged.
    const idpKeys = [KeyObject.from(keyA.publicKey), KeyObject.from(keyB.publicKey)]
    sts = await startFakeSts({ acceptWebIdentityToken: (t) => signedByOneOf(t, idpKeys) })
    f = await startReliabilityApp({
      identities: ({ dir }) => {
        writeFileSync(join(dir, 'jwks-a.json'), JSON.stringify(jwksA))
        writeFileSync(join(dir, 'jwks-b.json'), JSON.stringify(jwksB))
        const verify = (issuer: string, file: string) =>
          `{ issuer: "${issuer}", audiences: ["${AUDIENCE}"], jwks_file: "${join(dir, file)}", clock_tolerance_seconds: 0 }`
        return `  idp_a: { kind: web_identity, verify: ${verify(ISSUER_A, 'jwks-a.json')}, fallback_role_arn: "${SHARED_ROLE}", endpoint: "${sts.endpoint}" }
  idp_b: { kind: web_identity, verify: ${verify(ISSUER_B, 'jwks-b.json')}, fallback_role_arn: "${SHARED_ROLE}", session_name_prefix: "idp-b.", endpoint: "${sts.endpoint}" }
  unverified: { kind: web_identity, fallback_role_arn: "${SHARED_ROLE}", endpoint: "${sts.endpoint}" }
  scoped:
    kind: web_identity
    verify: ${verify(ISSUER_A, 'jwks-a.json')}
    roles:
      - { role_arn: "${SCOPED_ROLE}", priority: 1, match: { claim: groups, values: [admins] } }
      - { role_arn: "${SCOPED_ROLE}", priority: 2, match: { claim: groups, values: [dev] }, session_policy: '${SESSION_POLICY}' }
    endpoint: "${sts.endpoint}"
`
      },
      yaml: () => `
mcp:
  identity_override: { meta_key: mcp-sigv4/identity, argument: aws_profile }
  policies:
    ops:
      agent: { header: ${AGENT_HEADER} }
      agents:
        reader: { allow: { tools: ["echo", "get_*"] } }
`,
    })
    const known = (): Record<string, KnownCredential> => {
      const all: Record<string, KnownCredential> = { ...PROFILE_KEYS }
      for (const [id, c] of sts.issued) if (c.expiration.getTime() > Date.now()) all[id] = { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }
      return all
    }
    upstream = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST }, mcp: false })
    const route = (name: string, keys: Record<string, string>, extra: Partial<EmulatedRoute> = {}): EmulatedRoute => ({
      name,
      prefix: `/${name}`,
      metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', ...keys } } },
      hostRewriteLiteral: AWS_MCP_HOST,
      regexRewrite: { pattern: /^.*$/, substitution: '/mcp' },
      upstream: { host: '127.0.0.1', port: upstream.port },
      ...extra,
    })
    envoy = await startEnvoyEmulator({
      extProcAddress: `127.0.0.1:${f.app.grpcPort}`,
      messageTimeoutMs: 2000,
      maxMessageTimeoutMs: 10_000,
      routes: [
        route('plain', {}),
        {
          ...route('grpc-keys', {}),
          metadata: undefined,
          grpcInitialMetadata: { 'x-mcp-sigv4-host': AWS_MCP_HOST, 'x-mcp-sigv4-path': '/mcp' },
        },
        route('override', { identities: 'alt' }),
        route('policy', { policy: 'ops' }),
        route('idp-a', { identity: 'idp_a' }),
        route('idp-b', { identity: 'idp_b' }),
        route('unverified', { identity: 'unverified' }),
        route('scoped', { identity: 'scoped' }),
      ],
    })
  })
  afterAll(async () => {
    await envoy?.close()
    await f?.close()
    await Promise.all([upstream?.close(), sts?.close()])
    watch?.stop()
  })

  const call = (id: number | string, tool: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: {}, ...extra } })

  describe('credentials of another caller', () => {
    it('the same sub from another issuer (same role) gets its own STS exchange and credentials', async () => {
      const stsBefore = sts.calls.length
      const a = await post('/idp-a', call(1, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice' })}` })
      const b = await post('/idp-b', call(2, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice' }, { key: keyB, issuer: ISSUER_B, kid: 'b1' })}` })
      expectSignedBy(a, (id) => sts.issued.get(id)?.roleArn === SHARED_ROLE)
      expectSignedBy(b, (id) => sts.issued.get(id)?.roleArn === SHARED_ROLE)
      expect(b.record?.accessKeyId).not.toBe(a.record?.accessKeyId)
      const exchanges = sts.calls.slice(stsBefore)
      expect(exchanges.map((c) => [c.params.RoleArn, c.params.RoleSessionName])).toEqual([
        [SHARED_ROLE, 'alice'],
        [SHARED_ROLE, 'idp-b.alice'],
      ])
      // alice@A again: cached, no STS call, her own key.
      const again = await post('/idp-a', call(3, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice', other: 1 })}` })
      expectSignedBy(again, a.record?.accessKeyId as string)
      expect(sts.calls.length).toBe(stsBefore + 2)
    })

    it("alice@B's token on alice@A's route, and alice's claims signed by a rogue key, are 401 without an STS call", async () => {
      const stsBefore = sts.calls.length
      const fromB = await post('/idp-a', call(4, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice' }, { key: keyB, issuer: ISSUER_B, kid: 'b1' })}` })
      const forged = await post('/idp-a', call(5, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice' }, { key: rogue })}` })
      const wrongIssuer = await post('/idp-a', call(6, 'echo'), { authorization: `Bearer ${await token({ sub: 'alice' }, { issuer: ISSUER_B })}` })
      for (const res of [fromB, forged, wrongIssuer]) expectRefused(res, 401, 'ERR_TOKEN_INVALID')
      expect(sts.calls.length).toBe(stsBefore)
    })

    it('without local verification: the same claims in a forged token never reach the cached credentials (STS rejects it: 401)', async () => {
      const real = await token({ sub: 'alice' })
      const first = await post('/unverified', call(7, 'echo'), { authorization: `Bearer ${real}` })
      expectSignedBy(first, (id) => sts.issued.get(id)?.roleArn === SHARED_ROLE)
      const cachedKey = first.record?.accessKeyId as string
      // Same header and claims, other signature.
      const forged = await token({ sub: 'alice' }, { key: rogue })
      expect(forged.split('.').slice(0, 1)).toEqual(real.split('.').slice(0, 1))
      const stsBefore = sts.calls.length
      const res = await post('/unverified', call(8, 'echo'), { authorization: `Bearer ${forged}` })
      expectRefused(res, 401, 'ERR_TOKEN_REJECTED')
      // The forged token was exchanged on its own (keyed by its digest), not served from cache.
      expect(sts.calls.slice(stsBefore).map((c) => [c.params.WebIdentityToken === forged, c.errorCode])).toEqual([[true, 'InvalidIdentityToken']])
      // The real token still works, with the credentials cached for it.
      expectSignedBy(await post('/unverified', call(9, 'echo'), { authorization: `Bearer ${real}` }), cachedKey)
    })

    it("a caller's first exchange under a scoped-down rule carries the rule's session policy (control)", async () => {
      const stsBefore = sts.calls.length
      const res = await post('/scoped', call(14, 'echo'), { authorization: `Bearer ${await token({ sub: 'dave', groups: ['dev'] })}` })
      expectSignedBy(res, (id) => sts.issued.get(id)?.roleArn === SCOPED_ROLE)
      expect(sts.calls.slice(stsBefore).map((c) => [c.params.RoleArn, c.params.Policy])).toEqual([[SCOPED_ROLE, SESSION_POLICY]])
    })

    // Regression (fixed): with `verify`, the per-caller cache key was
    // (identity, role ARN, session name, issuer + subject) — it leaves out the matched rule's
    // scope-down (`session_policy`, `policy_arns`, `duration_seconds`). Two rules for the same
    // role with different scope-downs therefore share one cache entry: a caller whose new token
    // selects the scoped-down rule (say, after leaving the `admins` group) keeps being signed
    // with the unscoped credentials cached for the earlier token, until they expire (up to
    // duration_seconds, 12 h at most); the reverse hands a stale scoped set to an admin.
    // Observed: no second STS call, the same access key. Expected: a new AssumeRoleWithWebIdentity
    // carrying the rule's Policy, and another access key.
    it("a caller whose claims now select a scoped-down rule of the same role gets scoped credentials, not the cached unscoped set", async () => {
      const admin = await post('/scoped', call(15, 'echo'), { authorization: `Bearer ${await token({ sub: 'carol', groups: ['admins'] })}` })
      expectSignedBy(admin, (id) => sts.issued.get(id)?.roleArn === SCOPED_ROLE)
      const stsBefore = sts.calls.length
      const dev = await post('/scoped', call(16, 'echo'), { authorization: `Bearer ${await token({ sub: 'carol', groups: ['dev'] })}` })
      expectSignedBy(dev, (id) => sts.issued.has(id))
      expect(sts.calls.slice(stsBefore).map((c) => c.params.Policy)).toEqual([SESSION_POLICY])
      expect(dev.record?.accessKeyId).not.toBe(admin.record?.accessKeyId)
    })

    // The RoleSessionName comes from `session_name_claim`: `erin` of IdP A and `erin` of IdP B,
    // mapped to one role, would be one AWS principal (assumed-role/shared-callers/erin) for AWS
    // authorization, CloudTrail and the AWS MCP Server. `session_name_prefix` on IdP B's identity
    // keeps them apart.
    it('with session_name_prefix, the same sub from two issuers mapped to one role are two AWS principals', async () => {
      const stsBefore = sts.calls.length
      expectSignedBy(await post('/idp-a', call(17, 'echo'), { authorization: `Bearer ${await token({ sub: 'erin' })}` }), (id) => sts.issued.has(id))
      const fromB = await token({ sub: 'erin' }, { key: keyB, issuer: ISSUER_B, kid: 'b1' })
      expectSignedBy(await post('/idp-b', call(18, 'echo'), { authorization: `Bearer ${fromB}` }), (id) => sts.issued.has(id))
      const [a, b] = sts.calls.slice(stsBefore).map((c) => `${c.params.RoleArn}/${c.params.RoleSessionName}`)
      expect(a).toBe(`${SHARED_ROLE}/erin`)
      expect(b).toBe(`${SHARED_ROLE}/idp-b.erin`)
    })

    it('a replayed token after expiry is 401, although credentials obtained with it are still cached (verified and unverified)', async () => {
      const exp = Math.floor(Date.now() / 1000) + 2
      const verified = await token({ sub: 'bob' }, { expiresAt: exp })
      expectSignedBy(await post('/idp-a', call(10, 'echo'), { authorization: `Bearer ${verified}` }), (id) => sts.issued.has(id))
      // Unverified tokens get a fixed 30 s clock tolerance: one that expired 28 s ago still works.
      const staleExp = Math.floor(Date.now() / 1000) - 28
      const unverified = await token({ sub: 'bob' }, { expiresAt: staleExp })
      expectSignedBy(await post('/unverified', call(11, 'echo'), { authorization: `Bearer ${unverified}` }), (id) => sts.issued.has(id))
      await sleep(Math.max(exp, staleExp + 30) * 1000 - Date.now() + 1100)
      const stsBefore = sts.calls.length
      expectRefused(await post('/idp-a', call(12, 'echo'), { authorization: `Bearer ${verified}` }), 401, 'ERR_TOKEN_INVALID')
      expectRefused(await post('/unverified', call(13, 'echo'), { authorization: `Bearer ${unverified}` }), 401, 'ERR_TOKEN_INVALID')
      expect(sts.calls.length).toBe(stsBefore)
    }, 15_000)
  })

  describe('identity, headers and target', () => {
    it('refuses every identity outside the allowlist (-32602), in _meta, in the argument, in batches; alt itself works', async () => {
      const asks: Array<Record<string, unknown>> = [
        { _meta: { 'mcp-sigv4/identity': 'idp_a' } },
        { _meta: { 'mcp-sigv4/identity': 'default' } },
        { _meta: { 'mcp-sigv4/identity': 'ALT' } },
        { _meta: { 'mcp-sigv4/identity': 'alt ' } },
        { _meta: { 'mcp-sigv4/identity': 'alt,default' } },
        { _meta: { 'mcp-sigv4/identity': ['alt'] } },
        { _meta: { 'mcp-sigv4/identity': 'prod' } },
        { arguments: { aws_profile: 'unverified' } },
        { arguments: { aws_profile: 'alt' }, _meta: { 'mcp-sigv4/identity': 'default' } },
      ]
      for (const [i, ask] of asks.entries()) {
        const res = await post('/override', call(100 + i, 'echo', ask))
        expectRefused(res, 200, 'ERR_IDENTITY_NOT_ALLOWED')
        const parsed = JSON.parse(res.body) as { id: number; error: { code: number } }
        expect({ ask, id: parsed.id, code: parsed.error.code }).toEqual({ ask, id: 100 + i, code: -32602 })
      }
      const batch = `[${call(120, 'echo', { _meta: { 'mcp-sigv4/identity': 'alt' } })},${call(121, 'echo', { _meta: { 'mcp-sigv4/identity': 'idp_b' } })}]`
      expectRefused(await post('/override', batch), 200, 'ERR_IDENTITY_NOT_ALLOWED')
      const mixed = `[${call(122, 'echo', { _meta: { 'mcp-sigv4/identity': 'alt' } })},${call(123, 'echo')}]`
      expectRefused(await post('/override', mixed), 200, 'ERR_MIXED_IDENTITIES')
      // Positive control: alt is allowed, and the override is cut out of what is forwarded.
      const ok = await post('/override', call(124, 'echo', { _meta: { 'mcp-sigv4/identity': 'alt' } }))
      expectSignedBy(ok, ALT.accessKeyId)
      expect(ok.record?.body.toString('utf8')).not.toContain('mcp-sigv4/identity')
    })

    it('cannot switch identity where no allowlist exists, nor through prototype keys or a request header', async () => {
      // On a route without `identities` the body is not read: the override stays inert.
      expectSignedBy(await post('/plain', call(130, 'echo', { _meta: { 'mcp-sigv4/identity': 'alt' } })), BASE.accessKeyId)
      // __proto__ / constructor members are own JSON members, never inherited lookups.
      const proto = '{"jsonrpc":"2.0","id":131,"method":"tools/call","params":{"name":"echo","_meta":{"__proto__":{"mcp-sigv4/identity":"alt"}}}}'
      expectSignedBy(await post('/override', proto), BASE.accessKeyId)
      const ctor = '{"jsonrpc":"2.0","id":132,"method":"tools/call","params":{"name":"echo","_meta":{"constructor":{"prototype":{"mcp-sigv4/identity":"alt"}}}}}'
      expectSignedBy(await post('/override', ctor), BASE.accessKeyId)
      // x-mcp-sigv4-identity is a gRPC metadata key set by Envoy config, not a client header.
      expectSignedBy(await post('/plain', call(133, 'echo'), { 'x-mcp-sigv4-identity': 'alt' }), BASE.accessKeyId)
      expectSignedBy(await post('/override', call(134, 'echo'), { 'x-mcp-sigv4-identity': 'alt', 'mcp-sigv4-identity': 'alt' }), BASE.accessKeyId)
    })

    it('client x-amz-*, authorization, Host and x-mcp-sigv4-* headers neither survive as theirs nor change host, path, region or service', async () => {
      const injected: Record<string, string> = {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIAEVIL000000000000/20000101/us-west-2/evil/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64),
        'x-amz-security-token': 'evil-session-token',
        'x-amz-date': '20000101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-amz-target': 'Evil.Operation',
        'X-Amz-Evil': 'yes',
        'x-amz-user-agent': 'evil',
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-mcp-sigv4-host': 'evil.example',
        'x-mcp-sigv4-path': '/evil',
        'x-mcp-sigv4-region': 'us-west-2',
        'x-mcp-sigv4-service': 'evil',
        'x-mcp-sigv4-identity': 'alt',
      }
      for (const route of ['/plain', '/grpc-keys', '/override', '/policy']) {
        const res = await post(`${route}/../../evil?x=1`, call(140, 'echo'), { ...injected, [AGENT_HEADER]: 'reader' })
        expectSignedBy(res, BASE.accessKeyId)
        const echo = JSON.parse(res.body) as UpstreamEcho
        expect({ route, host: echo.headers.host, path: echo.path.replace(/&tag=.*$/, '') }).toEqual({ route, host: [AWS_MCP_HOST], path: '/mcp?x=1' })
        expect(echo.headers.authorization?.[0]).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${BASE.accessKeyId}/\\d{8}/us-east-1/aws-mcp/aws4_request`))
        expect(echo.headers['x-amz-security-token']).toEqual([BASE.sessionToken])
        expect(echo.headers['x-amz-date']?.[0]).not.toBe('20000101T000000Z')
        expect(echo.headers['x-amz-content-sha256']?.[0]).toMatch(/^[0-9a-f]{64}$/)
        for (const name of ['x-amz-target', 'x-amz-evil', 'x-amz-user-agent']) expect({ route, name, value: echo.headers[name] }).toEqual({ route, name, value: undefined })
      }
    })

    // Regression (fixed): client `x-mcp-sigv4-*` request headers used to reach the upstream as
    // unsigned headers; they never influenced the signing target (test above).
    it('client x-mcp-sigv4-* request headers do not reach the upstream', async () => {
      const res = await post('/plain', call(150, 'echo'), { 'x-mcp-sigv4-host': 'evil.example', 'x-mcp-sigv4-identity': 'alt' })
      expectSignedBy(res, BASE.accessKeyId)
      const echo = JSON.parse(res.body) as UpstreamEcho
      expect(Object.keys(echo.headers).filter((h) => h.startsWith('x-mcp-sigv4-'))).toEqual([])
    })
  })

  describe('smuggling past the policy', () => {
    const reader = { [AGENT_HEADER]: 'reader' }

    it('allows the allowed call and denies the denied one (controls)', async () => {
      expectSignedBy(await post('/policy', call(200, 'echo'), reader), BASE.accessKeyId)
      const denied = await post('/policy', call(201, 'add'), reader)
      expectRefused(denied, 200, 'ERR_POLICY_DENIED')
      expect(JSON.parse(denied.body)).toMatchObject({ id: 201, error: { code: -32003, data: { code: 'ERR_POLICY_DENIED' } } })
    })

    it('refuses duplicate and escaped-duplicate keys where the policy reads (400, -32700)', async () => {
      const bodies = [
        '{"jsonrpc":"2.0","id":210,"method":"tools/list","method":"tools/call","params":{"name":"add"}}',
        '{"jsonrpc":"2.0","id":211,"method":"tools/call","params":{"name":"echo","name":"add"}}',
        '{"jsonrpc":"2.0","id":212,"method":"tools/call","m\\u0065thod":"tools/call","params":{"name":"echo"}}',
        '{"jsonrpc":"2.0","id":213,"method":"tools/list","meth\\u006fd":"tools/call","params":{"name":"add"}}',
        '{"jsonrpc":"2.0","id":214,"method":"tools/call","params":{"name":"echo","n\\u0061me":"add"}}',
        '{"jsonrpc":"2.0","id":215,"method":"tools/call","params":{"name":"echo"},"params":{"name":"add"}}',
        '[{"jsonrpc":"2.0","id":216,"method":"tools/call","params":{"name":"echo","name":"add"}}]',
      ]
      for (const body of bodies) {
        const res = await post('/policy', body, reader)
        expectRefused(res, 400, 'ERR_JSON_RPC_PARSE')
        expect(JSON.parse(res.body)).toMatchObject({ error: { code: -32700 } })
      }
    })

    it('refuses a batch mixing allowed and denied calls as a whole, answering every id', async () => {
      const batch = `[${call(220, 'echo')},${call(221, 'add')},{"jsonrpc":"2.0","method":"notifications/progress"}]`
      const res = await post('/policy', batch, reader)
      expectRefused(res, 200, 'ERR_POLICY_DENIED')
      const answers = JSON.parse(res.body) as Array<{ id: number; error: { data: { code: string } } }>
      expect(answers.map((a) => a.id).sort()).toEqual([220, 221])
      // Notifications only: 202, nothing forwarded.
      const notes = `[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"add"}},{"jsonrpc":"2.0","method":"notifications/x"}]`
      expectRefused(await post('/policy', notes, reader), 202, 'ERR_POLICY_DENIED')
    })

    it('decides the body whatever the content type or declared method, and refuses what it cannot read', async () => {
      const denied = call(230, 'add')
      for (const contentType of ['text/plain', 'application/json; charset=utf-8', 'application/x-json', 'application/octet-stream', 'multipart/form-data; boundary=x', '']) {
        const res = await send('POST', '/policy', { ...reader, ...(contentType === '' ? {} : { 'content-type': contentType }) }, denied)
        expect({ contentType, status: res.status, code: res.headers['x-mcp-sigv4-error'], forwarded: res.record !== undefined }).toEqual({
          contentType,
          status: 200,
          code: 'ERR_POLICY_DENIED',
          forwarded: false,
        })
      }
      // A header that claims a harmless method does not replace reading the body.
      expectRefused(await post('/policy', denied, { ...reader, 'mcp-method': 'tools/list' }), 200, 'ERR_POLICY_DENIED')
      // Encodings the policy cannot read are refused, not forwarded unread.
      const unreadable: Array<[string, Buffer, Record<string, string>]> = [
        ['utf-16le', Buffer.from(`\ufeff${denied}`, 'utf16le'), { 'content-type': 'application/json; charset=utf-16' }],
        ['utf-16le without BOM', Buffer.from(denied, 'utf16le'), { 'content-type': 'application/json; charset=utf-16le' }],
        ['utf-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(denied)]), {}],
        ['gzip', gzipSync(denied), { 'content-encoding': 'gzip' }],
        ['two documents', Buffer.from(`${call(231, 'echo')}\n${denied}`), {}],
        ['invalid utf-8', Buffer.concat([Buffer.from(denied.slice(0, -2)), Buffer.from([0xff]), Buffer.from('}}')]), {}],
        ['deep nesting', Buffer.from(`{"jsonrpc":"2.0","id":232,"method":"tools/call","params":{"name":"add","arguments":${'['.repeat(200)}${']'.repeat(200)}}}`), {}],
      ]
      for (const [name, body, headers] of unreadable) {
        const res = await post('/policy', body, { ...reader, ...headers })
        expect({ name, status: res.status, code: res.headers['x-mcp-sigv4-error'], forwarded: res.record !== undefined }).toEqual({
          name,
          status: 400,
          code: 'ERR_JSON_RPC_PARSE',
          forwarded: false,
        })
      }
    })

    it('a GET or DELETE carrying a denied call in its body is not forwarded with that body unchecked', async () => {
      for (const method of ['GET', 'DELETE', 'PUT']) {
        const body = call(240, 'add')
        // Node sends a GET/DELETE body only with an explicit content-length.
        const res = await send(method, '/policy', { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...reader }, body)
        expect({ method, forwarded: res.record !== undefined, code: res.headers['x-mcp-sigv4-error'] }).toEqual({ method, forwarded: false, code: 'ERR_POLICY_DENIED' })
      }
    })

    it('an unknown agent, or none, is refused', async () => {
      expectRefused(await post('/policy', call(250, 'echo'), { [AGENT_HEADER]: 'admin' }), 200, 'ERR_POLICY_DENIED')
      expectRefused(await post('/policy', call(251, 'echo')), 200, 'ERR_AGENT_MISSING')
    })
  })

  describe('secrets', () => {
    it('a forced internal error: gRPC INTERNAL with a generic message, Envoy 500, no secret, the server keeps serving', async () => {
      // A metrics registry whose request counter throws once: an unexpected failure inside the
      // stream (not a SignerError), the path that ends a stream with INTERNAL.
      const metrics = new Metrics({ defaultMetrics: false })
      let armed = true
      const inc = metrics.requests.inc.bind(metrics.requests)
      metrics.requests.inc = ((...args: Parameters<typeof inc>) => {
        if (armed) {
          armed = false
          throw new Error('forced failure while counting a request')
        }
        return inc(...args)
      }) as typeof metrics.requests.inc
      const g = await startReliabilityApp({ app: { metrics } })
      const other = await startEnvoyEmulator({
        extProcAddress: `127.0.0.1:${g.app.grpcPort}`,
        messageTimeoutMs: 2000,
        routes: [
          {
            name: 'plain',
            prefix: '/plain',
            metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp' } } },
            hostRewriteLiteral: AWS_MCP_HOST,
            regexRewrite: { pattern: /^.*$/, substitution: '/mcp' },
            upstream: { host: '127.0.0.1', port: upstream.port },
          },
        ],
      })
      try {
        const broken = await rawRequest(other.port, 'POST', '/plain', { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` }, call(300, 'echo'))
        expect(broken.status).toBe(500)
        const record = other.stats.requests[0]
        expect(record?.localReply?.details).toBe('ext_proc_error_gRPC_error_13{internal_error_in_the_ext_proc_server}')
        expect(record?.upstream).toBeUndefined()
        const ok = await rawRequest(other.port, 'POST', '/plain', { 'content-type': 'application/json' }, call(301, 'echo'))
        expect(ok.status).toBe(200)
        expect(g.logs.filter((l) => l.includes('internal error in stream processing')).length).toBe(1)
        expect(await settleStreams(g.app)).toBe(0)
        const text = g.logs.join('') + broken.body + JSON.stringify(broken.headers) + JSON.stringify(record?.received ?? [])
        for (const secret of [...profileSecrets(), ...tokens]) expect(text.includes(secret)).toBe(false)
      } finally {
        await other.close()
        await g.close()
      }
    })

    it('no secret, token or caller subject in the logs, the metrics, or any error reply of this suite', async () => {
      expect(await settleStreams(f.app)).toBe(0)
      expect(watch.unhandled).toEqual([])
      const metrics = await (await fetch(`http://127.0.0.1:${f.app.httpPort}/metrics`)).text()
      const secrets = [...profileSecrets(), ...tokens, ...tokens.map((t) => t.split('.')[2] as string)]
      for (const c of sts.issued.values()) secrets.push(c.secretAccessKey, c.sessionToken)
      const logs = f.logs.join('')
      expect(replies.length).toBeGreaterThan(40)
      for (const secret of secrets) {
        expect({ inLogs: logs.includes(secret), inMetrics: metrics.includes(secret), inReplies: replies.some((r) => r.includes(secret)) }).toEqual({
          inLogs: false,
          inMetrics: false,
          inReplies: false,
        })
      }
      for (const subject of ['alice', 'bob']) expect(metrics).not.toMatch(new RegExp(`"${subject}"`))
      // The log has one line per request, and they name no token or subject either.
      expect(logs).not.toMatch(/"(alice|bob)"/)
    })
  })
})
