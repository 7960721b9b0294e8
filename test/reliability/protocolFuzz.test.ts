/**
 * Protocol fuzzing of the REAL gRPC server (startApp on 127.0.0.1:0, grpc-js on loopback):
 * property-based `ProcessingRequest` streams — random message orders, repeated and missing
 * phases, huge header counts and values, invalid UTF-8, empty and oversized bodies, garbage
 * attributes and route-metadata text, random gRPC metadata — and raw bytes that are not a
 * ProcessingRequest at all.
 *
 * Properties checked on every stream:
 * - it ends (within 10 s) with OK or INVALID_ARGUMENT, never INTERNAL or anything else;
 * - each response answers the message at its position (`request_body` → `request_body`, …) or
 *   is an `immediate_response` (then the last one); `override_message_timeout`-only messages may
 *   come in between;
 * - INVALID_ARGUMENT only for a message that is out of order for a state the stream can be in,
 *   and the details name that message and state; OK without an immediate response only when
 *   every message was answered;
 * - nothing is signed unless the generator planted a valid target, and every signature it finds
 *   verifies with the independent `aws4` verifier against the planted host, path, region and
 *   service; a signed response also removes every client `x-amz-*` header it does not set;
 * - canonical streams with a planted target (liveness) are signed;
 * - afterwards: the active-streams gauge is back to 0, no INTERNAL stream errors were counted,
 *   no unhandled rejection or uncaught exception happened, and the server still serves.
 *
 * The server runs with a tiny `server.turn_budget_ms`: the first message of each event-loop turn
 * is handled at once, most others wait for a later turn, so the properties hold on both paths.
 */
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifySigV4 } from '../harness/sigv4Verifier.js'
import { printMetadataShortDebugString } from '../harness/textFormatPrinter.js'
import { AGENTCORE_HOST, AWS_MCP_HOST } from '../e2e/fixture.js'
import {
  ALT,
  BASE,
  PROFILE_KEYS,
  activeStreams,
  encodeProcessingRequest,
  extProcClient,
  profileSecrets,
  rawProcessClient,
  removedHeadersOf,
  runStream,
  setHeadersOf,
  settleStreams,
  startReliabilityApp,
  watchProcess,
  type AnyClient,
  type ProcessWatch,
  type ReliabilityApp,
  type StreamResult,
} from './support.js'

/** Random streams (any order, any content). */
const RANDOM_RUNS = Number(process.env.FUZZ_RUNS ?? 1200)
/** Canonical streams with a planted valid target: must be signed (liveness). */
const CANONICAL_RUNS = Math.ceil(RANDOM_RUNS / 4)
/** Streams of raw bytes (some valid messages, some garbage). */
const RAW_RUNS = Math.ceil(RANDOM_RUNS / 4)
const MAX_BODY_BYTES = 65_536
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_721)

const ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc'
const PHASES = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers'] as const
type Kind = (typeof PHASES)[number] | 'none'

// ---------------------------------------------------------------------------------------------
// The planted (valid) signing target and how it travels

interface PlantedTarget {
  host: string
  path: string
  region: string
  service: string
  identity: 'default' | 'alt'
  policy?: 'ops'
  identities?: 'alt'
}

type Delivery = 'grpc_metadata' | 'route_metadata' | 'gateway_annotation' | 'leaf_attributes' | 'static_route'

const plantedTarget: fc.Arbitrary<PlantedTarget> = fc.record(
  {
    where: fc.constantFrom(
      { host: AWS_MCP_HOST, region: 'us-east-1', service: 'aws-mcp', explicit: false },
      { host: AGENTCORE_HOST, region: 'eu-west-1', service: 'bedrock-agentcore', explicit: false },
      { host: 'mcp.internal.example.com', region: 'ap-southeast-2', service: 'execute-api', explicit: true },
    ),
    path: fc.constantFrom('/mcp', '/v1/mcp', '/a%3Ab/mcp', '/x/y-z_~.'),
    identity: fc.constantFrom('default' as const, 'alt' as const),
    mcp: fc.constantFrom('none', 'none', 'policy', 'identities'),
  },
  { noNullPrototype: true },
).map(({ where, path, identity, mcp }) => ({
  host: where.host,
  path,
  region: where.region,
  service: where.service,
  identity,
  ...(mcp === 'policy' ? { policy: 'ops' as const } : {}),
  ...(mcp === 'identities' ? { identities: 'alt' as const } : {}),
}))

/** The route keys of a planted target (region/service only where they cannot be inferred). */
function routeKeys(t: PlantedTarget): Record<string, string> {
  const keys: Record<string, string> = { host: t.host, path: t.path, identity: t.identity }
  if (t.host === 'mcp.internal.example.com') Object.assign(keys, { region: t.region, service: t.service })
  if (t.policy !== undefined) keys.policy = t.policy
  if (t.identities !== undefined) keys.identities = t.identities
  return keys
}

