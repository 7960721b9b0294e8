/**
 * Shared pieces of the reliability suites (`test/reliability/*.test.ts`): the real server started
 * with a web_identity-free configuration whose `default` (and `alt`) identity are profiles in a
 * temporary credentials file, raw `Process` streams over real grpc-js, the active-streams gauge,
 * a process-level watch for unhandled rejections, forced garbage collection, and log capture.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import {
  Client,
  Metadata,
  credentials,
  makeGenericClientConstructor,
  type ClientDuplexStream,
  type ServiceClientConstructor,
} from '@grpc/grpc-js'
import { startApp, type AppOptions, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { BASE } from '../e2e/fixture.js'
import { ALT } from '../e2e/policyFixture.js'

export { BASE, ALT }

/** Both long-term keys of the profile identities, as the verifier wants them. */
export const PROFILE_KEYS: Record<string, KnownCredential> = {
  [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken },
  [ALT.accessKeyId]: { secretAccessKey: ALT.secretAccessKey, sessionToken: ALT.sessionToken },
}

/** A temporary directory with a credentials and config file holding the `base` and `alt` profiles. */
export function writeProfiles(): { dir: string; credentialsFile: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-reliability-'))
  const credentialsFile = join(dir, 'credentials')
  const configFile = join(dir, 'config')
  writeFileSync(
    credentialsFile,
    [
      `[base]\naws_access_key_id = ${BASE.accessKeyId}\naws_secret_access_key = ${BASE.secretAccessKey}\naws_session_token = ${BASE.sessionToken}\n`,
      `[alt]\naws_access_key_id = ${ALT.accessKeyId}\naws_secret_access_key = ${ALT.secretAccessKey}\naws_session_token = ${ALT.sessionToken}\n`,
    ].join('\n'),
  )
  writeFileSync(configFile, '[profile base]\nregion = us-east-1\n[profile alt]\nregion = us-east-1\n')
  return { dir, credentialsFile, configFile }
}

/** YAML flow mapping of a profile identity. */
export function profileIdentity(profile: 'base' | 'alt', files: { credentialsFile: string; configFile: string }): string {
  return `{ kind: profile, profile: ${profile}, credentials_file: "${files.credentialsFile}", config_file: "${files.configFile}" }`
}

/** A running server with its captured log lines. */
export interface ReliabilityApp {
  app: RunningApp
  logs: string[]
  dir: string
  files: { credentialsFile: string; configFile: string }
  close(): Promise<void>
}

/**
 * Starts the real server (`startApp`) on 127.0.0.1:0 with identities `default` (profile `base`)
 * and `alt` (profile `alt`); `yaml` is appended to the configuration (more identities, mcp,
 * credentials, sts sections). Every log line is captured.
 */
export async function startReliabilityApp(
  options: {
    yaml?: (files: { credentialsFile: string; configFile: string; dir: string }) => string
    server?: string
    identities?: (files: { credentialsFile: string; configFile: string; dir: string }) => string
    logLevel?: string
    app?: Omit<AppOptions, 'config' | 'logger'>
  } = {},
): Promise<ReliabilityApp> {
  const files = writeProfiles()
  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'))
      callback()
    },
  })
  const text = `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0"${options.server ? `, ${options.server}` : ''} }
logging: { level: ${options.logLevel ?? 'info'} }
identities:
  default: ${profileIdentity('base', files)}
  alt: ${profileIdentity('alt', files)}
${options.identities?.(files) ?? ''}
${options.yaml?.(files) ?? ''}
`
  const { config } = loadConfig({ text })
  const app = await startApp({ config, logger: createLogger(options.logLevel ?? 'info', sink), ...options.app })
  return { app, logs, dir: files.dir, files, close: () => app.stop(1000) }
}

/** The value of the `mcp_sigv4_active_streams` gauge. */
export async function activeStreams(app: RunningApp): Promise<number> {
  const metric = await app.metrics.activeStreams.get()
  return metric.values[0]?.value ?? 0
}

