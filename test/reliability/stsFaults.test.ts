/**
 * STS faults end to end: the Envoy emulator (200 ms message timeout, 10 s max_message_timeout, as
 * recommended) in front of the real server, fake STS endpoints behind it, and a SigV4-verifying
 * upstream (aws4) that accepts only unexpired credentials.
 *
 * Faults: a hanging STS, an answer slower than `sts.timeout_ms`, 500 and 503, throttling,
 * malformed XML, credentials issued already expired (0 s and -60 s lifetimes), and an endpoint
 * that accepts TCP connections and never answers. For each: every affected request gets the
 * documented error (502 `ERR_STS_FAILED`, or 502 `ERR_CREDENTIALS_UNAVAILABLE` for expired
 * credentials) as a JSON-RPC error with its id, within `sts.timeout_ms` plus a margin and before
 * Envoy's own timeout; concurrent requests share one STS call; requests during the backoff fail
 * fast without calling STS; other identities (cached on the same STS, on another STS, profiles,
 * web_identity callers) keep being served; and the identity signs again, verified, once STS is
 * back and the backoff has passed.
 */
import { writeFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEnvoyEmulator, type EmulatedRoute, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts, type StsBehaviour } from '../harness/fakeSts.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream, type SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import { AWS_MCP_HOST, rawRequest, type RawResponse } from '../e2e/fixture.js'
import {
  ALT,
  BASE,
  PROFILE_KEYS,
  settleStreams,
  sleep,
  startReliabilityApp,
  watchProcess,
  type ProcessWatch,
  type ReliabilityApp,
} from './support.js'

const STS_TIMEOUT_MS = 600
const BACKOFF_INITIAL_MS = 500
const BACKOFF_MAX_MS = 1000
/** Scheduling slack on a loaded 2-core machine, on top of the STS timeout. */
const SLACK_MS = 900
const ISSUER = 'https://idp.sts-faults.example'
const AUDIENCE = 'mcp-gateway'
/** Lifetime the rotating identity's STS gives every credential set. */
const ROTATING_SECONDS = 6
const ROLE = (name: string) => `arn:aws:iam::123456789012:role/${name}`

/** Faults applied to the main fake STS, and how each is undone. */
const FAULTS: Array<{ name: string; behaviour: Partial<StsBehaviour>; slow: boolean }> = [
  { name: 'hang', behaviour: { hang: true }, slow: true },
  { name: 'slow', behaviour: { latencyMs: STS_TIMEOUT_MS + 1500 }, slow: true },
  { name: '500', behaviour: { failNext: { count: 100_000, error: { code: 'InternalFailure', status: 500 } } }, slow: false },
  { name: '503', behaviour: { failNext: { count: 100_000, error: { code: 'ServiceUnavailable', status: 503 } } }, slow: false },
  { name: 'throttling', behaviour: { failNext: { count: 100_000, error: { code: 'Throttling', status: 400 } } }, slow: false },
  { name: 'malformed', behaviour: { malformed: true }, slow: false },
]
const HEALTHY_BEHAVIOUR: StsBehaviour = { latencyMs: 0, failNext: undefined, hang: false, malformed: false }

/**
 * A TCP endpoint that accepts connections and never answers; with `answering` it forwards new
 * connections to `target` instead (the endpoint "comes back").
 */
async function startBlackhole(targetPort: number): Promise<{ port: number; answering: boolean; accepted: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const state = { port: 0, answering: false, accepted: 0, close: async () => undefined as void }
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    state.accepted += 1
    if (!state.answering) return
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => socket.destroy())
    socket.pipe(upstream).pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as { port: number }).port
  state.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return state
}

