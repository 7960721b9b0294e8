/**
 * A structural guard of the signing hot path (issue 6): not a timing, but counts of the work
 * each request does, through the real stream processor and the real object graph
 * (`buildGeneration`), with STS faked at the client. It fails when a change makes requests do
 * again what is done once: derive a signing key, sign with more than one HMAC (or through
 * smithy's general signer), call STS for warm credentials, copy or re-hash the body, parse JSON on routes without MCP handling, parse the route metadata text,
 * or load the protobuf definitions.
 */
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { credentials as grpcCredentials, Metadata, type Client, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { buildGeneration, type Generation, type SharedParts } from '../../src/appDependencies.js'
import { loadConfig } from '../../src/config/index.js'
import type { StsLike } from '../../src/credentials/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { Metrics, createRequestObserver } from '../../src/metrics/index.js'
import { createGrpcServer, createProcessHandler } from '../../src/protocol/index.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from '../../src/protocol/messages.js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import { StreamProcessor } from '../../src/protocol/streamProcessor.js'
import { printMetadataShortDebugString } from '../harness/textFormatPrinter.js'

/** Work counted while requests run; `reset()` between phases. */
const work = vi.hoisted(() => {
  const counters = {
    /** `@smithy/signature-v4` signers constructed (the product path uses none). */
    smithySigners: 0,
    /** SigV4 signing-key derivations: HMACs keyed with "AWS4" + secret. */
    keyDerivations: 0,
    /** HMAC-SHA256 objects created by our code, derivations included (signatures use none). */
    hmacs: 0,
    textFormatParses: 0,
    protoLoads: 0,
    /** Bytes given to SHA-256 by our code (createHash and the one-shot hash of node:crypto). */
    bytesHashed: 0,
    /** Answers encoded by proto-loader's generic serializer instead of the direct encoder. */
    genericEncodes: 0,
  }
  return { counters, reset: () => Object.keys(counters).forEach((k) => (counters[k as keyof typeof counters] = 0)) }
})

vi.mock('@smithy/signature-v4', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@smithy/signature-v4')>()
  class CountingSignatureV4 extends actual.SignatureV4 {
    constructor(...args: ConstructorParameters<typeof actual.SignatureV4>) {
      super(...args)
      work.counters.smithySigners += 1
    }
  }
  return { ...actual, SignatureV4: CountingSignatureV4 }
})

vi.mock('../../src/routing/textFormat.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/routing/textFormat.js')>()
  return {
    ...actual,
    parseTextFormat: (...args: Parameters<typeof actual.parseTextFormat>) => {
      work.counters.textFormatParses += 1
      return actual.parseTextFormat(...args)
    },
  }
})

vi.mock('@grpc/proto-loader', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@grpc/proto-loader')>()
  return {
    ...actual,
    loadSync: (...args: Parameters<typeof actual.loadSync>) => {
      work.counters.protoLoads += 1
      return actual.loadSync(...args)
    },
  }
})

vi.mock('../../src/protocol/responseEncoder.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/protocol/responseEncoder.js')>()
  return {
    ...actual,
    createResponseSerializer: (generic: (message: unknown) => Buffer) =>
      actual.createResponseSerializer((message) => {
        work.counters.genericEncodes += 1
        return generic(message)
      }),
  }
})

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  const createHash: typeof actual.createHash = (algorithm, options) => {
    const hash = actual.createHash(algorithm, options)
    const update = hash.update.bind(hash) as (data: string | NodeJS.ArrayBufferView, encoding?: BufferEncoding) => typeof hash
    hash.update = ((data: string | NodeJS.ArrayBufferView, encoding?: BufferEncoding) => {
      work.counters.bytesHashed += typeof data === 'string' ? Buffer.byteLength(data, encoding) : data.byteLength
      return update(data, encoding)
    }) as typeof hash.update
    return hash
  }
  const createHmac: typeof actual.createHmac = (algorithm, key, options) => {
    work.counters.hmacs += 1
    if (typeof key === 'string' && key.startsWith('AWS4')) work.counters.keyDerivations += 1
    return actual.createHmac(algorithm, key, options)
  }
  const hash = ((algorithm: string, data: string | NodeJS.ArrayBufferView, encoding?: string) => {
    work.counters.bytesHashed += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
    return (actual.hash as (...args: unknown[]) => unknown)(algorithm, data, encoding)
  }) as typeof actual.hash
  return { ...actual, default: { ...actual, createHash, createHmac, hash }, createHash, createHmac, hash }
})