/** A deterministic jitter source for the printer. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Placement {
  metadata: Record<string, string>
  attributes: Record<string, unknown>
}

function place(t: PlantedTarget, delivery: Delivery, seed: number, routeName: string): Placement {
  const keys = routeKeys(t)
  const jitter = { jitter: prng(seed), utf8Safe: seed % 2 === 0 }
  switch (delivery) {
    case 'grpc_metadata':
      return {
        metadata: Object.fromEntries(Object.entries(keys).map(([k, v]) => [`x-mcp-sigv4-${k.replaceAll('_', '-')}`, v])),
        attributes: { 'xds.route_name': { stringValue: routeName } },
      }
    case 'route_metadata':
      return {
        metadata: {},
        attributes: {
          'xds.route_name': { stringValue: routeName },
          'xds.route_metadata': { stringValue: printMetadataShortDebugString({ filter_metadata: { mcp_sigv4: keys } }, jitter) },
        },
      }
    case 'gateway_annotation': {
      const annotations = Object.fromEntries(Object.entries(keys).map(([k, v]) => [`mcp-sigv4-${k.replaceAll('_', '-')}`, v]))
      const text = printMetadataShortDebugString(
        { filter_metadata: { 'envoy-gateway': { resources: [{ kind: 'HTTPRoute', name: 'r', namespace: 'n', annotations }] } } },
        jitter,
      )
      return { metadata: {}, attributes: { 'xds.route_metadata': { stringValue: text } } }
    }
    case 'leaf_attributes':
      return {
        metadata: {},
        attributes: Object.fromEntries(
          Object.entries(keys).map(([k, v]) => [`xds.route_metadata.filter_metadata['mcp_sigv4']['${k}']`, { stringValue: v }]),
        ),
      }
    case 'static_route':
      // Only one static route is configured (see the server configuration below).
      return { metadata: {}, attributes: { 'xds.route_name': { stringValue: 'static_route' } } }
  }
}

const STATIC_ROUTE: PlantedTarget = { host: AWS_MCP_HOST, path: '/mcp', region: 'us-east-1', service: 'aws-mcp', identity: 'default' }

// ---------------------------------------------------------------------------------------------
// Garbage

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
)

/** Deeply nested text format, closed or left open. */
const deepText = fc.record({ depth: fc.integer({ min: 50, max: 3000 }), closed: fc.boolean() }).map(({ depth, closed }) => {
  const open = 'filter_metadata { key: "mcp_sigv4" value { fields { key: "x" value { ' + 'struct_value { fields { key: "y" value { '.repeat(depth)
  return open + (closed ? '} } } '.repeat(depth) + '} } } }' : '')
})

/** A planted target's text cut short: never a complete document (unless nothing was cut). */
const truncatedText = fc.record({ t: plantedTarget, seed: fc.integer(), cut: fc.double({ min: 0, max: 1, noNaN: true }) }).map(({ t, seed, cut }) => {
  const text = printMetadataShortDebugString({ filter_metadata: { mcp_sigv4: routeKeys(t), zz_other: { k: 'v' } } }, { jitter: prng(seed) })
  return { target: t, text: text.slice(0, Math.floor(text.length * cut)) }
})

type StructValue = Record<string, unknown>
const { value: structValue } = fc.letrec<{ value: StructValue; struct: StructValue }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 6, depthIdentifier: 'sv' },
    fc.string({ maxLength: 20 }).map((s) => ({ stringValue: s })),
    fc.double().map((n) => ({ numberValue: n })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.constant({ nullValue: 'NULL_VALUE' }),
    tie('struct').map((s) => ({ structValue: s })),
    fc.array(tie('value'), { maxLength: 3, depthIdentifier: 'sv' }).map((values) => ({ listValue: { values } })),
  ),
  struct: fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 3, noNullPrototype: true, depthIdentifier: 'sv' }).map((fields) => ({ fields })),
}))

/**
 * A Struct value nested `depth` levels. grpc-js's serializer (protobufjs) refuses messages nested
 * deeper than its recursion limit on the client side already, so this stays below it; deeper
 * nesting is covered by the raw-bytes property and the deep route-metadata text.
 */
const deepStruct = fc.integer({ min: 10, max: 30 }).map((depth) => {
  let v: StructValue = { stringValue: 'leaf' }
  for (let i = 0; i < depth; i += 1) v = i % 2 === 0 ? { structValue: { fields: { k: v } } } : { listValue: { values: [v] } }
  return v
})

interface GarbageAttributes {
  attributes: Record<string, unknown>
  /** When a truncated planted document was used: the target it would have been. */
  maybe?: PlantedTarget
}

