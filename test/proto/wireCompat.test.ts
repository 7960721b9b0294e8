/**
 * Wire compatibility of `proto/` with Envoy's own definitions.
 *
 * The reference is the copy of Envoy's API shipped in `@grpc/grpc-js-xds` (about Envoy 1.31).
 * Shared fields must round-trip both ways with identical bytes and identical decoded values.
 * Fields newer than that copy are checked on the raw wire: their numbers and wire types must be
 * the current ones (Envoy data-plane-api, early 2026), and the older decoder must skip them as
 * unknown fields instead of reading them as something else.
 */
import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadSync } from '@grpc/proto-loader'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import {
  EXT_PROC_PROTO,
  HEALTH_PROTO,
  PROTO_DIR,
  PROTO_LOADER_OPTIONS,
  loadProtoPackage,
} from '../../src/protocol/protoLoader.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const DEPS = join(REPO, 'node_modules/@grpc/grpc-js-xds/deps')
const UPSTREAM_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
  .map((dir) => join(DEPS, dir))
  // validate.proto imports google/protobuf/descriptor.proto, which protobufjs ships as a file.
  .concat(join(REPO, 'node_modules/protobufjs'))

const EXT_PROC = 'envoy.service.ext_proc.v3'
const REQUEST = `${EXT_PROC}.ProcessingRequest`
const RESPONSE = `${EXT_PROC}.ProcessingResponse`
const MODE = 'envoy.extensions.filters.http.ext_proc.v3.ProcessingMode'
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
}
const WIRE_VARINT = 0
const WIRE_LENGTH_DELIMITED = 2

type Plain = Record<string, unknown>

/** Loads `files` into a fresh root whose imports resolve in `dirs` (proto field names kept). */
function loadRoot(dirs: string[], files: string[]): protobuf.Root {
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => {
    if (isAbsolute(target)) return target
    const found = dirs.map((dir) => join(dir, target)).find((candidate) => existsSync(candidate))
    // Unresolved google/protobuf/* names fall back to protobufjs's bundled definitions.
    return found ?? target
  }
  root.loadSync(files, { keepCase: true })
  root.resolveAll()
  return root
}

const ours = loadRoot([PROTO_DIR], [EXT_PROC_PROTO, HEALTH_PROTO])
const upstream = loadRoot(UPSTREAM_DIRS, ['envoy/service/ext_proc/v3/external_processor.proto'])

const ourType = (name: string): protobuf.Type => ours.lookupType(name)
const upType = (name: string): protobuf.Type => upstream.lookupType(name)
const raw = (text: string): Buffer => Buffer.from(text)
const base64 = (text: string): string => Buffer.from(text).toString('base64')

function encode(type: protobuf.Type, object: Plain): Uint8Array {
  return type.encode(type.fromObject(object)).finish()
}

function decodeToObject(type: protobuf.Type, bytes: Uint8Array): Plain {
  return type.toObject(type.decode(bytes), TO_OBJECT)
}

/** Encodes with our definition and decodes with the upstream one. */
function ourToUpstream(typeName: string, object: Plain): Plain {
  return decodeToObject(upType(typeName), encode(ourType(typeName), object))
}

/** Encodes with one definition, decodes with the other, both ways, and compares everything. */
function expectRoundTripBothWays(typeName: string, object: Plain): void {
  const ourBytes = encode(ourType(typeName), object)
  const upBytes = encode(upType(typeName), object)
  expect(Buffer.from(ourBytes).toString('hex')).toBe(Buffer.from(upBytes).toString('hex'))

  const expected = decodeToObject(ourType(typeName), ourBytes)
  expect(decodeToObject(upType(typeName), ourBytes)).toEqual(expected)
  expect(decodeToObject(ourType(typeName), upBytes)).toEqual(expected)
  expect(decodeToObject(upType(typeName), upBytes)).toEqual(expected)
  // Not trivially empty: the oneof case or first field survived.
  expect(Object.keys(expected).length).toBeGreaterThan(0)
}

interface WireField {
  field: number
  wireType: number
  varint?: number
  bytes?: Uint8Array
}