/** Polls the gauge until it is 0 (or the time is up); returns the last value seen. */
export async function settleStreams(app: RunningApp, timeoutMs = 5000): Promise<number> {
  const started = Date.now()
  let value = await activeStreams(app)
  while (value !== 0 && Date.now() - started < timeoutMs) {
    await sleep(20)
    value = await activeStreams(app)
  }
  return value
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * An unverified compact JWT for a `web_identity` identity without local verification (it only
 * decodes the token; the fake STS "verifies" it): `sub` from `issuer`, valid for an hour.
 */
export function unverifiedToken(sub: string, issuer: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ sub, iss: issuer, exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`
}

/** Collects unhandled rejections and uncaught exceptions while installed. */
export interface ProcessWatch {
  readonly unhandled: unknown[]
  stop(): void
}

/** Registers process-level listeners for unhandled rejections and uncaught exceptions. */
export function watchProcess(): ProcessWatch {
  const unhandled: unknown[] = []
  const onRejection = (reason: unknown): void => {
    unhandled.push(reason)
  }
  const onException = (err: unknown): void => {
    unhandled.push(err)
  }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  return {
    unhandled,
    stop: () => {
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
    },
  }
}

let gcFunction: (() => void) | undefined | null = null

/**
 * A full garbage collection, when V8 lets us enable `gc` at run time (`--expose-gc` set
 * through `v8.setFlagsFromString`, then read from a fresh context); `false` when unavailable.
 */
export function forceGc(): boolean {
  if (gcFunction === null) {
    try {
      setFlagsFromString('--expose-gc')
      gcFunction = runInNewContext('gc') as () => void
    } catch {
      gcFunction = undefined
    }
  }
  if (gcFunction === undefined) return false
  gcFunction()
  gcFunction()
  return true
}

/** heapUsed after a forced collection (several passes, a macrotask apart). */
export async function settledHeapUsed(): Promise<number> {
  for (let i = 0; i < 3; i += 1) {
    forceGc()
    await sleep(30)
  }
  forceGc()
  return process.memoryUsage().heapUsed
}

/**
 * Counts of `process.getActiveResourcesInfo()` by resource type, once no `setImmediate`
 * callback is queued (those are work in progress, not held resources); waits up to 2 s for that.
 */
export async function activeResources(): Promise<Record<string, number>> {
  const started = Date.now()
  let types = process.getActiveResourcesInfo()
  while (types.includes('Immediate') && Date.now() - started < 2000) {
    await sleep(20)
    types = process.getActiveResourcesInfo()
  }
  const counts: Record<string, number> = {}
  for (const type of types) if (type !== 'Immediate') counts[type] = (counts[type] ?? 0) + 1
  return counts
}

// ---------------------------------------------------------------------------------------------
// Raw ext_proc clients

/** A loose ext_proc client (messages as proto-loader objects). */
export type AnyClient = Client & { Process(metadata: Metadata): ClientDuplexStream<unknown, Record<string, unknown>> }

let processorClass: ServiceClientConstructor | undefined

function processorConstructor(): ServiceClientConstructor {
  if (processorClass !== undefined) return processorClass
  const pkg = loadProtoPackage([EXT_PROC_PROTO]) as unknown as {
    envoy: { service: { ext_proc: { v3: { ExternalProcessor: ServiceClientConstructor } } } }
  }
  processorClass = pkg.envoy.service.ext_proc.v3.ExternalProcessor
  return processorClass
}

/** A new ext_proc client on its own channel (`grpc.use_local_subchannel_pool` keeps it apart). */
export function extProcClient(port: number): AnyClient {
  const Ctor = processorConstructor()
  return new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as AnyClient
}

/** Serialises a `ProcessingRequest` as grpc-js would (for raw-byte streams). */
export function encodeProcessingRequest(message: object): Buffer {
  const method = processorConstructor().service.Process as NonNullable<ServiceClientConstructor['service']['Process']>
  return method.requestSerialize(message)
}

/** A client that sends raw bytes as `Process` messages and decodes responses as ProcessingResponse. */
export function rawProcessClient(port: number): AnyClient {
  const decode = (processorConstructor().service.Process as NonNullable<ServiceClientConstructor['service']['Process']>)
    .responseDeserialize
  const Raw = makeGenericClientConstructor(
    {
      Process: {
        path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => decode(b),
      },
    },
    'RawExtProc',
  )
  return new Raw(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as AnyClient
}

/** How one Process stream ended. */
export interface StreamResult {
  responses: Array<Record<string, unknown>>
  status: { code: number; details: string }
  /** Milliseconds from opening to the final status. */
  elapsedMs: number
}

/**
 * Runs one Process stream: writes every message, half-closes, collects responses and the final
 * status. Rejects when no status arrives within `timeoutMs` (a hung stream).
 */
export function runStream(
  client: AnyClient,
  messages: unknown[],
  metadata: Metadata = new Metadata(),
  timeoutMs = 10_000,
): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const call = client.Process(metadata)
    const responses: Array<Record<string, unknown>> = []
    const timer = setTimeout(() => {
      call.cancel()
      reject(new Error(`stream did not end within ${timeoutMs} ms (${responses.length} responses)`))
    }, timeoutMs)
    call.on('data', (r: Record<string, unknown>) => responses.push(r))
    call.on('error', () => undefined)
    call.on('status', (s: { code: number; details: string }) => {
      clearTimeout(timer)
      resolve({ responses, status: { code: s.code, details: s.details }, elapsedMs: performance.now() - started })
    })
    for (const m of messages) call.write(m)
    call.end()
  })
}

/** A `request_headers` message from name/value pairs (values as raw bytes). */
export function headersMessage(
  pairs: Array<[string, string | Buffer]>,
  options: { endOfStream?: boolean; attributes?: Record<string, string>; bufferedMode?: boolean } = {},
): Record<string, unknown> {
  const fields: Record<string, { stringValue: string }> = {}
  for (const [k, v] of Object.entries(options.attributes ?? {})) fields[k] = { stringValue: v }
  return {
    request_headers: {
      headers: { headers: pairs.map(([key, value]) => ({ key, raw_value: Buffer.isBuffer(value) ? value : Buffer.from(value) })) },
      end_of_stream: options.endOfStream ?? false,
    },
    ...(options.attributes !== undefined ? { attributes: { 'envoy.filters.http.ext_proc': { fields } } } : {}),
    ...(options.bufferedMode === false ? {} : { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'NONE' } }),
  }
}

/** A `request_body` message. */
export function bodyMessage(body: Buffer | string, endOfStream = true): Record<string, unknown> {
  return { request_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body), end_of_stream: endOfStream } }
}

/** gRPC metadata from a plain record. */
export function metadataOf(entries: Record<string, string>): Metadata {
  const metadata = new Metadata()
  for (const [k, v] of Object.entries(entries)) metadata.set(k, v)
  return metadata
}

/** The header mutation `set` entries of a response, as name → value (utf8). */
export function setHeadersOf(response: Record<string, unknown>): Map<string, string> {
  const set = new Map<string, string>()
  for (const phase of ['request_headers', 'request_body'] as const) {
    type SetHeaders = Array<{ header?: { key?: string; raw_value?: Buffer; value?: string } }>
    const common = (response[phase] as { response?: { header_mutation?: { set_headers?: SetHeaders } } } | undefined)
      ?.response
    for (const option of common?.header_mutation?.set_headers ?? []) {
      const key = option.header?.key ?? ''
      set.set(key, option.header?.raw_value !== undefined ? Buffer.from(option.header.raw_value).toString('utf8') : (option.header?.value ?? ''))
    }
  }
  return set
}

/** The header mutation `remove` names of a response. */
export function removedHeadersOf(response: Record<string, unknown>): string[] {
  const removed: string[] = []
  for (const phase of ['request_headers', 'request_body'] as const) {
    const common = (response[phase] as { response?: { header_mutation?: { remove_headers?: string[] } } } | undefined)?.response
    removed.push(...(common?.header_mutation?.remove_headers ?? []))
  }
  return removed
}

/** Every secret-looking string that must never leave the server except inside signatures. */
export function profileSecrets(): string[] {
  return [BASE.secretAccessKey, BASE.sessionToken, ALT.secretAccessKey, ALT.sessionToken]
}
