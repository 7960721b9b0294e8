/**
 * Client-side faults against the real server: streams cancelled mid-body and while waiting for
 * STS, HTTP clients aborting mid-body through the emulator, Envoy disconnecting (the TCP
 * connection dropped under open streams, the emulator closed with requests in flight), and
 * storms of thousands of streams opened and abandoned.
 *
 * After each: no unhandled rejection or uncaught exception, the active-streams gauge back to 0
 * (and, for the storms, first seen at the full count: the streams really were open together),
 * the server still signs. Memory is measured as heapUsed after forced garbage collections
 * (`--expose-gc` enabled at run time through `v8.setFlagsFromString`) after a warm-up storm and
 * after the measured storms, with a tolerant bound; handles as `process.getActiveResourcesInfo()`
 * counts by type.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { request } from 'node:http'
import { status as GrpcStatus, type ClientDuplexStream } from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEnvoyEmulator, type EmulatedRoute, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import { startSigV4Upstream, type SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import { AWS_MCP_HOST, rawRequest } from '../e2e/fixture.js'
import {
  BASE,
  PROFILE_KEYS,
  activeResources,
  activeStreams,
  bodyMessage,
  extProcClient,
  forceGc,
  headersMessage,
  metadataOf,
  runStream,
  setHeadersOf,
  settleStreams,
  settledHeapUsed,
  sleep,
  startReliabilityApp,
  unverifiedToken,
  watchProcess,
  type AnyClient,
  type ProcessWatch,
  type ReliabilityApp,
} from './support.js'

const STORM_STREAMS = Number(process.env.STORM_STREAMS ?? 3000)
const MEASURED_STORMS = 3
/** Heap growth tolerated across the measured storms (bytes). */
const HEAP_GROWTH_LIMIT = 4 * 1024 * 1024
const STS_LATENCY_MS = 300

const TARGET = { 'x-mcp-sigv4-host': AWS_MCP_HOST, 'x-mcp-sigv4-path': '/mcp' }
const CALLER_TARGET = { ...TARGET, 'x-mcp-sigv4-identity': 'caller' }