/** Lists the top-level fields of an encoded message, as read straight off the wire. */
function readWire(bytes: Uint8Array): WireField[] {
  const reader = protobuf.Reader.create(bytes)
  const fields: WireField[] = []
  while (reader.pos < reader.len) {
    const tag = reader.uint32()
    const field = tag >>> 3
    const wireType = tag & 7
    if (wireType === WIRE_VARINT) {
      fields.push({ field, wireType, varint: reader.uint32() })
    } else if (wireType === WIRE_LENGTH_DELIMITED) {
      fields.push({ field, wireType, bytes: reader.bytes() })
    } else {
      reader.skipType(wireType)
      fields.push({ field, wireType })
    }
  }
  return fields
}

/** `[field number, wire type]` of each top-level field. */
const tagsOf = (bytes: Uint8Array): number[][] =>
  readWire(bytes).map((f) => [f.field, f.wireType])

/** Follows length-delimited fields by number, e.g. `[3, 1, 3]`, and returns the inner bytes. */
function wirePath(bytes: Uint8Array, path: number[]): Uint8Array {
  let current = bytes
  for (const number of path) {
    const next = readWire(current).find((f) => f.field === number)
    expect(next?.wireType, `field ${number} on ${path.join('.')}`).toBe(WIRE_LENGTH_DELIMITED)
    current = next?.bytes ?? new Uint8Array()
  }
  return current
}

const NON_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41])

const headerMap = {
  headers: [
    { key: ':authority', raw_value: raw('mcp.example.com:8443') },
    { key: ':path', raw_value: raw('/runtimes/arn%3Aaws%3Abedrock/invocations?q=1') },
    { key: ':method', raw_value: raw('POST') },
    { key: 'x-binary', raw_value: NON_UTF8 },
    { key: 'x-empty', raw_value: Buffer.alloc(0) },
    { key: 'x-legacy', value: 'string value' },
    { key: 'x-dup', raw_value: raw('one') },
    { key: 'x-dup', raw_value: raw('two') },
  ],
}

const attributeStruct = {
  fields: {
    'request.path': { stringValue: '/mcp' },
    'xds.route_name': { stringValue: 'route-ünïcode' },
    'request.size': { numberValue: 1234.5 },
    'request.big': { numberValue: 2 ** 53 },
    'request.negative': { numberValue: -7 },
    'connection.mtls': { boolValue: true },
    'flag.false': { boolValue: false },
    nested: {
      structValue: { fields: { inner: { stringValue: 'x' }, n: { nullValue: 'NULL_VALUE' } } },
    },
    list: {
      listValue: {
        values: [{ stringValue: 'a' }, { numberValue: 0 }, { boolValue: false }, { nullValue: 0 }],
      },
    },
    missing: { nullValue: 'NULL_VALUE' },
  },
}

const metadataContext = {
  filter_metadata: {
    'envoy.filters.http.jwt_authn': { fields: { sub: { stringValue: 'user-1' } } },
    empty: {},
  },
  typed_filter_metadata: {
    typed: {
      type_url: 'type.googleapis.com/google.protobuf.StringValue',
      value: Buffer.from([0x0a, 0x01, 0x78]),
    },
  },
}

const oneHeader = (key: string, value: Buffer): Plain => ({ headers: [{ key, raw_value: value }] })

describe('ProcessingRequest is wire compatible with Envoy', () => {
  const requestCases: Array<[string, Plain]> = [
    ['request_headers', { request_headers: { headers: headerMap, end_of_stream: true } }],
    ['response_headers', { response_headers: { headers: oneHeader(':status', raw('200')) } }],
    ['request_body', { request_body: { body: raw('{"jsonrpc":"2.0"}'), end_of_stream: true } }],
    ['response_body', { response_body: { body: NON_UTF8, end_of_stream: false } }],
    ['request_trailers', { request_trailers: { trailers: oneHeader('grpc-status', raw('0')) } }],
    ['response_trailers', { response_trailers: { trailers: oneHeader('x-t', NON_UTF8) } }],
  ]

  it.each(requestCases)('round-trips the %s case both ways', (_name, object) => {
    expectRoundTripBothWays(REQUEST, object)
  })

  it('round-trips attributes of every Struct kind, metadata_context, observability_mode', () => {
    const object = {
      request_headers: { headers: headerMap },
      metadata_context: metadataContext,
      attributes: { 'envoy.filters.http.ext_proc': attributeStruct, other: { fields: {} } },
      observability_mode: true,
    }
    expectRoundTripBothWays(REQUEST, object)
    const decoded = ourToUpstream(REQUEST, object)
    const attributes = decoded.attributes as Record<string, { fields: Plain }>
    const fields = attributes['envoy.filters.http.ext_proc']?.fields
    expect(fields?.['request.big']).toEqual({ numberValue: 2 ** 53 })
    expect(fields?.missing).toEqual({ nullValue: 'NULL_VALUE' })
  })

  it('keeps non-UTF-8 raw_value bytes exactly', () => {
    const bytes = encode(ourType(REQUEST), { request_headers: { headers: headerMap } })
    const message = upType(REQUEST).decode(bytes) as unknown as {
      request_headers: { headers: { headers: Array<{ key: string; raw_value: Uint8Array }> } }
    }
    const binary = message.request_headers.headers.headers.find((h) => h.key === 'x-binary')
    expect(Buffer.from(binary?.raw_value ?? []).equals(NON_UTF8)).toBe(true)
  })
})