const garbageAttributes: fc.Arbitrary<GarbageAttributes> = fc.oneof(
  fc.constant({ attributes: {} }),
  anyText.map((s) => ({ attributes: { 'xds.route_metadata': { stringValue: s } } })),
  deepText.map((s) => ({ attributes: { 'xds.route_metadata': { stringValue: s } } })),
  truncatedText.map(({ target, text }) => ({ attributes: { 'xds.route_metadata': { stringValue: text } }, maybe: target })),
  fc.dictionary(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('xds.route_metadata', 'xds.route_name', "xds.route_metadata.filter_metadata['mcp_sigv4']['region']")),
    fc.oneof(structValue, deepStruct), { maxKeys: 4, noNullPrototype: true }).map((attributes) => ({ attributes })),
  fc.record({ route: anyText, meta: fc.oneof(anyText, deepText) }, { noNullPrototype: true }).map(({ route, meta }) => ({
    attributes: { 'xds.route_name': { stringValue: route }, 'xds.route_metadata': { stringValue: meta } },
  })),
)

/** gRPC metadata names a client may send over HTTP/2 (no connection-specific or reserved names). */
const FORBIDDEN_METADATA = /^(grpc-|:)|^(connection|keep-alive|proxy-connection|transfer-encoding|upgrade|te|host|content-type|user-agent|content-length)$/
const metadataKey = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,24}$/).filter((k) => !FORBIDDEN_METADATA.test(k) && !k.endsWith('-bin'))
const metadataValue = fc.stringMatching(/^[ -~]{0,60}$/)

/** `x-mcp-sigv4-*` metadata that cannot form a valid target: any key but host, or an invalid host. */
const garbageSigv4Metadata = fc.dictionary(
  fc.oneof(
    fc.constantFrom('path', 'path-prefix', 'path_prefix_replacement', 'region', 'service', 'identity', 'identities', 'policy'),
    fc.stringMatching(/^[a-z_-]{1,12}$/).filter((k) => k.replaceAll('_', '-') !== 'host'),
  ).map((k) => `x-mcp-sigv4-${k}`),
  metadataValue,
  { maxKeys: 4, noNullPrototype: true },
).chain((m) =>
  fc.option(fc.stringMatching(/^[ -~]{0,10}[ /@#?][ -~]{0,10}$/), { nil: undefined }).map((badHost) => ({
    ...m,
    ...(badHost !== undefined && badHost.trim() !== '' ? { 'x-mcp-sigv4-host': badHost } : {}),
  })),
)

const randomMetadata = fc.dictionary(metadataKey, metadataValue, { maxKeys: 6, noNullPrototype: true })
const binaryMetadata = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).map((k) => `${k}-bin`),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  { maxKeys: 2, noNullPrototype: true },
)

// ---------------------------------------------------------------------------------------------
// Messages

interface HeaderEntry {
  key?: string
  raw_value?: Buffer
  value?: string
}

const invalidUtf8 = fc.constantFrom(
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.from([0xc3]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0x61, 0x00, 0x62]),
  Buffer.from([0xc0, 0xaf]),
)
const rawBytes = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  invalidUtf8,
  fc.constant(Buffer.alloc(0)),
)
const headerName = fc.oneof(
  fc.constantFrom(
    'content-type', 'content-length', 'authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256',
    'x-amz-target', 'X-Amz-Evil', 'x-mcp-sigv4-host', 'mcp-method', 'mcp-name', 'x-mcp-agent', 'host', ':authority', ':scheme', 'cookie',
  ),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
  fc.string({ unit: 'binary', maxLength: 20 }),
)
const headerEntry: fc.Arbitrary<HeaderEntry> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ key: headerName, raw_value: rawBytes }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ key: headerName, value: fc.string({ maxLength: 30 }) }, { noNullPrototype: true }) },
  { weight: 1, arbitrary: fc.record({ key: fc.option(headerName, { nil: undefined }) }, { requiredKeys: [], noNullPrototype: true }) },
)
/** Normal lists, thousands of headers, or a few huge values. */
const extraHeaders = fc.oneof(
  { weight: 10, arbitrary: fc.array(headerEntry, { maxLength: 16 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 500, max: 4000 }).map((n) =>
      Array.from({ length: n }, (_, i) => ({ key: `x-many-${i % 97}`, raw_value: Buffer.from(`v${i}`) })),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.record({ key: headerName, size: fc.integer({ min: 16_384, max: 400_000 }) }, { noNullPrototype: true }).map(({ key, size }) => ({
        key,
        raw_value: Buffer.alloc(size, 0x61),
      })),
      { minLength: 1, maxLength: 3 },
    ),
  },
)

const method = fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'get', ''), fc.string({ maxLength: 8 }))
const anyPath = fc.oneof(fc.constantFrom('/', '/r', '/r?x=1', '', '*', '/r#frag', '//..//%zz'), fc.string({ maxLength: 40 }))