/** A TCP proxy to the gRPC port whose connections can be dropped at once ("Envoy goes away"). */
async function startProxy(targetPort: number): Promise<{ port: number; connections(): number; drop(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const track = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  }
  const server: Server = createServer((socket) => {
    track(socket)
    const upstream = connect(targetPort, '127.0.0.1')
    track(upstream)
    socket.pipe(upstream).pipe(socket)
    socket.on('close', () => upstream.destroy())
    upstream.on('close', () => socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    connections: () => sockets.size,
    drop: () => {
      for (const s of sockets) s.destroy()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const ISSUER = 'https://idp.client-faults.example'

/** Opens a Process call and writes `messages` without ending it. */
function openCall(client: AnyClient, messages: unknown[], metadata: Record<string, string>): ClientDuplexStream<unknown, Record<string, unknown>> {
  const call = client.Process(metadataOf(metadata))
  call.on('data', () => undefined)
  call.on('error', () => undefined)
  for (const m of messages) call.write(m)
  return call
}

const postHeaders = (endOfStream = false) =>
  headersMessage([[':method', 'POST'], [':path', '/mcp'], ['content-type', 'application/json']], { endOfStream, bufferedMode: false })

/** Asserts the server signs a request right now (it is healthy). */
async function expectServing(client: AnyClient): Promise<void> {
  const result = await runStream(client, [postHeaders(), bodyMessage('{"jsonrpc":"2.0","id":1,"method":"ping"}')], metadataOf(TARGET))
  expect(result.status.code).toBe(GrpcStatus.OK)
  expect(setHeadersOf(result.responses.at(-1) ?? {}).get('authorization')).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${BASE.accessKeyId}/`))
}

describe('client faults: cancellations, disconnects and storms of abandoned streams', () => {
  let f: ReliabilityApp
  let sts: FakeSts
  let upstream: SigV4Upstream
  let envoy: EnvoyEmulator
  let client: AnyClient
  let watch: ProcessWatch
  const figures: Record<string, unknown> = {}

  beforeAll(async () => {
    watch = watchProcess()
    sts = await startFakeSts({ behaviour: { latencyMs: STS_LATENCY_MS } })
    f = await startReliabilityApp({
      logLevel: 'warn',
      identities: () => `  caller: { kind: web_identity, fallback_role_arn: "arn:aws:iam::123456789012:role/callers", endpoint: "${sts.endpoint}" }\n`,
      yaml: () => 'sts: { region: us-east-1, timeout_ms: 3000 }\n',
    })
    upstream = await startSigV4Upstream({ credentials: PROFILE_KEYS, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST }, mcp: false })
    const route: EmulatedRoute = {
      name: 'aws_mcp',
      prefix: '/aws-mcp',
      metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp' } } },
      hostRewriteLiteral: AWS_MCP_HOST,
      regexRewrite: { pattern: /^.*$/, substitution: '/mcp' },
      upstream: { host: '127.0.0.1', port: upstream.port },
    }
    envoy = await startEnvoyEmulator({ extProcAddress: `127.0.0.1:${f.app.grpcPort}`, routes: [route], messageTimeoutMs: 2000 })
    client = extProcClient(f.app.grpcPort)
    await expectServing(client)
  })
  afterAll(async () => {
    client?.close()
    await envoy?.close()
    await f?.close()
    await Promise.all([upstream?.close(), sts?.close()])
    watch?.stop()
    console.info(`client faults: ${JSON.stringify(figures)}`)
  })

  it('500 streams cancelled mid-body (after 1–2 body chunks) leave no stream open', async () => {
    const cancelled: Array<Promise<number>> = []
    for (let i = 0; i < 500; i += 1) {
      const call = openCall(client, [postHeaders(), bodyMessage('{"jsonrpc":"2.0",', false), ...(i % 2 === 0 ? [bodyMessage('"id":1', false)] : [])], TARGET)
      cancelled.push(
        new Promise((resolve) => {
          call.on('status', (s: { code: number }) => resolve(s.code))
          setTimeout(() => call.cancel(), i % 7)
        }),
      )
    }
    const codes = await Promise.all(cancelled)
    expect(codes.every((c) => c === GrpcStatus.CANCELLED)).toBe(true)
    expect(await settleStreams(f.app)).toBe(0)
    await expectServing(client)
    expect(watch.unhandled).toEqual([])
  })

  it('200 streams cancelled while their STS exchange is in flight: the late credentials are dropped quietly', async () => {
    const callsBefore = sts.calls.length
    const cancelled: Array<Promise<boolean>> = []
    for (let i = 0; i < 200; i += 1) {
      const messages = [
        headersMessage([[':method', 'POST'], [':path', '/mcp'], ['authorization', `Bearer ${unverifiedToken(`cancel-${i}`, ISSUER)}`]], { bufferedMode: false }),
        bodyMessage('{"jsonrpc":"2.0","id":1,"method":"ping"}'),
      ]
      const call = client.Process(metadataOf(CALLER_TARGET))
      call.on('error', () => undefined)
      cancelled.push(
        new Promise((resolve) => {
          let waited = false
          // The server asks Envoy for more time once the body waits for credentials: the STS
          // exchange is in flight. Cancel then.
          call.on('data', (r: Record<string, unknown>) => {
            if (r.override_message_timeout !== undefined && !waited) {
              waited = true
              setTimeout(() => call.cancel(), i % 50)
            }
          })
          call.on('status', () => resolve(waited))
        }),
      )
      for (const m of messages) call.write(m)
    }
    const waited = await Promise.all(cancelled)
    expect(waited.every(Boolean)).toBe(true)
    expect(await settleStreams(f.app)).toBe(0)
    // Each stream started its own exchange (distinct tokens); they complete after the streams are gone.
    const started = Date.now()
    const answered = () => sts.calls.slice(callsBefore).filter((c) => c.status === 200).length
    while (answered() < 200 && Date.now() - started < 10_000) await sleep(20)
    expect(answered()).toBe(200)
    figures.cancelledWhileStsInFlight = 200
    await sleep(50)
    expect(await activeStreams(f.app)).toBe(0)
    expect(watch.unhandled).toEqual([])
    expect(f.logs.filter((l) => l.includes('internal error'))).toEqual([])
  })

  it('300 HTTP clients aborting mid-body through the emulator: every stream closed, none signed', async () => {
    const before = envoy.stats.requests.length
    const upstreamBefore = upstream.requests.length
    let n = 0
    const abort = (): Promise<void> =>
      new Promise((resolve) => {
        n += 1
        const path = `/aws-mcp?abort=${n}`
        const req = request({ host: '127.0.0.1', port: envoy.port, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': '4096' } })
        req.on('error', () => resolve())
        req.on('close', () => resolve())
        req.write('{"jsonrpc":"2.0","id":1,')
        // Abort once the emulator has opened the Process stream and is waiting for the body.
        const wait = (): void => {
          const record = envoy.stats.requests.find((r) => r.path === path)
          if (record !== undefined && record.streamOpened) req.destroy()
          else setTimeout(wait, 2)
        }
        setTimeout(wait, 2)
      })
    for (let batch = 0; batch < 6; batch += 1) await Promise.all(Array.from({ length: 50 }, abort))
    expect(await settleStreams(f.app)).toBe(0)
    const records = envoy.stats.requests.slice(before)
    expect(records.length).toBe(300)
    expect(records.filter((r) => r.streamOpened).length).toBe(300)
    expect(records.every((r) => r.upstream === undefined)).toBe(true)
    expect(upstream.requests.length).toBe(upstreamBefore)
    const ok = await rawRequest(envoy.port, 'POST', '/aws-mcp', { 'content-type': 'application/json' }, '{"jsonrpc":"2.0","id":2,"method":"ping"}')
    expect(ok.status).toBe(200)
    expect(watch.unhandled).toEqual([])
  })

  it('Envoy disconnecting: the connection dropped under 300 open streams (mid-body, awaiting STS, idle), and the emulator closed with requests in flight', async () => {
    const proxy = await startProxy(f.app.grpcPort)
    const viaProxy = extProcClient(proxy.port)
    try {
      for (let i = 0; i < 300; i += 1) {
        if (i % 3 === 0) openCall(viaProxy, [postHeaders(), bodyMessage('{"a":', false)], TARGET)
        else if (i % 3 === 1) {
          const auth = `Bearer ${unverifiedToken(`disconnect-${i}`, ISSUER)}`
          openCall(viaProxy, [headersMessage([[':method', 'POST'], [':path', '/mcp'], ['authorization', auth]], { bufferedMode: false }), bodyMessage('{}')], CALLER_TARGET)
        } else openCall(viaProxy, [postHeaders()], TARGET)
      }
      await waitForGauge(f, 300)
      figures.disconnectPeak = await activeStreams(f.app)
      proxy.drop()
      expect(await settleStreams(f.app)).toBe(0)
    } finally {
      viaProxy.close()
      await proxy.close()
    }
    // A second emulator, closed while its requests wait for a slow STS.
    sts.setBehaviour({ latencyMs: 2000 })
    const other = await startEnvoyEmulator({
      extProcAddress: `127.0.0.1:${f.app.grpcPort}`,
      messageTimeoutMs: 5000,
      maxMessageTimeoutMs: 10_000,
      routes: [
        {
          name: 'caller',
          prefix: '/caller',
          metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', identity: 'caller' } } },
          hostRewriteLiteral: AWS_MCP_HOST,
          upstream: { host: '127.0.0.1', port: upstream.port },
        },
      ],
    })
    const inFlight = Array.from({ length: 60 }, (_, i) =>
      rawRequest(other.port, 'POST', '/caller', { 'content-type': 'application/json', authorization: `Bearer ${unverifiedToken(`emulator-close-${i}`, ISSUER)}` }, '{}').catch(
        (err: unknown) => err,
      ),
    )
    await waitForGauge(f, 60)
    await other.close()
    const results = await Promise.all(inFlight)
    expect(results.every((r) => r instanceof Error)).toBe(true)
    expect(await settleStreams(f.app)).toBe(0)
    // The late credentials arrive after their streams are gone.
    await sleep(2100)
    sts.setBehaviour({ latencyMs: STS_LATENCY_MS })
    await expectServing(client)
    expect(watch.unhandled).toEqual([])
  })

  it(`storms of ${STORM_STREAMS} streams opened and abandoned: gauge back to 0, heap and handles flat`, async () => {
    const storm = async (): Promise<number> => {
      const proxy = await startProxy(f.app.grpcPort)
      const stormClient = extProcClient(proxy.port)
      const calls: Array<ClientDuplexStream<unknown, Record<string, unknown>>> = []
      for (let i = 0; i < STORM_STREAMS; i += 1) {
        const messages = i % 2 === 0 ? [postHeaders()] : [postHeaders(), bodyMessage('{"jsonrpc":', false)]
        calls.push(openCall(stormClient, messages, TARGET))
      }
      await waitForGauge(f, STORM_STREAMS, 20_000)
      const peak = await activeStreams(f.app)
      // A third cancelled, a third half-closed (the server answers and ends them), and the rest
      // left open until the connection drops.
      calls.forEach((call, i) => {
        if (i % 3 === 0) call.cancel()
        else if (i % 3 === 1) call.end()
      })
      await sleep(100)
      proxy.drop()
      expect(await settleStreams(f.app, 10_000)).toBe(0)
      stormClient.close()
      await proxy.close()
      return peak
    }
    const warmPeak = await storm()
    expect(warmPeak).toBeGreaterThanOrEqual(STORM_STREAMS)
    await sleep(200)
    const gcAvailable = forceGc()
    const heapBefore = await settledHeapUsed()
    const handlesBefore = await activeResources()
    const peaks: number[] = []
    const handlesPerStorm: Array<Record<string, number>> = []
    for (let i = 0; i < MEASURED_STORMS; i += 1) {
      peaks.push(await storm())
      await sleep(200)
      handlesPerStorm.push(await activeResources())
    }
    const heapAfter = await settledHeapUsed()
    const handlesAfter = await activeResources()
    Object.assign(figures, {
      stormStreams: STORM_STREAMS,
      storms: MEASURED_STORMS + 1,
      peaks: [warmPeak, ...peaks],
      gcAvailable,
      heapBeforeMiB: +(heapBefore / 2 ** 20).toFixed(1),
      heapAfterMiB: +(heapAfter / 2 ** 20).toFixed(1),
      heapGrowthKiB: Math.round((heapAfter - heapBefore) / 1024),
      handlesBefore,
      handlesPerStorm,
    })
    for (const peak of peaks) expect(peak).toBeGreaterThanOrEqual(STORM_STREAMS)
    expect(heapAfter - heapBefore).toBeLessThan(HEAP_GROWTH_LIMIT)
    // No handle type grows: not against the baseline, nor from the first measured storm to the
    // last (the baseline may still hold keep-alive sockets of earlier tests).
    const first = handlesPerStorm[0] as Record<string, number>
    for (const [type, count] of Object.entries(handlesAfter)) {
      const limit = Math.min(handlesBefore[type] ?? 0, first[type] ?? 0) + 2
      expect({ type, count, limit, ok: count <= limit }).toMatchObject({ type, ok: true })
    }
    expect(await activeStreams(f.app)).toBe(0)
    await expectServing(client)
    expect(watch.unhandled).toEqual([])
    expect(f.logs.filter((l) => l.includes('internal error'))).toEqual([])
  }, 90_000)
})

async function waitForGauge(f: ReliabilityApp, atLeast: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  while ((await activeStreams(f.app)) < atLeast) {
    if (Date.now() - started > timeoutMs) throw new Error(`active streams stayed below ${atLeast}: ${await activeStreams(f.app)}`)
    await sleep(10)
  }
}