const setHeaders = [
  { header: { key: 'authorization', raw_value: raw('AWS4-HMAC-SHA256 Credential=…') } },
  { header: { key: 'x-amz-date', raw_value: raw('20150830T123600Z') }, append: { value: false } },
  { header: { key: 'x-multi', raw_value: raw('v2') }, append: { value: true } },
  {
    header: { key: 'x-action', raw_value: NON_UTF8 },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    keep_empty_value: true,
  },
  { header: { key: 'x-if-absent', value: 'legacy' }, append_action: 'ADD_IF_ABSENT' },
]
const headerMutation = {
  set_headers: setHeaders,
  remove_headers: ['x-amz-security-token', 'x-amz-target'],
}

describe('ProcessingResponse is wire compatible with Envoy', () => {
  const responseCases: Array<[string, Plain]> = [
    ['request_headers with set/append/remove', {
      request_headers: { response: { header_mutation: headerMutation, clear_route_cache: true } },
    }],
    ['response_headers CONTINUE_AND_REPLACE with trailers', {
      response_headers: {
        response: {
          status: 'CONTINUE_AND_REPLACE',
          body_mutation: { body: raw('{}') },
          trailers: oneHeader('x-t', raw('1')),
        },
      },
    }],
    ['request_body with a body mutation', {
      request_body: {
        response: { header_mutation: headerMutation, body_mutation: { body: NON_UTF8 } },
      },
    }],
    ['response_body with clear_body', {
      response_body: { response: { body_mutation: { clear_body: true } } },
    }],
    ['request_trailers', { request_trailers: { header_mutation: headerMutation } }],
    ['response_trailers', { response_trailers: { header_mutation: { remove_headers: ['x-a'] } } }],
    ['immediate_response', {
      immediate_response: {
        status: { code: 'Forbidden' },
        headers: headerMutation,
        body: raw('{"jsonrpc":"2.0","error":{"code":-32001}}'),
        grpc_status: { status: 7 },
        details: 'mcp_policy_denied',
      },
    }],
    ['mode_override and dynamic_metadata', {
      request_headers: {},
      mode_override: {
        request_header_mode: 'SEND',
        response_header_mode: 'SKIP',
        request_body_mode: 'BUFFERED',
        response_body_mode: 'BUFFERED_PARTIAL',
        request_trailer_mode: 'DEFAULT',
        response_trailer_mode: 'SKIP',
      },
      dynamic_metadata: { fields: { 'mcp.sigv4': { structValue: attributeStruct } } },
    }],
    ['override_message_timeout', { override_message_timeout: { seconds: 2, nanos: 500_000_000 } }],
  ]

  it.each(responseCases)('round-trips %s both ways', (_name, object) => {
    expectRoundTripBothWays(RESPONSE, object)
  })

  it('decodes enum names and nested values identically', () => {
    const object = {
      immediate_response: { status: { code: 'GatewayTimeout' }, grpc_status: { status: 14 } },
    }
    expect(ourToUpstream(RESPONSE, object)).toEqual(object)
  })
})