const HOST = 'aws-mcp.us-east-1.api.aws'
const BODY_BYTES = 64 * 1024
/** Requests per measured phase. */
const N = 40

const CONFIG = `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0" }
identities:
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::123456789012:role/ops
  caller:
    kind: web_identity
    roles:
      - { role_arn: "arn:aws:iam::123456789012:role/callers", match: { claim: groups, values: [dev] } }
`

/** A fake STS client: every call issues a new credential set. */
function fakeSts(calls: string[]): () => StsLike {
  return () => ({
    send: async (command) => {
      calls.push(command.constructor.name)
      const n = calls.length
      return {
        Credentials: {
          AccessKeyId: `ASIAFAKE${n}`,
          SecretAccessKey: `secret-${n}`,
          SessionToken: `token-${n}`,
          Expiration: new Date(Date.now() + 3600_000),
        },
      }
    },
  })
}

const tokens = new Map<string, string>()

/**
 * The caller's JWT, one per subject (without local verification the cache keys on the token:
 * a new token is a new exchange). Its signature is never checked here; STS would.
 */
function token(subject: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const exp = Math.floor(Date.now() / 1000) + 3600
  let jwt = tokens.get(subject)
  if (jwt === undefined) {
    jwt = `${part({ alg: 'ES256', typ: 'JWT' })}.${part({ sub: subject, groups: ['dev'], exp })}.c2ln`
    tokens.set(subject, jwt)
  }
  return jwt
}

type RouteName = 'plain' | 'caller' | 'override' | 'passthrough'

const ROUTE_KEYS: Record<RouteName, Record<string, string> | undefined> = {
  plain: { host: HOST, path: '/mcp', identity: 'ops' },
  caller: { host: HOST, path: '/mcp', identity: 'caller' },
  // `identities` makes the route read its JSON-RPC bodies (per-call identity override).
  override: { host: HOST, path: '/mcp', identity: 'ops', identities: 'ops' },
  passthrough: undefined,
}

function headersMessage(route: RouteName, caller?: string): ProcessingRequestMessage {
  const keys = ROUTE_KEYS[route]
  const headers: Array<[string, string]> = [
    [':authority', 'gateway.local'],
    [':path', '/mcp'],
    [':method', 'POST'],
    [':scheme', 'https'],
    ['content-type', 'application/json'],
    ['content-length', String(BODY_BYTES)],
    ...(caller !== undefined ? [['authorization', `Bearer ${token(caller)}`] as [string, string]] : []),
  ]
  return {
    request: 'request_headers',
    request_headers: { headers: { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) } },
    attributes: {
      'envoy.filters.http.ext_proc': {
        fields: {
          'xds.route_name': { stringValue: `route_${route}` },
          'xds.route_metadata': {
            stringValue: printMetadataShortDebugString({ filter_metadata: keys === undefined ? {} : { mcp_sigv4: keys } }),
          },
        },
      },
    },
    protocol_config: { request_body_mode: 'BUFFERED' },
  }
}

/** A JSON-RPC tools/call of exactly BODY_BYTES bytes. */
function jsonRpcBody(): Buffer {
  const head = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
  const tail = '"}}}'
  return Buffer.from(head + 'x'.repeat(BODY_BYTES - head.length - tail.length) + tail)
}

interface Exchange {
  readonly responses: ProcessingResponseMessage[]
}

/** One request through a fresh StreamProcessor, as the gRPC handler drives it. */
async function request(generation: Generation, route: RouteName, caller?: string): Promise<Exchange> {
  const responses: ProcessingResponseMessage[] = []
  const processor = new StreamProcessor(generation.deps, {}, { send: (r) => responses.push(r), finish: () => undefined })
  await processor.handle(headersMessage(route, caller))
  await processor.handle({ request: 'request_body', request_body: { body: jsonRpcBody(), end_of_stream: true } })
  return { responses }
}

function setHeaders(exchange: Exchange): string[] {
  const last = exchange.responses.at(-1)
  return (last?.request_body?.response?.header_mutation?.set_headers ?? []).map((h) => h.header.key)
}

/** Our source files (frames of node_modules and of this test do not count). */
const SRC_DIR = fileURLToPath(new URL('../../src/', import.meta.url))

function calledFromSrc(): boolean {
  // Skip this helper's and the wrapper's own frames.
  return (new Error().stack ?? '').split('\n').slice(3).some((frame) => frame.includes(SRC_DIR))
}

/**
 * Counts body copies made by our code: `Buffer.concat`, and `Buffer.from` of bytes of at least
 * `minLength` (a copy; `Buffer.from(arrayBuffer, offset, length)` is a view and not counted).
 */