const jsonRpcBodies = [
  '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}',
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}',
  '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"mcp-sigv4/identity":"alt"}}}',
  '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","_meta":{"mcp-sigv4/identity":"nope"}}}',
  '[{"jsonrpc":"2.0","id":6,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"}]',
  '{"jsonrpc":"2.0","id":7,"method":"tools/list","method":"tools/call"}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}',
  '[]',
  '{',
]
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 4, arbitrary: fc.constantFrom(...jsonRpcBodies).map((s) => Buffer.from(s)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY_BYTES + 1, max: 3 * MAX_BODY_BYTES }).map((n) => Buffer.alloc(n, 0x7b)) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY_BYTES - 8, max: MAX_BODY_BYTES }).map((n) => Buffer.alloc(n, 0x20)) },
)
const bodyMode = fc.constantFrom('NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED', 'GRPC')
const protocolConfig = fc.option(
  fc.record({ request_body_mode: bodyMode, response_body_mode: bodyMode }, { requiredKeys: [], noNullPrototype: true }),
  { nil: undefined },
)

type Message = Record<string, unknown>

function requestHeaders(
  pseudo: { method?: string; path?: string },
  extra: HeaderEntry[],
  endOfStream: boolean,
  common: Record<string, unknown>,
): Message {
  const headers: HeaderEntry[] = []
  if (pseudo.method !== undefined) headers.push({ key: ':method', raw_value: Buffer.from(pseudo.method) })
  if (pseudo.path !== undefined) headers.push({ key: ':path', raw_value: Buffer.from(pseudo.path) })
  headers.push(...extra)
  return { request_headers: { headers: { headers }, end_of_stream: endOfStream }, ...common }
}

const anyCommon = fc.record(
  {
    attributes: garbageAttributes.map((g) => ({ [ATTRIBUTES_KEY]: { fields: g.attributes } })),
    metadata_context: fc
      .dictionary(fc.string({ maxLength: 12 }), structValue.map((v) => (v.structValue ?? { fields: {} }) as object), {
        maxKeys: 2,
        noNullPrototype: true,
      })
      .map((filter_metadata) => ({ filter_metadata })),
    protocol_config: protocolConfig.map((c) => c ?? {}),
    observability_mode: fc.boolean(),
  },
  { requiredKeys: [], noNullPrototype: true },
)

const anyMessage: fc.Arbitrary<Message> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(method, anyPath, extraHeaders, fc.boolean(), anyCommon).map(([m, p, extra, eos, common]) =>
      requestHeaders({ method: m, path: p }, extra, eos, common),
    ),
  },
  { weight: 4, arbitrary: fc.tuple(body, fc.boolean()).map(([b, eos]) => ({ request_body: { body: b, end_of_stream: eos } })) },
  { weight: 1, arbitrary: fc.array(headerEntry, { maxLength: 4 }).map((headers) => ({ request_trailers: { trailers: { headers } } })) },
  { weight: 1, arbitrary: fc.tuple(extraHeaders, fc.boolean()).map(([headers, eos]) => ({ response_headers: { headers: { headers }, end_of_stream: eos } })) },
  { weight: 1, arbitrary: fc.tuple(body, fc.boolean()).map(([b, eos]) => ({ response_body: { body: b, end_of_stream: eos } })) },
  { weight: 1, arbitrary: fc.constant({ response_trailers: { trailers: { headers: [] } } }) },
  { weight: 1, arbitrary: anyCommon },
)

interface FuzzStream {
  messages: Message[]
  metadata: Record<string, string>
  binary: Record<string, Buffer>
  /** The target the generator planted (signing is allowed only for it). */
  planted?: PlantedTarget
  /** A canonical stream with a planted target: it must be signed. */
  mustSign: boolean
}

