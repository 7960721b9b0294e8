import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionNameFrom } from '../../src/credentials/index.js'
import { ROLES, startCallerE2e, type CallerFixture } from './callerFixture.js'
import { rawRequest } from './fixture.js'

async function connect(port: number, prefix: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}${prefix}`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  })
  const client = new Client({ name: 'caller-e2e', version: '1.0.0' })
  await client.connect(transport)
  return client
}

const textOf = (r: unknown) => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('')

/** The role the fake STS issued the access key of a verified upstream request for. */
function roleOf(f: CallerFixture, accessKeyId: string | undefined): string | undefined {
  return f.sts.issued.get(accessKeyId ?? '')?.roleArn
}

const initialize = (id: number | string) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  })

describe('caller identity: OIDC token → role → STS, end to end through the emulator', () => {
  let f: CallerFixture

  beforeAll(async () => {
    f = await startCallerE2e()
  })
  afterAll(async () => {
    await f?.close()
  })

  it('signs two callers with different claims with different roles; a third gets the fallback role', async () => {
    const alice = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub: 'alice', groups: ['admins'] }))
    const bob = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub: 'bob', groups: ['dev'] }))
    const carol = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub: 'carol', groups: ['sales'] }))
    const before = f.upstream.requests.length
    expect(textOf(await alice.callTool({ name: 'echo', arguments: { text: 'from alice' } }))).toContain('from alice')
    expect(textOf(await bob.callTool({ name: 'echo', arguments: { text: 'from bob' } }))).toContain('from bob')
    expect(textOf(await carol.callTool({ name: 'echo', arguments: { text: 'from carol' } }))).toContain('from carol')
    for (const c of [alice, bob, carol]) await c.close()

    const calls = f.upstream.requests.slice(before).filter((r) => r.body.toString().includes('tools/call'))
    expect(calls.map((r) => r.verified)).toEqual([true, true, true])
    expect(calls.map((r) => roleOf(f, r.accessKeyId))).toEqual([ROLES.admins, ROLES.developers, ROLES.fallback])
    // The STS calls were unsigned and carried each caller's session name.
    const exchanges = f.sts.calls.filter((c) => c.action === 'AssumeRoleWithWebIdentity')
    expect(exchanges.map((c) => c.params.RoleSessionName)).toEqual(expect.arrayContaining(['alice', 'bob', 'carol']))
    for (const c of exchanges) expect(c.headers.authorization).toBeUndefined()
    // The caller's bearer token never reaches the upstream.
    for (const r of f.upstream.requests.slice(before)) {
      expect(r.headers.authorization?.[0]).toMatch(/^AWS4-HMAC-SHA256 /)
    }
  })

  it('gives a caller whose sub has "|" and 80 characters a stable, valid session name', async () => {
    const sub = `auth0|${'x'.repeat(74)}`
    expect(sub.length).toBe(80)
    const expected = sessionNameFrom(sub)
    expect(expected).toMatch(/^[\w+=,.@-]{2,64}$/)
    const first = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub, groups: ['admins'] }))
    await first.callTool({ name: 'echo', arguments: { text: 'one' } })
    await first.close()
    const second = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub, groups: ['admins'], extra: 'new token' }))
    await second.callTool({ name: 'echo', arguments: { text: 'two' } })
    await second.close()
    const names = f.sts.calls.filter((c) => c.params.RoleSessionName?.startsWith('auth0-')).map((c) => c.params.RoleSessionName)
    // Same verified issuer + sub: one STS call, whatever the token; the name is the sanitized one.
    expect(names).toEqual([expected])
  })

  it('answers 401 with www-authenticate and a JSON-RPC error for a missing, expired, forged or malformed token', async () => {
    const expired = await f.token({ sub: 'eve', groups: ['admins'] }, { expiresInSeconds: -120 })
    const forged = await f.token({ sub: 'eve', groups: ['admins'] }, { key: 'rogue' })
    const cases: Array<[string, Record<string, string>, string, string]> = [
      ['missing', {}, 'Bearer', 'ERR_TOKEN_MISSING'],
      ['basic', { authorization: 'Basic dXNlcjpwYXNz' }, 'Bearer', 'ERR_TOKEN_MISSING'],
      ['expired', { authorization: `Bearer ${expired}` }, 'Bearer error="invalid_token"', 'ERR_TOKEN_INVALID'],
      ['forged', { authorization: `Bearer ${forged}` }, 'Bearer error="invalid_token"', 'ERR_TOKEN_INVALID'],
      ['malformed', { authorization: 'Bearer not-a-jwt' }, 'Bearer error="invalid_token"', 'ERR_TOKEN_INVALID'],
    ]
    const before = f.upstream.requests.length
    const stsBefore = f.sts.calls.length
    for (const [name, headers, challenge, code] of cases) {
      const res = await rawRequest(f.envoy.port, 'POST', '/caller-mcp', { 'content-type': 'application/json', ...headers }, initialize(`id-${name}`))
      expect({ name, status: res.status }).toEqual({ name, status: 401 })
      expect(res.headers['www-authenticate']).toBe(challenge)
      const body = JSON.parse(res.body) as { id: string; error: { code: number; message: string; data: { code: string } } }
      expect(body.id).toBe(`id-${name}`)
      expect(body.error.code).toBe(-32001)
      expect(body.error.data.code).toBe(code)
      for (const t of [expired, forged]) expect(res.body).not.toContain(t)
    }
    expect(f.upstream.requests.length).toBe(before)
    expect(f.sts.calls.length).toBe(stsBefore)
  })

  it('answers 403 with a JSON-RPC error that names no role when no rule matches and there is no fallback', async () => {
    const token = await f.token({ sub: 'mallory', groups: ['sales'] })
    const res = await rawRequest(f.envoy.port, 'POST', '/strict-mcp', { 'content-type': 'application/json', authorization: `Bearer ${token}` }, initialize(5))
    expect(res.status).toBe(403)
    const body = JSON.parse(res.body) as { id: number; error: { code: number; message: string; data: { code: string } } }
    expect(body).toMatchObject({ id: 5, error: { code: -32003, data: { code: 'ERR_ROLE_NOT_MAPPED' } } })
    expect(body.error.message).not.toMatch(/arn:aws/)
  })

  it('waits for a slow STS within Envoy’s 200 ms message timeout by extending it; without max_message_timeout Envoy answers 504', async () => {
    f.sts.setBehaviour({ latencyMs: 400 })
    try {
      const slowOk = await f.token({ sub: 'slow-ok', groups: ['admins'] })
      const overridesBefore = f.envoy.stats.overrideMessageTimeoutReceived
      const ok = await rawRequest(f.envoy.port, 'POST', '/caller-mcp', { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${slowOk}` }, initialize(1))
      expect(ok.status).toBe(200)
      expect(f.envoy.stats.overrideMessageTimeoutReceived).toBe(overridesBefore + 1)

      const slowFail = await f.token({ sub: 'slow-fail', groups: ['admins'] })
      const timedOut = await rawRequest(f.envoyNoOverride.port, 'POST', '/caller-mcp', { 'content-type': 'application/json', authorization: `Bearer ${slowFail}` }, initialize(2))
      expect(timedOut.status).toBe(504)
      expect(f.envoyNoOverride.stats.overrideMessageTimeoutIgnored).toBeGreaterThanOrEqual(1)
    } finally {
      f.sts.setBehaviour({ latencyMs: 0 })
    }
  })

  it('keeps tokens and credentials out of logs', async () => {
    const everything = f.logs.join('')
    for (const c of f.sts.issued.values()) {
      expect(everything).not.toContain(c.secretAccessKey)
      expect(everything).not.toContain(c.sessionToken)
    }
    for (const call of f.sts.calls) {
      const token = call.params.WebIdentityToken
      if (token !== undefined) expect(everything).not.toContain(token)
    }
    expect(everything).toContain('"identity":"caller"')
  })
})