describe('fields newer than the upstream copy carry the current numbers', () => {
  const ourRequest = ourType(REQUEST)
  const upRequest = upType(REQUEST)
  const ourResponse = ourType(RESPONSE)
  const upResponse = upType(RESPONSE)

  it('ProcessingRequest.protocol_config is field 11 and the old decoder skips it', () => {
    const base = { request_headers: { headers: headerMap, end_of_stream: true } }
    const bytes = encode(ourRequest, {
      ...base,
      protocol_config: {
        request_body_mode: 'FULL_DUPLEX_STREAMED',
        response_body_mode: 'GRPC',
        send_body_without_waiting_for_header_response: true,
      },
    })
    expect(tagsOf(bytes)).toEqual([[2, WIRE_LENGTH_DELIMITED], [11, WIRE_LENGTH_DELIMITED]])
    const config = readWire(wirePath(bytes, [11]))
    expect(config.map((f) => [f.field, f.wireType, f.varint])).toEqual([
      [1, WIRE_VARINT, 4],
      [2, WIRE_VARINT, 5],
      [3, WIRE_VARINT, 1],
    ])
    expect(upRequest.fieldsById[11]).toBeUndefined()
    expect(decodeToObject(upRequest, bytes)).toEqual(ourToUpstream(REQUEST, base))
  })

  it('HttpBody.end_of_stream_without_message = 3 and grpc_message_compressed = 4', () => {
    const bytes = encode(ourRequest, {
      request_body: {
        body: raw('x'),
        end_of_stream: true,
        end_of_stream_without_message: true,
        grpc_message_compressed: true,
      },
    })
    expect(tagsOf(wirePath(bytes, [4]))).toEqual([
      [1, WIRE_LENGTH_DELIMITED],
      [2, WIRE_VARINT],
      [3, WIRE_VARINT],
      [4, WIRE_VARINT],
    ])
    expect(upType(`${EXT_PROC}.HttpBody`).fieldsById[3]).toBeUndefined()
    expect(upType(`${EXT_PROC}.HttpBody`).fieldsById[4]).toBeUndefined()
    expect(decodeToObject(upRequest, bytes)).toEqual({
      request_body: { body: base64('x'), end_of_stream: true },
    })
  })

  it('ProcessingResponse.streamed_immediate_response is field 11 of the response oneof', () => {
    const headers = encode(ourResponse, {
      streamed_immediate_response: {
        headers_response: { headers: oneHeader(':status', raw('200')) },
      },
    })
    expect(tagsOf(headers)).toEqual([[11, WIRE_LENGTH_DELIMITED]])
    expect(tagsOf(wirePath(headers, [11]))).toEqual([[1, WIRE_LENGTH_DELIMITED]])
    const body = encode(ourResponse, {
      streamed_immediate_response: { body_response: { body: raw('b') } },
    })
    expect(tagsOf(wirePath(body, [11]))).toEqual([[2, WIRE_LENGTH_DELIMITED]])
    const trailers = encode(ourResponse, {
      streamed_immediate_response: { trailers_response: { headers: [] } },
    })
    expect(tagsOf(wirePath(trailers, [11]))).toEqual([[3, WIRE_LENGTH_DELIMITED]])
    expect(ourResponse.oneofs.response?.fieldsArray.map((f) => f.id)).toContain(11)
    expect(upResponse.fieldsById[11]).toBeUndefined()
    expect(decodeToObject(upResponse, headers)).toEqual({})
  })

  it('ProcessingResponse.request_drain is field 12 (varint)', () => {
    const bytes = encode(ourResponse, { request_body: {}, request_drain: true })
    expect(readWire(bytes).map((f) => [f.field, f.wireType, f.varint])).toEqual([
      [3, WIRE_LENGTH_DELIMITED, undefined],
      [12, WIRE_VARINT, 1],
    ])
    expect(upResponse.fieldsById[12]).toBeUndefined()
    expect(decodeToObject(upResponse, bytes)).toEqual({ request_body: {} })
  })

  it('BodyMutation.streamed_response is field 3, not misread as body or clear_body', () => {
    const bytes = encode(ourResponse, {
      request_body: {
        response: {
          body_mutation: {
            streamed_response: {
              body: raw('chunk'),
              end_of_stream: true,
              end_of_stream_without_message: true,
              grpc_message_compressed: true,
            },
          },
        },
      },
    })
    expect(tagsOf(wirePath(bytes, [3, 1, 3]))).toEqual([[3, WIRE_LENGTH_DELIMITED]])
    expect(tagsOf(wirePath(bytes, [3, 1, 3, 3]))).toEqual([
      [1, WIRE_LENGTH_DELIMITED],
      [2, WIRE_VARINT],
      [3, WIRE_VARINT],
      [4, WIRE_VARINT],
    ])
    expect(upType(`${EXT_PROC}.BodyMutation`).fieldsById[3]).toBeUndefined()
    expect(decodeToObject(upResponse, bytes)).toEqual({
      request_body: { response: { body_mutation: {} } },
    })
  })

  it('BodySendMode FULL_DUPLEX_STREAMED = 4 and GRPC = 5 stay numbers for the old decoder', () => {
    const modes = { request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'GRPC' }
    const bytes = encode(ourResponse, { mode_override: modes })
    expect(readWire(wirePath(bytes, [9])).map((f) => [f.field, f.varint])).toEqual([
      [3, 4],
      [4, 5],
    ])
    expect(decodeToObject(upResponse, bytes)).toEqual({
      mode_override: { request_body_mode: 4, response_body_mode: 5 },
    })
    expect(decodeToObject(ourResponse, bytes)).toEqual({ mode_override: modes })
  })
})

