/**
 * The load generator, in its own process: plays Envoy's ext_proc client over real gRPC (HTTP/2,
 * the project's protos). One `Process` stream per request: request_headers (route attributes,
 * protocol_config BUFFERED), then one request_body with end_of_stream; after the body's answer it
 * half-closes and waits for the server's OK status (Envoy's graceful close), never resetting.
 *
 * A stream's latency is the time from opening it to the answer of its request_body: how long
 * Envoy holds the HTTP request.
 */
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import type { ProcessingResponseMessage } from '../src/protocol/messages.js'
import { BENCH_AUDIENCE, BENCH_ISSUER, type BenchRoute } from './benchConfig.js'
import { encodeRequest, jsonRpcBody, loadExtProc, type EncodedRequest } from './envoyMessages.js'
import { GrpcWireClient } from './grpcWire.js'
import { serveIpc } from './ipc.js'
import { summarize, type LatencySummary } from './stats.js'

/** What one request looks like. */
export interface RequestTemplate {
  readonly route: BenchRoute
  readonly bodyBytes: number
  /** For the `caller` route: the index of the caller whose token is sent. */
  readonly caller?: number
}

/** Jobs the orchestrator sends. */
export type LoadJob =
  | { kind: 'tokens'; count: number }
  | { kind: 'disconnect'; address: string }
  | { kind: 'closed-loop'; address: string; template: RequestTemplate; concurrency: number; durationMs: number; raw?: boolean }
  | { kind: 'background-start'; address: string; template: RequestTemplate; concurrency: number }
  | { kind: 'burst'; address: string; first: number; count: number; bodyBytes: number }
  | { kind: 'background-stop' }
  | { kind: 'fill'; address: string; first: number; count: number; concurrency: number; bodyBytes: number; raw?: boolean }

/** Result of a timed run. */
export interface LoadResult {
  readonly requests: number
  readonly errors: number
  readonly firstError: string | undefined
  readonly elapsedMs: number
  readonly latency: LatencySummary
  /** override_message_timeout messages received (the server waited for credentials). */
  readonly timeoutOverrides: number
  /** CPU time of the load generator itself during the run. */
  readonly loadgenCpuMs: number
  /** Every successful stream's latency (ms), when asked for (`raw`). */
  readonly latencies?: number[]
}

interface StreamOutcome {
  readonly startedAt: number
  /** Time to the answer of request_headers. */
  readonly headersMs: number
  readonly latencyMs: number
  readonly error: string | undefined
}

const { method } = loadExtProc()

/** One HTTP/2 connection per server address, as Envoy keeps per worker and cluster host. */
const clients = new Map<string, GrpcWireClient>()

function clientFor(address: string): GrpcWireClient {
  let client = clients.get(address)
  if (client === undefined) {
    client = new GrpcWireClient(address)
    clients.set(address, client)
  }
  return client
}
let timeoutOverrides = 0
const tokens: string[] = []
const encoded = new Map<string, EncodedRequest>()

function request(template: RequestTemplate): EncodedRequest {
  const key = `${template.route}/${template.bodyBytes}/${template.caller ?? ''}`
  let found = encoded.get(key)
  if (found === undefined) {
    const token = template.caller !== undefined ? tokens[template.caller] : undefined
    if (template.caller !== undefined && token === undefined) throw new Error(`no token for caller ${template.caller}`)
    found = encodeRequest(method, template.route, jsonRpcBody(template.bodyBytes), token)
    // Cold callers are sent once: keep only reusable templates.
    if (template.route !== 'caller' || template.caller === 0) encoded.set(key, found)
  }
  return found
}

/** Checks an answer: CONTINUE, and on signed routes the signature headers. */
function checkAnswer(response: ProcessingResponseMessage, phase: 'request_headers' | 'request_body', signed: boolean): string | undefined {
  if (response.immediate_response !== undefined) {
    return `immediate_response ${response.immediate_response.status?.code}: ${response.immediate_response.body?.toString('utf8').slice(0, 200)}`
  }
  const common = response[phase]?.response
  if (common === undefined) return `expected a ${phase} answer, got ${Object.keys(response).join(',')}`
  if (phase === 'request_body' && signed) {
    const names = (common.header_mutation?.set_headers ?? []).map((h) => h.header.key)
    if (!names.includes('authorization')) return 'signed route answered without authorization'
  }
  return undefined
}

/** One stream: headers, body, graceful close (half-close, then wait for the server's status). */
function runStream(client: GrpcWireClient, req: EncodedRequest, signed: boolean): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    let phase: 'request_headers' | 'request_body' | 'done' = 'request_headers'
    let latencyMs = Number.NaN
    let headersMs = Number.NaN
    let error: string | undefined
    const stream = client.open({
      onMessage(bytes) {
        const response = method.responseDeserialize(bytes)
        if (response.override_message_timeout !== undefined) {
          timeoutOverrides += 1
          return
        }
        if (phase === 'done') {
          error ??= 'unexpected extra message'
          return
        }
        error ??= checkAnswer(response, phase, signed)
        if (error !== undefined) {
          phase = 'done'
          stream.end()
          return
        }
        if (phase === 'request_headers') {
          headersMs = performance.now() - started
          phase = 'request_body'
          stream.write(req.body)
          return
        }
        latencyMs = performance.now() - started
        phase = 'done'
        stream.end()
      },
      onStatus(code, details) {
        if (code !== 0) error ??= `grpc status ${code}: ${details}`
        if (Number.isNaN(latencyMs) && error === undefined) error = 'stream ended before the body was answered'
        resolve({ startedAt: started, headersMs, latencyMs, error })
      },
    })
    stream.write(req.headers)
  })
}