const query = fc.array(fc.tuple(fc.stringMatching(/^[a-z0-9_.~-]{1,6}$/), fc.stringMatching(/^[A-Za-z0-9_.~-]{0,6}$/)), { maxLength: 3 }).map((pairs) =>
  pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`,
)
const signableContentType = fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'Application/JSON'), { nil: undefined })
/** Extra request headers for canonical streams: injected x-amz-*, authorization, noise. */
const canonicalExtras = fc.array(
  fc.record(
    {
      key: fc.oneof(
        fc.constantFrom('authorization', 'x-amz-security-token', 'x-amz-date', 'x-amz-target', 'x-amz-content-sha256', 'x-mcp-sigv4-host', 'accept'),
        fc.stringMatching(/^x-[a-z]{1,10}$/),
      ),
      raw_value: fc.oneof(fc.stringMatching(/^[ -~]{1,30}$/).map((s) => Buffer.from(s)), invalidUtf8),
    },
    { noNullPrototype: true },
  ),
  { maxLength: 6 },
)

/** A well-formed request for a planted target: headers (+ one body), possibly response phases. */
const DELIVERIES: Delivery[] = ['grpc_metadata', 'route_metadata', 'gateway_annotation', 'leaf_attributes', 'static_route']

const canonicalStream: fc.Arbitrary<FuzzStream> = fc
  .record(
    {
      target: plantedTarget,
      delivery: fc.constantFrom(...DELIVERIES),
      seed: fc.integer(),
      withBody: fc.boolean(),
      body: fc.oneof(fc.constantFrom(...jsonRpcBodies.slice(0, 3)).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 1024 }).map((b) => Buffer.from(b))),
      query,
      contentType: signableContentType,
      extras: canonicalExtras,
      buffered: fc.boolean(),
      metadata: randomMetadata,
      responsePhases: fc.boolean(),
    },
    { noNullPrototype: true },
  )
  .map((g) => {
    const target: PlantedTarget =
      g.delivery === 'static_route' ? STATIC_ROUTE : { host: g.target.host, path: g.target.path, region: g.target.region, service: g.target.service, identity: g.target.identity }
    const placement = place(target, g.delivery, g.seed, 'fuzz_route')
    const extra: HeaderEntry[] = [...g.extras]
    if (g.contentType !== undefined) extra.push({ key: 'content-type', raw_value: Buffer.from(g.contentType) })
    const common = {
      attributes: { [ATTRIBUTES_KEY]: { fields: placement.attributes } },
      ...(g.buffered ? { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'NONE' } } : {}),
    }
    const messages: Message[] = [
      requestHeaders({ method: g.withBody ? 'POST' : 'GET', path: `/r${g.query}` }, extra, !g.withBody, common),
    ]
    if (g.withBody) messages.push({ request_body: { body: g.body, end_of_stream: true } })
    if (g.responsePhases) {
      messages.push({ response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] } } })
      messages.push({ response_body: { body: Buffer.from('{}'), end_of_stream: true } })
    }
    return { messages, metadata: { ...g.metadata, ...placement.metadata }, binary: {}, planted: target, mustSign: true }
  })

/** Anything: random message lists, planted or garbage targets, random metadata. */
const randomStream: fc.Arbitrary<FuzzStream> = fc
  .record(
    {
      planted: fc.option(fc.tuple(plantedTarget, fc.constantFrom(...DELIVERIES), fc.integer()), { nil: undefined, freq: 2 }),
      garbage: garbageAttributes,
      garbageMetadata: garbageSigv4Metadata,
      metadata: randomMetadata,
      binary: binaryMetadata,
      firstIsHeaders: fc.boolean(),
      head: fc.tuple(method, fc.oneof(query.map((q) => `/r${q}`), anyPath), extraHeaders, fc.boolean(), protocolConfig),
      rest: fc.array(anyMessage, { maxLength: 7 }),
    },
    { noNullPrototype: true },
  )
  .map((g) => {
    let planted: PlantedTarget | undefined
    let attributes: Record<string, unknown>
    let metadata: Record<string, string>
    if (g.planted !== undefined) {
      const [target, delivery, seed] = g.planted
      planted = delivery === 'static_route' ? STATIC_ROUTE : target
      const placement = place(planted, delivery, seed, 'fuzz_route')
      attributes = placement.attributes
      metadata = { ...g.metadata, ...placement.metadata }
    } else {
      planted = g.garbage.maybe
      attributes = g.garbage.attributes
      metadata = { ...g.metadata, ...g.garbageMetadata }
    }
    const [m, p, extra, eos, config] = g.head
    const first = requestHeaders({ method: m, path: p }, extra, eos, {
      attributes: { [ATTRIBUTES_KEY]: { fields: attributes } },
      ...(config !== undefined ? { protocol_config: config } : {}),
    })
    const messages = g.firstIsHeaders ? [first, ...g.rest] : [...g.rest.slice(0, 1), first, ...g.rest.slice(1)]
    return { messages, metadata, binary: g.binary, planted, mustSign: false }
  })

// ---------------------------------------------------------------------------------------------
// The oracle

type State = 'H' | 'P' | 'B' | 'C'
const STATE_NAMES: Record<string, State> = {
  awaiting_request_headers: 'H',
  passthrough: 'P',
  awaiting_request_body: 'B',
  request_complete: 'C',
}

function kindOf(message: Message): Kind {
  for (const phase of PHASES) if (message[phase] !== undefined) return phase
  return 'none'
}

/** Whether `kind` is an ext_proc protocol violation in `state` (README: ERR_PROTOCOL_VIOLATION). */
function violates(kind: Kind, state: State | 'F'): boolean {
  switch (kind) {
    case 'none':
      return true
    case 'request_headers':
      return state !== 'H'
    case 'request_body':
      return state === 'H' || state === 'C'
    case 'request_trailers':
      return state === 'H'
    default:
      return state === 'H' || state === 'B'
  }
}

function headerValue(entry: HeaderEntry): string {
  return entry.raw_value !== undefined && entry.raw_value.length > 0 ? Buffer.from(entry.raw_value).toString('utf8') : (entry.value ?? '')
}

function firstHeader(message: Message, name: string): string | undefined {
  const entries = ((message.request_headers as { headers?: { headers?: HeaderEntry[] } }).headers?.headers ?? []) as HeaderEntry[]
  const found = entries.find((e) => (e.key ?? '').toLowerCase() === name)
  return found === undefined ? undefined : headerValue(found)
}

function bodyMutationOf(response: Record<string, unknown>): Buffer | undefined {
  const common = (response.request_body as { response?: { body_mutation?: { body?: Buffer; clear_body?: boolean } } } | undefined)?.response
  if (common?.body_mutation === undefined) return undefined
  return common.body_mutation.body !== undefined ? Buffer.from(common.body_mutation.body) : Buffer.alloc(0)
}

/** Verifies a signed response against the planted target; returns a problem or undefined. */
function checkSignature(stream: FuzzStream, headersIndex: number, answeredIndex: number, response: Record<string, unknown>): string | undefined {
  const set = setHeadersOf(response)
  const planted = stream.planted
  if (planted === undefined) return `signed (authorization set) although no valid target was planted`
  const headersMessage = stream.messages[headersIndex] as Message
  const chunks: Buffer[] = []
  for (let i = headersIndex + 1; i <= answeredIndex; i += 1) {
    const m = stream.messages[i] as Message
    const b = (m.request_body as { body?: Buffer } | undefined)?.body
    if (b !== undefined) chunks.push(Buffer.from(b))
  }
  const sentBody = bodyMutationOf(response) ?? Buffer.concat(chunks)
  const requestPath = firstHeader(headersMessage, ':path') ?? ''
  const noFragment = requestPath.split('#')[0] as string
  const q = noFragment.indexOf('?')
  const headers: Record<string, string[]> = { host: [planted.host] }
  for (const [k, v] of set) headers[k] = [v]
  const contentType = firstHeader(headersMessage, 'content-type')
  if (contentType !== undefined) headers['content-type'] = [contentType]
  const verdict = verifySigV4(
    { method: firstHeader(headersMessage, ':method') ?? '', rawPath: planted.path + (q < 0 ? '' : noFragment.slice(q)), headers, body: sentBody },
    { credentials: PROFILE_KEYS, expected: { region: planted.region, service: planted.service, host: planted.host } },
  )
  if (!verdict.ok) return `signature does not verify against the planted target: ${verdict.reason}`
  // A per-call override (its member cut out of the body) may switch to `alt`; otherwise the
  // route's identity signs.
  const expectedKey = planted.identity === 'alt' ? ALT.accessKeyId : BASE.accessKeyId
  if (bodyMutationOf(response) === undefined && verdict.accessKeyId !== expectedKey) {
    return `signed with ${verdict.accessKeyId}, expected the route identity's key ${expectedKey}`
  }
  // Client x-amz-* headers the server does not set must be removed.
  const removed = new Set(removedHeadersOf(response))
  const entries = ((headersMessage.request_headers as { headers?: { headers?: HeaderEntry[] } }).headers?.headers ?? []) as HeaderEntry[]
  for (const e of entries) {
    const name = (e.key ?? '').toLowerCase()
    if (name.startsWith('x-amz-') && !set.has(name) && !removed.has(name)) return `client header ${name} survives a signed response`
  }
  if (!set.has('authorization')) return 'signed response without authorization'
  return undefined
}