const body = (id: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' })

interface Timed extends RawResponse {
  elapsedMs: number
  id: string
}

let counter = 0

describe('STS faults, end to end through the emulator', () => {
  let f: ReliabilityApp
  let stsMain: FakeSts
  let stsOther: FakeSts
  let stsExpired0: FakeSts
  let stsExpiredNeg: FakeSts
  let stsRotating: FakeSts
  let blackhole: Awaited<ReturnType<typeof startBlackhole>>
  let upstream: SigV4Upstream
  let envoy: EnvoyEmulator
  let watch: ProcessWatch
  let signingKey: CryptoKey
  const faultsSurvived: string[] = []

  const token = (sub: string) =>
    new SignJWT({ sub, groups: ['dev'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(signingKey)

  /** One POST through the emulator; `route` is the identity name (or `caller`). */
  async function send(route: string, headers: Record<string, string> = {}): Promise<Timed> {
    counter += 1
    const id = `req-${counter}`
    const started = performance.now()
    const res = await rawRequest(envoy.port, 'POST', `/id/${route}`, { 'content-type': 'application/json', ...headers }, body(id))
    return { ...res, elapsedMs: performance.now() - started, id }
  }

  /** A documented error reply: status, error header, JSON-RPC error with the request's id. */
  function expectError(res: Timed, status: number, code: string): void {
    expect({ status: res.status, code: res.headers['x-mcp-sigv4-error'] }).toEqual({ status, code })
    const parsed = JSON.parse(res.body) as { id: string; error: { code: number; message: string; data: { code: string } } }
    expect(parsed.id).toBe(res.id)
    expect(parsed.error.data.code).toBe(code)
    expect(parsed.error.code).toBe(-32603)
  }

  /** A signed, verified 200 with credentials of `accessKey` (or of `role` from any STS). */
  function expectSigned(res: Timed, check: { accessKey?: string; role?: string }): void {
    expect({ status: res.status, body: res.status === 200 ? '' : res.body }).toEqual({ status: 200, body: '' })
    const record = upstream.requests.find((r) => r.body.toString('utf8') === body(res.id))
    expect(record?.verified).toBe(true)
    if (check.accessKey !== undefined) expect(record?.accessKeyId).toBe(check.accessKey)
    if (check.role !== undefined) {
      const issued = [stsMain, stsOther, stsRotating].map((s) => s.issued.get(record?.accessKeyId ?? '')).find((c) => c !== undefined)
      expect(issued?.roleArn).toBe(check.role)
    }
  }

  /** Requests to identities that must keep working while the main STS misbehaves. */
  async function others(callerToken: string): Promise<Timed[]> {
    const batch = await Promise.all([
      send('default'),
      send('alt'),
      send('cached'),
      send('healthy'),
      send('caller', { authorization: `Bearer ${callerToken}` }),
      send('default'),
      send('cached'),
      send('healthy'),
    ])
    expectSigned(batch[0] as Timed, { accessKey: BASE.accessKeyId })
    expectSigned(batch[1] as Timed, { accessKey: ALT.accessKeyId })
    expectSigned(batch[2] as Timed, { role: ROLE('cached') })
    expectSigned(batch[3] as Timed, { role: ROLE('healthy') })
    expectSigned(batch[4] as Timed, { role: ROLE('callers') })
    return batch
  }

  /** Polls `route` until it is signed again; returns the milliseconds it took. */
  async function recovery(route: string, headers: Record<string, string> = {}): Promise<{ ms: number; last: Timed }> {
    const started = performance.now()
    for (;;) {
      const res = await send(route, headers)
      if (res.status === 200) return { ms: performance.now() - started, last: res }
      if (performance.now() - started > BACKOFF_MAX_MS + STS_TIMEOUT_MS + 4000) {
        throw new Error(`${route} did not recover: ${res.status} ${res.body}`)
      }
      await sleep(50)
    }
  }

  beforeAll(async () => {
    watch = watchProcess()
    const callerKeys: Record<string, KnownCredential> = {
      [BASE.accessKeyId]: PROFILE_KEYS[BASE.accessKeyId] as KnownCredential,
      [ALT.accessKeyId]: PROFILE_KEYS[ALT.accessKeyId] as KnownCredential,
    }
    stsMain = await startFakeSts({ callerCredentials: callerKeys })
    stsOther = await startFakeSts({ callerCredentials: callerKeys })
    stsExpired0 = await startFakeSts({ callerCredentials: callerKeys, expiresInSeconds: 0 })
    stsExpiredNeg = await startFakeSts({ callerCredentials: callerKeys, expiresInSeconds: -60 })
    stsRotating = await startFakeSts({ callerCredentials: callerKeys, expiresInSeconds: ROTATING_SECONDS })
    blackhole = await startBlackhole(stsMain.port)
    const keys = await generateKeyPair('ES256', { extractable: true })
    signingKey = keys.privateKey
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
    const assume = (name: string, endpoint: string, source = 'default') =>
      `  ${name}: { kind: assume_role, role_arn: "${ROLE(name)}", source: ${source}, endpoint: "${endpoint}" }\n`
    f = await startReliabilityApp({
      server: 'credential_wait_timeout_ms: 5000',
      identities: ({ dir }) => {
        writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }))
        return (
          FAULTS.map((fault) => assume(`faulty_${fault.name}`, stsMain.endpoint)).join('') +
          assume('cached', stsMain.endpoint) +
          assume('healthy', stsOther.endpoint, 'alt') +
          assume('expired_zero', stsExpired0.endpoint) +
          assume('expired_negative', stsExpiredNeg.endpoint) +
          assume('rotating', stsRotating.endpoint) +
          assume('blackhole', `http://127.0.0.1:${blackhole.port}`) +
          `  caller:
    kind: web_identity
    verify: { issuer: "${ISSUER}", audiences: ["${AUDIENCE}"], jwks_file: "${join(dir, 'jwks.json')}" }
    fallback_role_arn: "${ROLE('callers')}"
    endpoint: "${stsMain.endpoint}"
`
        )
      },
      yaml: () => `
credentials: { expiry_skew_seconds: 1, failure_backoff_initial_ms: ${BACKOFF_INITIAL_MS}, failure_backoff_max_ms: ${BACKOFF_MAX_MS} }
sts: { region: us-east-1, timeout_ms: ${STS_TIMEOUT_MS} }
`,
    })
    const known = (): Record<string, KnownCredential> => {
      const all: Record<string, KnownCredential> = { ...PROFILE_KEYS }
      const now = Date.now()
      for (const sts of [stsMain, stsOther, stsExpired0, stsExpiredNeg, stsRotating]) {
        for (const [id, c] of sts.issued) if (c.expiration.getTime() > now) all[id] = { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }
      }
      return all
    }
    upstream = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST }, mcp: false })
    const names = [...FAULTS.map((x) => `faulty_${x.name}`), 'default', 'alt', 'cached', 'healthy', 'expired_zero', 'expired_negative', 'rotating', 'blackhole', 'caller']
    const routes: EmulatedRoute[] = names.map((name) => ({
      name: `route_${name}`,
      prefix: `/id/${name}`,
      metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', identity: name } } },
      hostRewriteLiteral: AWS_MCP_HOST,
      regexRewrite: { pattern: /^.*$/, substitution: '/mcp' },
      upstream: { host: '127.0.0.1', port: upstream.port },
    }))
    envoy = await startEnvoyEmulator({ extProcAddress: `127.0.0.1:${f.app.grpcPort}`, routes, messageTimeoutMs: 200, maxMessageTimeoutMs: 10_000 })
  })
  afterAll(async () => {
    await envoy?.close()
    await f?.close()
    await Promise.all([upstream?.close(), stsRotating?.close(), stsMain?.close(), stsOther?.close(), stsExpired0?.close(), stsExpiredNeg?.close(), blackhole?.close()])
    watch?.stop()
  })

  it('serves every healthy identity before the faults (and caches `cached` and a caller)', async () => {
    await others(await token('steady-caller'))
  })

  for (const fault of FAULTS) {
    it(`STS ${fault.name}: 502 ERR_STS_FAILED within sts.timeout_ms, others served meanwhile, recovery after the backoff`, async () => {
      const route = `faulty_${fault.name}`
      const steady = await token('steady-caller')
      const timeoutsBefore = envoy.stats.messageTimeouts
      stsMain.setBehaviour(fault.behaviour)
      const callsBefore = stsMain.calls.length
      // Five concurrent requests of the failing identity, and the others at the same time.
      const [failing, served] = await Promise.all([Promise.all([1, 2, 3, 4, 5].map(() => send(route))), others(steady)])
      for (const res of failing) {
        expectError(res, 502, 'ERR_STS_FAILED')
        expect(res.elapsedMs).toBeLessThan(STS_TIMEOUT_MS + SLACK_MS)
        if (fault.slow) expect(res.elapsedMs).toBeGreaterThanOrEqual(STS_TIMEOUT_MS - 50)
        expect(JSON.parse(res.body).error.message).toMatch(new RegExp(`identity "${route}"`))
      }
      // The others did not wait for the failing STS: sent together, they were answered before it
      // gave up (a timing check only where STS is slow; elsewhere the failure is fast anyway).
      if (fault.slow) for (const res of served) expect(res.elapsedMs).toBeLessThan(Math.min(...failing.map((r) => r.elapsedMs)))
      // One fetch shared by the five (the SDK tries at most twice), not one per request.
      const fetchCalls = stsMain.calls.slice(callsBefore).filter((c) => c.params.RoleArn === ROLE(route)).length
      expect(fetchCalls).toBeGreaterThanOrEqual(1)
      expect(fetchCalls).toBeLessThanOrEqual(2)
      // During the backoff: answered at once, STS not called again.
      const duringBackoff = await send(route)
      expectError(duringBackoff, 502, 'ERR_STS_FAILED')
      expect(duringBackoff.elapsedMs).toBeLessThan(STS_TIMEOUT_MS)
      expect(stsMain.calls.slice(callsBefore).filter((c) => c.params.RoleArn === ROLE(route)).length).toBe(fetchCalls)
      // Envoy's message timeout never fired: the server answered first.
      expect(envoy.stats.messageTimeouts).toBe(timeoutsBefore)

      stsMain.setBehaviour(HEALTHY_BEHAVIOUR)
      const { ms, last } = await recovery(route)
      expectSigned(last, { role: ROLE(route) })
      expect(ms).toBeLessThan(BACKOFF_MAX_MS + STS_TIMEOUT_MS + SLACK_MS)
      faultsSurvived.push(`${fault.name} (recovered in ${Math.round(ms)} ms)`)
    }, 30_000)
  }

  it('credentials issued already expired (0 s and -60 s lifetimes): 502 ERR_CREDENTIALS_UNAVAILABLE, never signed with them', async () => {
    for (const route of ['expired_zero', 'expired_negative']) {
      const before = upstream.requests.length
      const replies = await Promise.all([send(route), send(route), send(route)])
      for (const res of replies) {
        expectError(res, 502, 'ERR_CREDENTIALS_UNAVAILABLE')
        expect(res.elapsedMs).toBeLessThan(STS_TIMEOUT_MS + SLACK_MS)
        expect(JSON.parse(res.body).error.message).toMatch(/already expired/)
      }
      expect(upstream.requests.length).toBe(before)
      const sts = route === 'expired_zero' ? stsExpired0 : stsExpiredNeg
      const calls = sts.calls.length
      expect(calls).toBe(1)
      // Backoff: not hammered.
      expectError(await send(route), 502, 'ERR_CREDENTIALS_UNAVAILABLE')
      expect(sts.calls.length).toBe(calls)
    }
    await others(await token('steady-caller'))
    faultsSurvived.push('expired 0 s', 'expired -60 s')
  })

  it('a failed background refresh: the valid set keeps signing until its skew margin, then 502 ERR_STS_FAILED; new set after recovery', async () => {
    const first = await send('rotating')
    const record = () => upstream.requests.find((r) => r.body.toString('utf8') === body(first.id))
    expectSigned(first, { role: ROLE('rotating') })
    const oldKey = record()?.accessKeyId as string
    const expiresAt = (stsRotating.issued.get(oldKey) as { expiration: Date }).expiration.getTime()
    stsRotating.setBehaviour({ hang: true })
    // Past half the lifetime (refresh ahead) and well before expiry minus the 1 s skew.
    await sleep(Math.max(0, expiresAt - 2200 - Date.now()))
    const during = await send('rotating')
    expectSigned(during, { accessKey: oldKey })
    expect(during.elapsedMs).toBeLessThan(300)
    expect(stsRotating.calls.length).toBeGreaterThanOrEqual(2)
    // Within the skew margin: the old set is no longer used; the hung STS gives 502 in time.
    await sleep(Math.max(0, expiresAt - 900 - Date.now()))
    const after = await send('rotating')
    expectError(after, 502, 'ERR_STS_FAILED')
    expect(after.elapsedMs).toBeLessThan(STS_TIMEOUT_MS + SLACK_MS)
    stsRotating.setBehaviour(HEALTHY_BEHAVIOUR)
    const { last } = await recovery('rotating')
    expectSigned(last, { role: ROLE('rotating') })
    const newKey = upstream.requests.find((r) => r.body.toString('utf8') === body(last.id))?.accessKeyId
    expect(newKey).not.toBe(oldKey)
    // Nothing reached the upstream signed with expired credentials.
    expect(upstream.requests.filter((r) => !r.verified)).toEqual([])
    faultsSurvived.push('hung refresh of a rotating identity')
  }, 30_000)

  it('an endpoint that accepts and never answers: 502 ERR_STS_FAILED within sts.timeout_ms; recovers when it answers', async () => {
    const [failing, served] = await Promise.all([Promise.all([send('blackhole'), send('blackhole'), send('blackhole')]), others(await token('steady-caller'))])
    expect(blackhole.accepted).toBeGreaterThanOrEqual(1)
    for (const res of failing) {
      expectError(res, 502, 'ERR_STS_FAILED')
      expect(res.elapsedMs).toBeGreaterThanOrEqual(STS_TIMEOUT_MS - 50)
      expect(res.elapsedMs).toBeLessThan(STS_TIMEOUT_MS + SLACK_MS)
    }
    for (const res of served) expect(res.elapsedMs).toBeLessThan(Math.min(...failing.map((r) => r.elapsedMs)))
    blackhole.answering = true
    const { ms, last } = await recovery('blackhole')
    expectSigned(last, { role: ROLE('blackhole') })
    faultsSurvived.push(`accept-and-never-answer (recovered in ${Math.round(ms)} ms)`)
  }, 30_000)

  it('web_identity callers: 5xx, throttling and a hang give 502 ERR_STS_FAILED; the caller recovers; a rejected token is 401 and not retried', async () => {
    const cases: Array<[string, Partial<StsBehaviour>]> = [
      ['500', { failNext: { count: 100_000, error: { code: 'InternalFailure', status: 500 } } }],
      ['throttling', { failNext: { count: 100_000, error: { code: 'Throttling', status: 400 } } }],
      ['hang', { hang: true }],
    ]
    for (const [name, behaviour] of cases) {
      const auth = { authorization: `Bearer ${await token(`caller-${name}`)}` }
      stsMain.setBehaviour(behaviour)
      const [failing] = await Promise.all([Promise.all([send('caller', auth), send('caller', auth)]), others(await token('steady-caller'))])
      for (const res of failing) {
        expectError(res, 502, 'ERR_STS_FAILED')
        expect(res.elapsedMs).toBeLessThan(STS_TIMEOUT_MS + SLACK_MS)
      }
      stsMain.setBehaviour(HEALTHY_BEHAVIOUR)
      const { last } = await recovery('caller', auth)
      expectSigned(last, { role: ROLE('callers') })
      faultsSurvived.push(`web_identity ${name}`)
    }
    // InvalidIdentityToken: 401, remembered for that token (no second STS call).
    const rejected = { authorization: `Bearer ${await token('caller-rejected')}` }
    stsMain.setBehaviour({ failNext: { count: 1, error: { code: 'InvalidIdentityToken', status: 400 } } })
    const first = await send('caller', rejected)
    const calls = stsMain.calls.length
    const second = await send('caller', rejected)
    expect([first.status, second.status]).toEqual([401, 401])
    expect([first.headers['x-mcp-sigv4-error'], second.headers['x-mcp-sigv4-error']]).toEqual(['ERR_TOKEN_REJECTED', 'ERR_TOKEN_REJECTED'])
    expect(stsMain.calls.length).toBe(calls)
    // AccessDenied (trust policy): 403.
    stsMain.setBehaviour({ failNext: { count: 1, error: { code: 'AccessDenied', status: 403 } } })
    const denied = await send('caller', { authorization: `Bearer ${await token('caller-denied')}` })
    expect({ status: denied.status, code: denied.headers['x-mcp-sigv4-error'] }).toEqual({ status: 403, code: 'ERR_STS_DENIED' })
    stsMain.setBehaviour(HEALTHY_BEHAVIOUR)
    faultsSurvived.push('web_identity InvalidIdentityToken', 'web_identity AccessDenied')
  }, 60_000)

  it('leaves no open stream, no unhandled rejection, no Envoy timeout, and no secret in logs or error bodies', async () => {
    expect(await settleStreams(f.app)).toBe(0)
    expect(watch.unhandled).toEqual([])
    expect(envoy.stats.messageTimeouts).toBe(0)
    const secrets: string[] = [BASE.secretAccessKey, BASE.sessionToken, ALT.secretAccessKey, ALT.sessionToken]
    for (const sts of [stsMain, stsOther, stsRotating]) for (const c of sts.issued.values()) secrets.push(c.secretAccessKey, c.sessionToken)
    const published = [f.logs.join(''), ...envoy.stats.requests.map((r) => r.localReply?.body ?? '')].join('\n')
    for (const secret of secrets) expect(published.includes(secret)).toBe(false)
    console.info(`STS faults survived: ${faultsSurvived.length}: ${faultsSurvived.join(', ')}`)
    expect(faultsSurvived.length).toBe(FAULTS.length + 2 + 1 + 1 + 5)
  })
})