function spyOnBodyCopies(minLength: number): { copies: () => number; restore: () => void } {
  const { concat, from } = Buffer
  let copies = 0
  Buffer.concat = ((...args: Parameters<typeof Buffer.concat>) => {
    if (calledFromSrc()) copies += 1
    return concat.apply(Buffer, args)
  }) as typeof Buffer.concat
  Buffer.from = ((...args: unknown[]) => {
    const [value] = args
    if (value instanceof Uint8Array && value.byteLength >= minLength && calledFromSrc()) copies += 1
    return (from as (...a: unknown[]) => Buffer).apply(Buffer, args)
  }) as typeof Buffer.from
  return {
    copies: () => copies,
    restore: () => {
      Buffer.concat = concat
      Buffer.from = from
    },
  }
}

/**
 * Counts `JSON.parse` calls made by our code on text of at least `minLength` characters (a body,
 * not a token). Stack traces may parse source maps: those calls are not ours and not counted.
 */
function spyOnBodyParses(minLength: number): { parses: () => number; restore: () => void } {
  const original = JSON.parse
  let parses = 0
  let inside = false
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    if (!inside && typeof text === 'string' && text.length >= minLength) {
      inside = true
      try {
        if (calledFromSrc()) parses += 1
      } finally {
        inside = false
      }
    }
    return original(text, reviver)
  }) as typeof JSON.parse
  return { parses: () => parses, restore: () => void (JSON.parse = original) }
}

describe('hot path guard (structural, not a timing)', () => {
  const stsCalls: string[] = []
  let generation: Generation

  beforeAll(() => {
    const { config } = loadConfig({ text: CONFIG })
    const logger = createLogger('info', new Writable({ write: (_chunk, _encoding, callback) => callback() }))
    const metrics = new Metrics({ defaultMetrics: false })
    const shared: SharedParts = {
      logger,
      metrics,
      observer: createRequestObserver(metrics, logger),
      now: () => new Date(),
      monotonicMs: () => performance.now(),
      createStsClient: fakeSts(stsCalls),
    }
    generation = buildGeneration(config, shared)
  })

  beforeEach(() => {
    stsCalls.length = 0
    work.reset()
  })

  it('warm credentials: no STS call, no key derivation, no Hmac object, metadata parsed once per route', async () => {
    // Warm-up: the first request of each route and caller fetches and derives a key once.
    for (const route of ['plain', 'override', 'passthrough'] as const) await request(generation, route)
    await request(generation, 'caller', 'alice')
    expect(stsCalls).toEqual(['AssumeRoleCommand', 'AssumeRoleWithWebIdentityCommand'])
    expect(work.counters.keyDerivations).toBe(2)
    expect(work.counters.smithySigners).toBe(0)
    expect(work.counters.textFormatParses).toBe(4)
    stsCalls.length = 0
    work.reset()
    for (let i = 0; i < N; i++) {
      const exchanges = await Promise.all([
        request(generation, 'plain'),
        request(generation, 'caller', 'alice'),
        request(generation, 'override'),
        request(generation, 'passthrough'),
      ])
      expect(exchanges.slice(0, 3).map(setHeaders)).toEqual(Array(3).fill(['authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token']))
      expect(setHeaders(exchanges[3] as Exchange)).toEqual([])
    }
    expect(stsCalls).toEqual([])
    expect(work.counters.keyDerivations).toBe(0)
    // The signature is an HMAC under the cached key's prepared pads (two one-shot hashes): no
    // Hmac object per request.
    expect(work.counters.hmacs).toBe(0)
    expect(work.counters.smithySigners).toBe(0)
    expect(work.counters.textFormatParses).toBe(0)
  })

  it('cold callers: one STS call and one key derivation per distinct credential set', async () => {
    const callers = Array.from({ length: 10 }, (_, i) => `cold-${i}`)
    // Three concurrent requests per new caller share one fetch.
    await Promise.all(callers.flatMap((caller) => [0, 1, 2].map(() => request(generation, 'caller', caller))))
    expect(stsCalls).toHaveLength(callers.length)
    expect(work.counters.keyDerivations).toBe(callers.length)
    stsCalls.length = 0
    work.reset()
    await Promise.all(callers.map((caller) => request(generation, 'caller', caller)))
    expect(stsCalls).toHaveLength(0)
    expect(work.counters.keyDerivations).toBe(0)
  })

  it('bodies: hashed once, never copied, and parsed only where a route reads them, once', async () => {
    for (const route of ['plain', 'override', 'passthrough'] as const) await request(generation, route)
    await request(generation, 'caller', 'alice')
    const copies = spyOnBodyCopies(1024)
    const parses = spyOnBodyParses(1024)
    const measure = async (route: RouteName, caller?: string): Promise<Record<string, number>> => {
      work.reset()
      const before = { copies: copies.copies(), parses: parses.parses() }
      for (let i = 0; i < N; i++) await request(generation, route, caller)
      return {
        bodyCopies: copies.copies() - before.copies,
        bodyParses: parses.parses() - before.parses,
        // Bytes given to SHA-256 beyond the bodies, rounded up to 4 KiB per request.
        hashedBeyondBodies: Math.ceil(Math.max(0, work.counters.bytesHashed - N * BODY_BYTES) / N / 4096),
        bodiesHashed: Math.floor(work.counters.bytesHashed / BODY_BYTES / N),
      }
    }
    try {
      // Signed routes hash each body once and little else (the canonical request; a web_identity
      // caller's token digest and cache key: under 4 KiB), copy nothing and parse nothing; pass-through routes do none of it; a route that reads its
      // JSON-RPC bodies parses each one once.
      expect({
        plain: await measure('plain'),
        caller: await measure('caller', 'alice'),
        passthrough: await measure('passthrough'),
        override: await measure('override'),
      }).toEqual({
        plain: { bodyCopies: 0, bodyParses: 0, hashedBeyondBodies: 1, bodiesHashed: 1 },
        caller: { bodyCopies: 0, bodyParses: 0, hashedBeyondBodies: 1, bodiesHashed: 1 },
        passthrough: { bodyCopies: 0, bodyParses: 0, hashedBeyondBodies: 0, bodiesHashed: 0 },
        override: { bodyCopies: 0, bodyParses: N, hashedBeyondBodies: 1, bodiesHashed: 1 },
      })
    } finally {
      copies.restore()
      parses.restore()
    }
  })
})

