/**
 * The soak of issue 7: many signed requests across 50 identities whose credentials expire and
 * rotate every few seconds, mixed routes (two SigV4-verifying upstreams: `aws-mcp` in us-east-1
 * and `bedrock-agentcore` in eu-west-1, keys delivered as route metadata, gRPC initial metadata
 * and Envoy Gateway annotations), mixed methods (POST JSON bodies, GET, DELETE), at high
 * concurrency through the Envoy emulator into the real server.
 *
 * Identities: 25 `assume_role` identities (chained from the `default` profile through the fake
 * STS) and 25 `web_identity` callers (distinct verified tokens, one role each by claim). The fake
 * STS forces a short lifetime on every credential set; the upstreams accept only credentials
 * that have not expired (as AWS does), and verify every signature with the independent `aws4`
 * verifier. Every request must come back 200 from the upstream: zero failures allowed.
 *
 * Harness records (emulator, upstreams, STS calls) are tallied and dropped as the soak runs, so
 * the heap measured at start and end is the server's plus a constant harness footprint.
 */
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { startEnvoyEmulator, type EmulatedRoute, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import { AGENTCORE_HOST, AWS_MCP_HOST } from '../e2e/fixture.js'
import { BASE, activeStreams, profileIdentity, settleStreams, settledHeapUsed, sleep, watchProcess, writeProfiles } from './support.js'

/** What to run. */
export interface SoakOptions {
  requests: number
  /** Shared (assume_role) identities; the rest of `identities` are web_identity callers. */
  sharedIdentities?: number
  identities?: number
  /** Requests in flight at once. */
  concurrency?: number
  /** Lifetime the fake STS gives every credential set. */
  credentialSeconds?: number
  /**
   * The run lasts at least this long (requests are paced), so that even a small soak on a fast
   * machine sees every identity's credentials rotate; default 2.5 credential lifetimes.
   */
  minDurationMs?: number
  /** Envoy's graceful ext_proc close runtime guard (recommended in envoy/envoy.yaml). */
  gracefulGrpcClose?: boolean
  /** Progress lines (every ~10 %). */
  progress?: (line: string) => void
}

/** One failed request, as seen by the client. */
export interface SoakFailure {
  route: string
  method: string
  status: number
  detail: string
}

/** The figures of one soak. */
export interface SoakReport {
  requests: number
  identities: number
  concurrency: number
  credentialSeconds: number
  durationMs: number
  requestsPerSecond: number
  /** Requests answered 200 by an upstream whose verifier accepted the signature. */
  verified: number
  /** Failed requests, warm-up included. */
  failures: number
  warmUpFailures: number
  failureSamples: SoakFailure[]
  /** Requests each upstream rejected (bad signature, unknown or expired key). */
  upstreamRejections: number
  byMethod: Record<string, number>
  byUpstream: Record<string, number>
  /** Distinct credential sets (access keys) the upstreams saw, and STS calls made. */
  distinctAccessKeys: number
  minKeysPerIdentity: number
  stsCalls: number
  latencyMs: { p50: number; p99: number; max: number }
  leakedStreams: number
  emulatorStreamsOpened: number
  heapStartMiB: number
  heapEndMiB: number
  heapPeakMiB: number
  unhandledRejections: number
  warnLogLines: number
}

const ISSUER = 'https://idp.soak.example'
const AUDIENCE = 'mcp-gateway'
const ROLE = (name: string) => `arn:aws:iam::123456789012:role/${name}`

interface Target {
  /** Label of the identity, for rotation counts. */
  identity: string
  path: string
  upstream: 'us' | 'eu'
  token?: string
}

/** Runs the soak and returns its figures (never throws for request failures: they are counted). */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const total = options.identities ?? 50
  const shared = options.sharedIdentities ?? Math.floor(total / 2)
  const callers = total - shared
  const concurrency = options.concurrency ?? 64
  const credentialSeconds = options.credentialSeconds ?? 6
  const minDurationMs = options.minDurationMs ?? credentialSeconds * 2500
  const watch = watchProcess()
  const files = writeProfiles()

  const sts = await startFakeSts({
    callerCredentials: { [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken } },
    expiresInSeconds: credentialSeconds,
  })
  // Only unexpired credentials are known, looked up per request (AWS rejects expired keys).
  const known = new Proxy({} as Record<string, KnownCredential>, {
    get: (_target, id: string) => {
      if (id === BASE.accessKeyId) return { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken }
      const c = sts.issued.get(id)
      return c !== undefined && c.expiration.getTime() > Date.now() ? { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } : undefined
    },
  })
  const us = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST }, mcp: false })
  const eu = await startSigV4Upstream({ credentials: known, expected: { region: 'eu-west-1', service: 'bedrock-agentcore', host: AGENTCORE_HOST }, mcp: false })

  const keys = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  writeFileSync(join(files.dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }))
  const callerRoles = Array.from({ length: callers }, (_, i) => `      - { role_arn: "${ROLE(`caller-role-${i}`)}", match: { claim: team, values: ["team-${i}"] } }`)
  const sharedIdentities = Array.from(
    { length: shared },
    (_, i) => `  shared_${i}: { kind: assume_role, role_arn: "${ROLE(`shared-${i}`)}", source: default, endpoint: "${sts.endpoint}" }`,
  )
  let warnLines = 0
  const sink = new Writable({
    write(_chunk: Buffer, _encoding, callback) {
      warnLines += 1
      callback()
    },
  })
  const { config } = loadConfig({
    text: `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", credential_wait_timeout_ms: 8000 }
logging: { level: warn }
credentials: { refresh_ahead_seconds: 3, expiry_skew_seconds: 2 }
sts: { region: us-east-1, timeout_ms: 5000 }
identities:
  default: ${profileIdentity('base', files)}
${sharedIdentities.join('\n')}
  caller:
    kind: web_identity
    verify: { issuer: "${ISSUER}", audiences: ["${AUDIENCE}"], jwks_file: "${join(files.dir, 'jwks.json')}" }
    roles:
${callerRoles.join('\n')}
    endpoint: "${sts.endpoint}"
`,
  })
  const app: RunningApp = await startApp({ config, logger: createLogger('warn', sink) })

  // Routes: per shared identity one route to each upstream, keys by three different means.
  const routes: EmulatedRoute[] = []
  const targets: Target[] = []
  const addRoute = (name: string, identity: string, upstream: 'us' | 'eu', delivery: number, tokenFor?: string): void => {
    const host = upstream === 'us' ? AWS_MCP_HOST : AGENTCORE_HOST
    const port = upstream === 'us' ? us.port : eu.port
    const prefix = `/${name}`
    const keysFor = { host, path: '/mcp', identity }
    const base = { name, prefix, hostRewriteLiteral: host, upstream: { host: '127.0.0.1', port } }
    if (delivery === 0) {
      routes.push({ ...base, metadata: { filter_metadata: { mcp_sigv4: keysFor } }, regexRewrite: { pattern: /^.*$/, substitution: '/mcp' } })
    } else if (delivery === 1) {
      routes.push({
        ...base,
        grpcInitialMetadata: { 'x-mcp-sigv4-host': host, 'x-mcp-sigv4-path-prefix': prefix, 'x-mcp-sigv4-path-prefix-replacement': '/mcp', 'x-mcp-sigv4-identity': identity },
        prefixRewrite: '/mcp',
      })
    } else {
      const annotations = { 'mcp-sigv4-host': host, 'mcp-sigv4-path': '/mcp', 'mcp-sigv4-identity': identity }
      routes.push({
        ...base,
        metadata: { filter_metadata: { 'envoy-gateway': { resources: [{ kind: 'HTTPRoute', name, namespace: 'soak', annotations }] } } },
        regexRewrite: { pattern: /^.*$/, substitution: '/mcp' },
      })
    }
    targets.push({ identity: tokenFor ?? identity, path: prefix, upstream, ...(tokenFor !== undefined ? { token: tokenFor } : {}) })
  }
  for (let i = 0; i < shared; i += 1) {
    addRoute(`shared-${i}-us`, `shared_${i}`, 'us', i % 3)
    addRoute(`shared-${i}-eu`, `shared_${i}`, 'eu', (i + 1) % 3)
  }
  addRoute('caller-us', 'caller', 'us', 0)
  addRoute('caller-eu', 'caller', 'eu', 1)
  const callerTargets = targets.splice(-2)
  const tokens: string[] = []
  for (let i = 0; i < callers; i += 1) {
    tokens.push(
      await new SignJWT({ sub: `soak-caller-${i}`, team: `team-${i}` })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(keys.privateKey),
    )
    for (const t of callerTargets) targets.push({ identity: `caller-${i}`, path: t.path, upstream: t.upstream, token: tokens[i] as string })
  }
  const envoy: EnvoyEmulator = await startEnvoyEmulator({
    extProcAddress: `127.0.0.1:${app.grpcPort}`,
    routes,
    messageTimeoutMs: 5000,
    maxMessageTimeoutMs: 10_000,
    gracefulGrpcClose: options.gracefulGrpcClose ?? true,
    bufferLimitBytes: 4 * 1024 * 1024,
  })

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const failures: SoakFailure[] = []
  let failureCount = 0
  const byMethod: Record<string, number> = {}
  const byUpstream: Record<string, number> = { us: 0, eu: 0 }
  const latencies: number[] = []
  const keysByIdentity = new Map<string, Set<string>>()
  const identityOfKey = new Map<string, string>()
  let verified = 0
  let upstreamRejections = 0
  let stsCalls = 0
  let heapPeak = 0

  /** Tallies and drops harness records, so they do not grow with the soak. */
  const drain = (): void => {
    for (const upstream of [us, eu]) {
      for (const r of upstream.requests.splice(0)) {
        if (!r.verified) {
          upstreamRejections += 1
          continue
        }
        verified += 1
        const id = r.accessKeyId as string
        const owner = identityOfKey.get(id) ?? ownerOf(sts, id)
        identityOfKey.set(id, owner)
        let set = keysByIdentity.get(owner)
        if (set === undefined) keysByIdentity.set(owner, (set = new Set()))
        set.add(id)
      }
    }
    envoy.stats.requests.splice(0)
    stsCalls += sts.calls.splice(0).length
    // Expired credentials stay unknown to the upstreams; forget them to keep the map small.
    const now = Date.now()
    for (const [id, c] of sts.issued) if (c.expiration.getTime() < now - 60_000) sts.issued.delete(id)
  }

  const one = (index: number): Promise<void> => {
    const target = targets[(index * 7919) % targets.length] as Target
    const kind = index % 10
    const method = kind < 6 ? 'POST' : kind < 9 ? 'GET' : 'DELETE'
    const body =
      method === 'POST'
        ? JSON.stringify({ jsonrpc: '2.0', id: index, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat((index * 31) % 3000) } } })
        : undefined
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`
    const started = performance.now()
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: envoy.port, method, path: `${target.path}?i=${index}`, headers, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          latencies.push(performance.now() - started)
          byMethod[method] = (byMethod[method] ?? 0) + 1
          byUpstream[target.upstream] = (byUpstream[target.upstream] ?? 0) + 1
          if (res.statusCode !== 200) fail({ route: target.path, method, status: res.statusCode ?? 0, detail: Buffer.concat(chunks).toString('utf8').slice(0, 300) })
          resolve()
        })
        res.on('error', (err) => {
          fail({ route: target.path, method, status: 0, detail: String(err) })
          resolve()
        })
      })
      req.on('error', (err) => {
        fail({ route: target.path, method, status: 0, detail: String(err) })
        resolve()
      })
      req.end(body)
    })
  }
  const fail = (failure: SoakFailure): void => {
    failureCount += 1
    if (failures.length < 20) failures.push(failure)
  }

  // Warm-up: every target once (cold STS fetches, JIT), then the baseline heap.
  await Promise.all(targets.map((_, i) => one(i)))
  drain()
  const warmFailures = failureCount
  const heapStart = await settledHeapUsed()
  const warmVerified = verified

  let next = 0
  let done = 0
  const started = performance.now()
  const step = Math.max(1, Math.floor(options.requests / 10))
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next
      next += 1
      if (index >= options.requests) return
      const due = started + (index / options.requests) * minDurationMs
      if (performance.now() < due) await sleep(due - performance.now())
      await one(targets.length + index)
      done += 1
      if (done % 2000 === 0) drain()
      if (done % step === 0) {
        const heap = process.memoryUsage().heapUsed
        heapPeak = Math.max(heapPeak, heap)
        options.progress?.(
          `soak: ${done}/${options.requests} in ${Math.round(performance.now() - started)} ms, failures ${failureCount}, heap ${(heap / 2 ** 20).toFixed(1)} MiB`,
        )
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const durationMs = performance.now() - started
  await sleep(100)
  drain()
  agent.destroy()
  const leaked = await settleStreams(app, 5000)
  const heapEnd = await settledHeapUsed()
  const streamsOpened = envoy.stats.streamsOpened
  await envoy.close()
  await app.stop(1000)
  await Promise.all([us.close(), eu.close(), sts.close()])
  watch.stop()

  latencies.sort((a, b) => a - b)
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 10) / 10
  const perIdentity = [...keysByIdentity.values()].map((s) => s.size)
  return {
    requests: options.requests,
    identities: total,
    concurrency,
    credentialSeconds,
    durationMs: Math.round(durationMs),
    requestsPerSecond: Math.round((options.requests / durationMs) * 1000),
    verified: verified - warmVerified,
    failures: failureCount,
    warmUpFailures: warmFailures,
    failureSamples: failures,
    upstreamRejections,
    byMethod,
    byUpstream,
    distinctAccessKeys: identityOfKey.size,
    minKeysPerIdentity: keysByIdentity.size === total ? Math.min(...perIdentity) : 0,
    stsCalls,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1) },
    leakedStreams: leaked + (await activeStreams(app)),
    emulatorStreamsOpened: streamsOpened,
    heapStartMiB: +(heapStart / 2 ** 20).toFixed(1),
    heapEndMiB: +(heapEnd / 2 ** 20).toFixed(1),
    heapPeakMiB: +(Math.max(heapPeak, heapStart, heapEnd) / 2 ** 20).toFixed(1),
    unhandledRejections: watch.unhandled.length,
    warnLogLines: warnLines,
  }
}

/** The identity an issued key belongs to: the role (shared identities) or the session (callers). */
function ownerOf(sts: FakeSts, accessKeyId: string): string {
  if (accessKeyId === BASE.accessKeyId) return 'default'
  const c = sts.issued.get(accessKeyId)
  if (c === undefined) return 'unknown'
  return c.roleArn.includes('caller-role') ? c.sessionName : c.roleArn
}