/** Field name → "id type rule oneof" for every field of a type, for structural comparison. */
function fieldShapes(type: protobuf.Type): Record<string, string> {
  const shapes: Record<string, string> = {}
  for (const field of type.fieldsArray) {
    const resolved = field.resolvedType?.fullName ?? field.type
    const key = field instanceof protobuf.MapField ? `map<${field.keyType}>` : ''
    const rule = field.repeated ? 'repeated' : 'single'
    shapes[field.name] = `${field.id} ${key}${resolved} ${rule} ${field.partOf?.name ?? ''}`
  }
  return shapes
}

describe('schema matches the upstream copy field by field', () => {
  const newerFields: Record<string, string[]> = {
    ProcessingRequest: ['protocol_config'],
    ProcessingResponse: ['streamed_immediate_response', 'request_drain'],
    HttpBody: ['end_of_stream_without_message', 'grpc_message_compressed'],
    BodyMutation: ['streamed_response'],
  }
  const sharedMessages = [
    'ProcessingRequest', 'ProcessingResponse', 'HttpHeaders', 'HttpBody', 'HttpTrailers',
    'HeadersResponse', 'BodyResponse', 'TrailersResponse', 'CommonResponse', 'ImmediateResponse',
    'GrpcStatus', 'HeaderMutation', 'BodyMutation',
  ]

  it.each(sharedMessages)('%s has every upstream field with its number and type', (name) => {
    const up = fieldShapes(upType(`${EXT_PROC}.${name}`))
    const our = fieldShapes(ourType(`${EXT_PROC}.${name}`))
    const extra = Object.keys(our).filter((field) => !(field in up))
    expect(extra.sort()).toEqual((newerFields[name] ?? []).sort())
    for (const field of extra) delete our[field]
    expect(our).toEqual(up)
  })

  it.each([
    'envoy.config.core.v3.HeaderValue',
    'envoy.config.core.v3.HeaderValueOption',
    'envoy.config.core.v3.HeaderMap',
    'envoy.config.core.v3.Metadata',
    'envoy.type.v3.HttpStatus',
    MODE,
  ])('%s matches upstream exactly', (name) => {
    expect(fieldShapes(ourType(name))).toEqual(fieldShapes(upType(name)))
  })

  it('enums match upstream, plus the two newer body modes', () => {
    const values = (root: protobuf.Root, name: string): Record<string, number> =>
      root.lookupEnum(name).values
    const sameAsUpstream = [
      'envoy.type.v3.StatusCode',
      `${MODE}.HeaderSendMode`,
      `${EXT_PROC}.CommonResponse.ResponseStatus`,
      'envoy.config.core.v3.HeaderValueOption.HeaderAppendAction',
    ]
    for (const name of sameAsUpstream) {
      expect(values(ours, name), name).toEqual(values(upstream, name))
    }
    expect(values(ours, `${MODE}.BodySendMode`)).toEqual({
      ...values(upstream, `${MODE}.BodySendMode`),
      FULL_DUPLEX_STREAMED: 4,
      GRPC: 5,
    })
  })

  it('keeps field 1 of ProcessingRequest reserved, as Envoy does', () => {
    // protobufjs stores `reserved 1;` as the inclusive range [1, 1].
    expect(ourType(REQUEST).reserved).toEqual(upType(REQUEST).reserved)
    expect(ourType(REQUEST).reserved).toEqual([[1, 1], 'async_mode'])
  })
})