describe('credential rotation under parallel load', () => {
  let f: CallerFixture

  beforeAll(async () => {
    // Credentials live 4 s: refreshed about every 2 s, never used within 1 s of expiry. The
    // recommended Envoy settings (envoy/envoy.yaml), with a 5 s message_timeout — the whole chain shares
    // one 2-core process here, and 200 simultaneous streams queue for longer than 200 ms — and
    // ext_proc_graceful_grpc_close, without which Node's HTTP/2 server answers a flood of stream
    // resets under this concurrency with GOAWAY (see README, troubleshooting).
    f = await startCallerE2e({ credentialSeconds: 4, messageTimeoutMs: 5000, gracefulGrpcClose: true })
  })
  afterAll(async () => {
    await f?.close()
  })

  it('never produces a signature the verifier rejects while credentials rotate every few seconds (200 parallel requests per wave)', async () => {
    const alice = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub: 'alice', groups: ['admins'] }))
    const bob = await connect(f.envoy.port, '/caller-mcp', await f.token({ sub: 'bob', groups: ['dev'] }))
    const before = f.upstream.requests.length
    const started = Date.now()
    let waves = 0
    while (Date.now() - started < 9000) {
      const wave = Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? alice : bob).callTool({ name: 'echo', arguments: { text: `w${waves}-${i}` } }),
      )
      const results = await Promise.all(wave)
      results.forEach((r, i) => expect(textOf(r)).toContain(`w${waves}-${i}`))
      waves++
      await new Promise((r) => setTimeout(r, 250))
    }
    await alice.close()
    await bob.close()

    const seen = f.upstream.requests.slice(before)
    const rejected = seen.filter((r) => !r.verified)
    expect(rejected.map((r) => r.failureReason)).toEqual([])
    expect(seen.length).toBeGreaterThanOrEqual(waves * 200)
    const keys = new Set(seen.map((r) => r.accessKeyId))
    // Rotation really happened: several credential sets per caller over ~9 s.
    expect(keys.size).toBeGreaterThanOrEqual(4)
    const exchanges = f.sts.calls.filter((c) => c.action === 'AssumeRoleWithWebIdentity')
    // One refresh at a time per caller: about one exchange per caller per 2 s, not per request.
    expect(exchanges.length).toBeLessThan(30)
  })
})
