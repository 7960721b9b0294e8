/**
 * In-process measurements: the signing function alone (the compute floor), the request path
 * without the network, and the SHA-256 of 1 MiB alone (the reference for a large body).
 */
import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import { buildGeneration } from '../src/appDependencies.js'
import { loadConfig } from '../src/config/index.js'
import { freezeCredentials } from '../src/credentials/awsCredentials.js'
import { createLogger } from '../src/logging/logger.js'
import { Metrics, createRequestObserver } from '../src/metrics/index.js'
import type { ProcessingResponseMessage } from '../src/protocol/messages.js'
import { createResponseSerializer } from '../src/protocol/responseEncoder.js'
import { StreamProcessor } from '../src/protocol/streamProcessor.js'
import { planSignatureHeaders, signRequest, type SignRequestInput } from '../src/signing/index.js'
import { BENCH_HOST, SERVER_ENV } from './benchConfig.js'
import { encodeRequest, jsonRpcBody, loadExtProc } from './envoyMessages.js'
import { summarize, type LatencySummary } from './stats.js'

/** Result of an in-process loop. */
export interface SignOnlyResult {
  readonly requests: number
  readonly elapsedMs: number
  readonly cpuMs: number
  readonly latency: LatencySummary
}

/** Header names of the bench request, as the server passes them to the header plan. */
const REQUEST_HEADER_NAMES = [
  ':authority', ':path', ':method', ':scheme', 'content-type', 'content-length', 'accept',
  'mcp-protocol-version', 'mcp-session-id', 'user-agent', 'x-forwarded-proto', 'x-request-id',
]

/**
 * Signs the `signed-1k` request in a loop for `durationMs`, as the server does per request: the
 * same credentials object (its signing key stays cached), a fresh signing date, then the header plan.
 */
export async function signOnly(durationMs: number): Promise<SignOnlyResult> {
  const credentials = freezeCredentials({
    accessKeyId: SERVER_ENV.AWS_ACCESS_KEY_ID as string,
    secretAccessKey: SERVER_ENV.AWS_SECRET_ACCESS_KEY as string,
    sessionToken: SERVER_ENV.AWS_SESSION_TOKEN as string,
  })
  const payloadSha256Hex = createHash('sha256').update(jsonRpcBody(1024)).digest('hex')
  const input = (): SignRequestInput => ({
    method: 'POST',
    host: BENCH_HOST,
    path: '/mcp',
    query: '',
    contentType: 'application/json',
    payloadSha256Hex,
    region: 'us-east-1',
    service: 'aws-mcp',
    signingDate: new Date(),
  })
  const one = (): void => void planSignatureHeaders(REQUEST_HEADER_NAMES, signRequest(input(), credentials))
  // Warm-up (JIT, signing-key cache).
  for (let i = 0; i < 2000; i++) one()
  return measureLoop(durationMs, one)
}

/** Runs `one` back to back for `durationMs`: its latency each time, and the CPU of the whole. */
async function measureLoop(durationMs: number, one: () => void | Promise<void>): Promise<SignOnlyResult> {
  const latencies: number[] = []
  const cpuStart = process.cpuUsage()
  const started = performance.now()
  const deadline = started + durationMs
  while (performance.now() < deadline) {
    const t0 = performance.now()
    await one()
    latencies.push(performance.now() - t0)
  }
  const elapsedMs = performance.now() - started
  const cpu = process.cpuUsage(cpuStart)
  return { requests: latencies.length, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, latency: summarize(latencies) }
}

/** Median time (ms) of one SHA-256 over 1 MiB, streamed as the server hashes a body. */
export function sha256OfOneMiB(rounds = 200): number {
  const body = jsonRpcBody(1024 * 1024)
  const times: number[] = []
  for (let i = 0; i < rounds + 20; i++) {
    const t0 = performance.now()
    createHash('sha256').update(body).digest('hex')
    if (i >= 20) times.push(performance.now() - t0)
  }
  return summarize(times).p50
}

/**
 * The server's request path without the network: protobuf decode of the two messages Envoy
 * sends, the real `StreamProcessor` with the real object graph (`buildGeneration`: routing,
 * credentials, signing, metrics, the per-request log line formatted but not written), and
 * protobuf encode of the answers. Credentials come from a fake STS client (warm after the first
 * request). Sequential, one thread: CPU per request of our code and its libraries.
 */
export async function processorOnly(
  route: 'passthrough' | 'signed',
  durationMs: number,
  bodyBytes = 1024,
): Promise<SignOnlyResult> {
  const { config } = loadConfig({
    text: 'identities:\n  default:\n    kind: assume_role\n    role_arn: arn:aws:iam::123456789012:role/bench\n',
  })
  const logger = createLogger('info', new Writable({ write: (_chunk, _encoding, callback) => callback() }))
  const metrics = new Metrics({ defaultMetrics: false })
  const generation = buildGeneration(config, {
    logger,
    metrics,
    observer: createRequestObserver(metrics, logger),
    now: () => new Date(),
    monotonicMs: () => performance.now(),
    createStsClient: () => ({
      send: async () => ({
        Credentials: {
          AccessKeyId: SERVER_ENV.AWS_ACCESS_KEY_ID,
          SecretAccessKey: SERVER_ENV.AWS_SECRET_ACCESS_KEY,
          SessionToken: SERVER_ENV.AWS_SESSION_TOKEN,
          Expiration: new Date(Date.now() + 3600_000),
        },
      }),
    }),
  })
  const { method } = loadExtProc()
  const encoded = encodeRequest(method, route, jsonRpcBody(bodyBytes))
  // Encode the answers as the server does (src/protocol/grpcServer.ts).
  const serialize = createResponseSerializer((message) => method.responseSerialize(message as ProcessingResponseMessage))
  const out = { send: (response: ProcessingResponseMessage) => void serialize(response), finish: () => undefined }
  const one = async (): Promise<void> => {
    const processor = new StreamProcessor(generation.deps, {}, out)
    await processor.handle(method.requestDeserialize(encoded.headers.subarray(5)))
    await processor.handle(method.requestDeserialize(encoded.body.subarray(5)))
  }
  for (let i = 0; i < Math.max(20, 2_000_000 / bodyBytes); i++) await one()
  return measureLoop(durationMs, one)
}