describe('hot path guard: the gRPC layer', () => {
  let server: ReturnType<typeof createGrpcServer> | undefined
  let client: (Client & { Process(metadata: Metadata): ClientDuplexStream<ProcessingRequestMessage, ProcessingResponseMessage> }) | undefined

  afterEach(() => {
    client?.close()
    server?.server.forceShutdown()
  })

  afterAll(() => vi.restoreAllMocks())

  it('loads the protobuf definitions at start-up, never per stream; encodes the common answers directly', async () => {
    const { config } = loadConfig({ text: CONFIG })
    const logger = createLogger('silent')
    const metrics = new Metrics({ defaultMetrics: false })
    const observer = createRequestObserver(metrics, logger)
    const generation = buildGeneration(config, {
      logger,
      metrics,
      observer,
      now: () => new Date(),
      monotonicMs: () => performance.now(),
      createStsClient: fakeSts([]),
    })
    server = createGrpcServer(createProcessHandler(generation.deps, observer))
    const port = await server.listen('127.0.0.1:0')
    let node: unknown = loadProtoPackage([EXT_PROC_PROTO])
    for (const part of 'envoy.service.ext_proc.v3.ExternalProcessor'.split('.')) node = (node as GrpcObject)[part]
    const Constructor = node as ServiceClientConstructor
    client = new Constructor(`127.0.0.1:${port}`, grpcCredentials.createInsecure()) as unknown as typeof client
    work.reset()
    const answers: string[] = []
    for (let i = 0; i < 20; i++) {
      const call = (client as NonNullable<typeof client>).Process(new Metadata())
      const done = new Promise<void>((resolve) => call.on('status', () => resolve()))
      call.on('error', () => undefined)
      let first = true
      call.on('data', (response: ProcessingResponseMessage) => {
        answers.push(Object.keys(response).find((k) => k.startsWith('request_')) ?? 'other')
        if (first) {
          first = false
          call.write({ request_body: { body: jsonRpcBody(), end_of_stream: true } })
        } else {
          call.end()
        }
      })
      const { request: _case, ...headers } = headersMessage('plain')
      call.write(headers)
      await done
    }
    expect(answers).toEqual(Array.from({ length: 20 }, () => ['request_headers', 'request_body']).flat())
    expect(work.counters.protoLoads).toBe(0)
    expect(work.counters.textFormatParses).toBe(1)
    // 20 signed answers and 20 plain CONTINUEs: only the first plain CONTINUE went through
    // proto-loader (its bytes are reused); the signed ones were written directly.
    expect(work.counters.genericEncodes).toBe(1)
  })
})