interface LoadedMethod {
  path: string
  requestStream: boolean
  responseStream: boolean
  requestDeserialize: (bytes: Buffer) => Plain
  responseSerialize: (value: unknown) => Buffer
}

describe('loading with @grpc/proto-loader', () => {
  const definition = loadSync([EXT_PROC_PROTO, HEALTH_PROTO], { ...PROTO_LOADER_OPTIONS })
  const service = (name: string): Record<string, LoadedMethod> =>
    definition[name] as unknown as Record<string, LoadedMethod>

  it('uses the options the server relies on', () => {
    expect(PROTO_LOADER_OPTIONS).toMatchObject({
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs: [PROTO_DIR],
    })
    expect(existsSync(join(PROTO_DIR, EXT_PROC_PROTO))).toBe(true)
  })

  it('defines the bidirectional Process method at the path Envoy calls', () => {
    const process = service(`${EXT_PROC}.ExternalProcessor`).Process
    expect(process?.path).toBe('/envoy.service.ext_proc.v3.ExternalProcessor/Process')
    expect(process?.requestStream).toBe(true)
    expect(process?.responseStream).toBe(true)
  })

  it('defines grpc.health.v1.Health/Check and Watch', () => {
    const health = service('grpc.health.v1.Health')
    expect(health.Check?.path).toBe('/grpc.health.v1.Health/Check')
    expect(health.Check?.responseStream).toBe(false)
    expect(health.Watch?.path).toBe('/grpc.health.v1.Health/Watch')
    expect(health.Watch?.responseStream).toBe(true)
  })

  it('loadProtoPackage exposes both services', () => {
    type Service = { service: Record<string, { path: string }> }
    const pkg = loadProtoPackage([EXT_PROC_PROTO, HEALTH_PROTO]) as unknown as {
      envoy: { service: { ext_proc: { v3: { ExternalProcessor: Service } } } }
      grpc: { health: { v1: { Health: Service } } }
    }
    expect(pkg.envoy.service.ext_proc.v3.ExternalProcessor.service.Process?.path)
      .toBe('/envoy.service.ext_proc.v3.ExternalProcessor/Process')
    expect(pkg.grpc.health.v1.Health.service.Check?.path).toBe('/grpc.health.v1.Health/Check')
  })

  it('reads upstream bytes with proto names, the oneof case and camelCase Struct values', () => {
    const process = service(`${EXT_PROC}.ExternalProcessor`).Process as LoadedMethod
    const bytes = encode(upType(REQUEST), {
      request_headers: { headers: headerMap },
      attributes: {
        'envoy.filters.http.ext_proc': { fields: { 'request.path': { stringValue: '/mcp' } } },
      },
    })
    const request = process.requestDeserialize(Buffer.from(bytes))
    expect(request.request).toBe('request_headers')
    type Headers = { headers: { headers: Array<{ key: string; raw_value?: Buffer }> } }
    const headers = (request.request_headers as Headers).headers.headers
    expect(headers.find((h) => h.key === 'x-binary')?.raw_value?.equals(NON_UTF8)).toBe(true)
    expect(request.attributes).toEqual({
      'envoy.filters.http.ext_proc': {
        fields: { 'request.path': { stringValue: '/mcp', kind: 'stringValue' } },
      },
    })
  })

  it('writes responses that the upstream definition reads back', () => {
    const process = service(`${EXT_PROC}.ExternalProcessor`).Process as LoadedMethod
    const setA = (value: string | Buffer): Plain => {
      const setHeader = { header: { key: 'a', raw_value: value } }
      return { request_headers: { response: { header_mutation: { set_headers: [setHeader] } } } }
    }
    const bytes = process.responseSerialize(setA(raw('b')))
    expect(decodeToObject(upType(RESPONSE), bytes)).toEqual(setA(base64('b')))
  })
})