/** Every way the stream broke the properties; empty when it is fine. */
function problemsOf(stream: FuzzStream, result: StreamResult): string[] {
  const problems: string[] = []
  const { messages } = stream
  let states = new Set<State>(['H'])
  let index = 0
  let headersIndex = -1
  let immediate = false
  let signed = false
  const answers = result.responses.filter((r) => r.response !== undefined || r.override_message_timeout === undefined)
  for (const [n, answer] of answers.entries()) {
    if (index >= messages.length) {
      problems.push(`answer ${n} (${String(answer.response)}) has no message to answer`)
      break
    }
    const message = messages[index] as Message
    const kind = kindOf(message)
    if (immediate) problems.push(`answer after an immediate_response: ${String(answer.response)}`)
    if (answer.response === 'immediate_response') {
      const allowed = (kind === 'request_headers' && states.has('H')) || ((kind === 'request_body' || kind === 'request_trailers') && states.has('B'))
      if (!allowed) problems.push(`immediate_response to ${kind} in states ${[...states].join('')}`)
      const reply = answer.immediate_response as { headers?: { set_headers?: Array<{ header?: { key?: string } }> }; body?: Buffer }
      if (!(reply.headers?.set_headers ?? []).some((h) => h.header?.key === 'x-mcp-sigv4-error')) problems.push('immediate_response without x-mcp-sigv4-error')
      const text = Buffer.from(reply.body ?? Buffer.alloc(0)).toString('utf8')
      if (text !== '') {
        try {
          JSON.parse(text)
        } catch {
          problems.push(`immediate_response body is not JSON: ${text.slice(0, 80)}`)
        }
      }
      immediate = true
      index += 1
      continue
    }
    if (answer.response !== kind) {
      problems.push(`answer ${n} is ${String(answer.response)} for message ${index} (${kind})`)
      break
    }
    const isSigned = setHeadersOf(answer).has('authorization')
    if (kind === 'request_headers') headersIndex = index
    if (isSigned) {
      signed = true
      const problem = checkSignature(stream, headersIndex, index, answer)
      if (problem !== undefined) problems.push(problem)
    }
    const next = new Set<State>()
    for (const s of states) {
      if (violates(kind, s)) continue
      if (kind === 'request_headers') {
        const eos = (message.request_headers as { end_of_stream?: boolean }).end_of_stream === true
        if (isSigned) next.add('C')
        else if (answer.mode_override !== undefined) next.add('B')
        else if (eos) next.add('P')
        else (next.add('P'), next.add('B'))
      } else if (kind === 'request_body') {
        if (isSigned && s === 'B') next.add('C')
        else if (!isSigned) next.add(s)
      } else if (!isSigned && s !== 'B') next.add(s)
    }
    if (next.size === 0) problems.push(`${kind} answered in states ${[...states].join('')} that cannot answer it so`)
    states = next
    index += 1
  }
  const { code, details } = result.status
  if (code === GrpcStatus.OK) {
    if (!immediate && index !== messages.length) problems.push(`OK after answering ${index} of ${messages.length} messages`)
  } else if (code === GrpcStatus.INVALID_ARGUMENT) {
    if (immediate) problems.push('INVALID_ARGUMENT after an immediate_response')
    const message = messages[index]
    if (message === undefined) problems.push('INVALID_ARGUMENT with every message answered')
    else {
      const kind = kindOf(message)
      if (!details.startsWith('unexpected ext_proc message')) problems.push(`INVALID_ARGUMENT details: ${details}`)
      if (kind !== 'none') {
        const m = /^unexpected ext_proc message (\w+) in state (\w+):/.exec(details)
        const state = m === null ? undefined : STATE_NAMES[m[2] as string]
        if (m?.[1] !== kind) problems.push(`INVALID_ARGUMENT names ${m?.[1]} for message ${kind}`)
        if (state === undefined || !states.has(state) || !violates(kind, state)) {
          problems.push(`INVALID_ARGUMENT for ${kind} in ${m?.[2]} (possible states ${[...states].join('')})`)
        }
      } else if (!details.includes('none of request_headers')) problems.push(`empty message details: ${details}`)
    }
  } else {
    problems.push(`stream ended with gRPC ${GrpcStatus[code]}: ${details}`)
  }
  if (stream.mustSign && !signed) problems.push(`canonical stream with a planted target was not signed (${code} ${details}; ${answers.map((a) => a.response).join(',')})`)
  for (const r of result.responses) {
    const text = JSON.stringify(r.immediate_response ?? '')
    for (const secret of profileSecrets()) if (text.includes(secret)) problems.push('a secret in an immediate response')
  }
  return problems
}