/** `concurrency` workers sending requests back to back until `until()` is false. */
async function workers(
  client: GrpcWireClient,
  pick: () => EncodedRequest,
  signed: boolean,
  concurrency: number,
  keepGoing: () => boolean,
  record: (outcome: StreamOutcome) => void,
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (keepGoing()) record(await runStream(client, pick(), signed))
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

class Recorder {
  readonly latencies: number[] = []
  requests = 0
  errors = 0
  firstError: string | undefined
  readonly overridesAtStart = timeoutOverrides
  readonly cpuStart = process.cpuUsage()

  add(outcome: StreamOutcome): void {
    this.requests += 1
    if (outcome.error !== undefined) {
      this.errors += 1
      this.firstError ??= outcome.error
    } else {
      this.latencies.push(outcome.latencyMs)
    }
  }

  result(elapsedMs: number, latencies: readonly number[] = this.latencies): LoadResult {
    return {
      requests: this.requests,
      errors: this.errors,
      firstError: this.firstError,
      elapsedMs,
      latency: summarize(latencies),
      timeoutOverrides: timeoutOverrides - this.overridesAtStart,
      loadgenCpuMs: cpuMs(process.cpuUsage(this.cpuStart)),
    }
  }
}

async function closedLoop(job: Extract<LoadJob, { kind: 'closed-loop' }>): Promise<LoadResult> {
  const req = request(job.template)
  const recorder = new Recorder()
  const started = performance.now()
  const deadline = started + job.durationMs
  const keepGoing = (): boolean => performance.now() < deadline
  await workers(clientFor(job.address), () => req, job.template.route !== 'passthrough', job.concurrency, keepGoing, (o) => recorder.add(o))
  const result = recorder.result(performance.now() - started)
  return job.raw === true ? { ...result, latencies: recorder.latencies } : result
}

/** A warm caller running in the background, e.g. while a burst of cold callers is in flight. */
let background: { stop: boolean; done: Promise<void>; outcomes: StreamOutcome[] } | undefined

async function makeTokens(count: number): Promise<number> {
  const { privateKey } = await generateKeyPair('ES256')
  const exp = Math.floor(Date.now() / 1000) + 3600
  const sign = (i: number, key: CryptoKey): Promise<string> =>
    new SignJWT({ groups: ['bench'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
      .setIssuer(BENCH_ISSUER)
      .setAudience(BENCH_AUDIENCE)
      .setSubject(`bench-user-${i}`)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key)
  for (let i = tokens.length; i < count; i++) tokens.push(await sign(i, privateKey))
  return tokens.length
}

/** `count` distinct callers at once (one request each); resolves when all are answered. */
async function burst(job: Extract<LoadJob, { kind: 'burst' }>): Promise<LoadResult & { windowStart: number; windowEnd: number }> {
  const { first, count, bodyBytes } = job
  const client = clientFor(job.address)
  const reqs = Array.from({ length: count }, (_, i) => request({ route: 'caller', bodyBytes, caller: first + i }))
  const recorder = new Recorder()
  const windowStart = performance.now()
  const outcomes = await Promise.all(reqs.map((r) => runStream(client, r, true)))
  const windowEnd = performance.now()
  for (const outcome of outcomes) recorder.add(outcome)
  return { ...recorder.result(windowEnd - windowStart), windowStart, windowEnd }
}

/** `count` distinct callers, `concurrency` at a time (fills the credential cache). */
async function fill(job: Extract<LoadJob, { kind: 'fill' }>): Promise<LoadResult> {
  const { first, count, concurrency, bodyBytes } = job
  let next = first
  const recorder = new Recorder()
  const started = performance.now()
  await workers(
    clientFor(job.address),
    () => request({ route: 'caller', bodyBytes, caller: next++ }),
    true,
    concurrency,
    () => next < first + count,
    (o) => recorder.add(o),
  )
  const result = recorder.result(performance.now() - started)
  return job.raw === true ? { ...result, latencies: recorder.latencies } : result
}

async function handle(job: LoadJob): Promise<unknown> {
  switch (job.kind) {
    case 'disconnect':
      clients.get(job.address)?.close()
      clients.delete(job.address)
      return undefined
    case 'tokens':
      return makeTokens(job.count)
    case 'closed-loop':
      return closedLoop(job)
    case 'background-start': {
      const req = request(job.template)
      const state = { stop: false, done: Promise.resolve(), outcomes: [] as StreamOutcome[] }
      const client = clientFor(job.address)
      state.done = workers(client, () => req, true, job.concurrency, () => !state.stop, (o) => state.outcomes.push(o))
      background = state
      return undefined
    }
    case 'burst':
      return burst(job)
    case 'background-stop': {
      const state = background
      if (state === undefined) throw new Error('no background load')
      state.stop = true
      await state.done
      background = undefined
      return state.outcomes
    }
    case 'fill':
      return fill(job)
  }
}

serveIpc((body) => handle(body as LoadJob))