/** How a stream ended, for the tally that shows the generator reaches every outcome. */
function outcomeOf(result: StreamResult): 'signed' | 'immediate' | 'invalid_argument' | 'unsigned_ok' | 'other' {
  if (result.responses.some((r) => r.response === 'immediate_response')) return 'immediate'
  if (result.responses.some((r) => setHeadersOf(r).has('authorization'))) return 'signed'
  if (result.status.code === GrpcStatus.INVALID_ARGUMENT) return 'invalid_argument'
  return result.status.code === GrpcStatus.OK ? 'unsigned_ok' : 'other'
}

function grpcMetadata(stream: FuzzStream): Metadata {
  const metadata = new Metadata()
  for (const [k, v] of Object.entries(stream.metadata)) metadata.set(k, v)
  for (const [k, v] of Object.entries(stream.binary)) metadata.set(k, v)
  return metadata
}

// ---------------------------------------------------------------------------------------------

describe('protocol fuzzing of the real gRPC server', () => {
  let f: ReliabilityApp
  let client: AnyClient
  let watch: ProcessWatch
  let streams = 0
  const tally = { signed: 0, immediate: 0, invalid_argument: 0, unsigned_ok: 0, other: 0 }

  beforeAll(async () => {
    watch = watchProcess()
    f = await startReliabilityApp({
      server: `max_body_bytes: ${MAX_BODY_BYTES}, credential_wait_timeout_ms: 2000, turn_budget_ms: 0.001`,
      yaml: () => `
mcp:
  policies:
    ops:
      agent: { header: x-mcp-agent }
      deny_on_missing_agent: false
      fallback_agent: reader
      agents:
        reader: { allow: { tools: ["echo"] } }
routes:
  static_route: { host: ${AWS_MCP_HOST}, path: /mcp }
`,
    })
    client = extProcClient(f.app.grpcPort)
  })
  afterAll(async () => {
    client?.close()
    await f?.close()
    watch?.stop()
  })

  it(`keeps the protocol on ${RANDOM_RUNS} random ProcessingRequest streams (orders, phases, huge headers, invalid UTF-8, garbage attributes and metadata)`, async () => {
    await fc.assert(
      fc.asyncProperty(randomStream, async (stream) => {
        streams += 1
        const result = await runStream(client, stream.messages, grpcMetadata(stream))
        tally[outcomeOf(result)] += 1
        expect(problemsOf(stream, result)).toEqual([])
      }),
      { numRuns: RANDOM_RUNS, seed: SEED, endOnFailure: true },
    )
    // The generator reaches every outcome: signed, local replies, violations and pass-through.
    console.info(`protocol fuzz: ${RANDOM_RUNS} random streams, outcomes ${JSON.stringify(tally)}`)
    expect(tally.other).toBe(0)
    for (const outcome of ['signed', 'immediate', 'invalid_argument', 'unsigned_ok'] as const) {
      expect({ outcome, share: tally[outcome] / RANDOM_RUNS >= 0.03 }).toEqual({ outcome, share: true })
    }
  }, 120_000)

  it(`signs all ${CANONICAL_RUNS} canonical streams with a planted target (five key sources), and only for it`, async () => {
    await fc.assert(
      fc.asyncProperty(canonicalStream, async (stream) => {
        streams += 1
        const result = await runStream(client, stream.messages, grpcMetadata(stream))
        expect(problemsOf(stream, result)).toEqual([])
      }),
      { numRuns: CANONICAL_RUNS, seed: SEED + 1, endOnFailure: true },
    )
  }, 120_000)

  it(`ends ${RAW_RUNS} streams of raw bytes (garbage, truncated or valid messages) with a status and keeps serving`, async () => {
    const raw = rawProcessClient(f.app.grpcPort)
    const valid = encodeProcessingRequest(requestHeaders({ method: 'GET', path: '/r' }, [], true, {}))
    const codes = new Map<string, number>()
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
              fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
              fc.constant(valid),
              fc.constant(Buffer.alloc(0)),
            ),
            { minLength: 1, maxLength: 4 },
          ),
          async (chunks) => {
            streams += 1
            const result = await runStream(raw, chunks)
            const name = GrpcStatus[result.status.code] as string
            codes.set(name, (codes.get(name) ?? 0) + 1)
            // grpc-js answers bytes it cannot decode with INTERNAL "Error deserializing request"
            // before the handler sees a message; anything the handler sees follows the protocol.
            const allowed =
              result.status.code === GrpcStatus.OK ||
              result.status.code === GrpcStatus.INVALID_ARGUMENT ||
              (result.status.code === GrpcStatus.INTERNAL && /deserializ/i.test(result.status.details))
            expect({ allowed, status: result.status }).toMatchObject({ allowed: true })
          },
        ),
        { numRuns: RAW_RUNS, seed: SEED + 2, endOnFailure: true },
      )
    } finally {
      raw.close()
    }
    expect([...codes.keys()].length).toBeGreaterThan(0)
    const again = await runStream(client, [requestHeaders({ method: 'GET', path: '/r' }, [], true, {})])
    expect(again.status.code).toBe(GrpcStatus.OK)
  }, 60_000)

  it('leaves no open stream, no INTERNAL stream error, no unhandled rejection, and no secret in the logs', async () => {
    expect(streams).toBeGreaterThanOrEqual(RANDOM_RUNS + CANONICAL_RUNS + RAW_RUNS)
    expect(await settleStreams(f.app)).toBe(0)
    expect(await activeStreams(f.app)).toBe(0)
    const errors = await f.app.metrics.streamErrors.get()
    const internal = errors.values.filter((v) => v.labels.grpc_code === 'INTERNAL').reduce((a, v) => a + v.value, 0)
    expect(internal).toBe(0)
    expect(watch.unhandled).toEqual([])
    expect(f.logs.filter((l) => l.includes('internal error in stream processing'))).toEqual([])
    // Both paths were taken: messages handled at once, and many that waited for a later turn.
    const deferred = (await f.app.metrics.deferredMessages.get()).values[0]?.value ?? 0
    expect(deferred).toBeGreaterThan(RANDOM_RUNS / 2)
    const logText = f.logs.join('')
    for (const secret of profileSecrets()) expect(logText.includes(secret)).toBe(false)
  })
})
