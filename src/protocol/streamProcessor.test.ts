import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { freezeCredentials, type AwsCredentials, type IdentityLookup } from '../credentials/index.js'
import { SignerError } from '../errors.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import type { RequestReport, StreamDependencies, StreamSigningInput, StreamSigningTarget } from './streamDependencies.js'
import { OVERRIDE_GRACE_MS } from './streamCredentials.js'
import { StreamProcessor } from './streamProcessor.js'
import { AWS_MCP_TARGET } from '../../test/support/signingTarget.js'

const CREDS = freezeCredentials({ accessKeyId: 'AKIDTEST', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' })
const TARGET: StreamSigningTarget = AWS_MCP_TARGET

interface Harness {
  processor: StreamProcessor
  sent: ProcessingResponseMessage[]
  finished: () => boolean
  signInputs: StreamSigningInput[]
  reports: RequestReport[]
}

function harness(options: {
  target?: StreamSigningTarget | null | (() => never)
  lookup?: (...args: unknown[]) => IdentityLookup
  maxBodyBytes?: number
  requestBodyModeOverride?: boolean
} = {}): Harness {
  const sent: ProcessingResponseMessage[] = []
  const signInputs: StreamSigningInput[] = []
  const reports: RequestReport[] = []
  let finished = false
  const target = options.target === undefined ? TARGET : options.target
  const deps: StreamDependencies = {
    settings: {
      maxBodyBytes: options.maxBodyBytes ?? 1024,
      requestBodyModeOverride: options.requestBodyModeOverride ?? false,
      credentialWaitTimeoutMs: 5000,
    },
    resolveTarget: () => (typeof target === 'function' ? target() : target),
    lookupIdentity: options.lookup ?? (() => ({ ready: CREDS })),
    headersToStrip: () => ['x-caller-token'],
    sign: (input: StreamSigningInput, credentials: AwsCredentials) => {
      signInputs.push(input)
      return {
        set: [
          ['authorization', `SIGNED ${credentials.accessKeyId} ${input.payloadSha256Hex}`],
          ['x-amz-date', '20260101T000000Z'],
        ],
        remove: ['x-amz-target'],
      }
    },
    now: () => new Date('2026-01-01T00:00:00Z'),
    monotonicMs: () => 0,
    observer: { requestFinished: (r) => reports.push(r), signed: () => undefined, internalError: () => undefined },
    mcp: {
      override: { metaKey: 'mcp-sigv4/identity', argument: undefined, listAllowedInErrors: true },
      policy: () => undefined,
      verifiedClaims: async () => undefined,
      onArgumentConflict: () => undefined,
      toolOwnsArgument: () => false,
    },
  }
  const processor = new StreamProcessor(deps, {}, {
    send: (r) => sent.push(r),
    finish: () => {
      finished = true
    },
  })
  return { processor, sent, finished: () => finished, signInputs, reports }
}

function headersMessage(
  method: string,
  extra: Array<[string, string]> = [],
  endOfStream = false,
  more: Partial<ProcessingRequestMessage> = {},
): ProcessingRequestMessage {
  const headers = [
    [':authority', 'gateway.local'],
    [':path', '/aws-mcp?x=1'],
    [':method', method],
    [':scheme', 'http'],
    ...extra,
  ].map(([key, value]) => ({ key, raw_value: Buffer.from(value as string) }))
  return { request: 'request_headers', request_headers: { headers: { headers }, end_of_stream: endOfStream }, ...more }
}

function bodyMessage(text: string, endOfStream = true): ProcessingRequestMessage {
  return { request: 'request_body', request_body: { body: Buffer.from(text), end_of_stream: endOfStream } }
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex')
const JSON_HEADERS: Array<[string, string]> = [['content-type', 'application/json']]

function immediate(r: ProcessingResponseMessage | undefined) {
  const i = r?.immediate_response
  if (i === undefined) throw new Error(`expected an immediate response, got ${JSON.stringify(r)}`)
  return { status: i.status.code, body: JSON.parse(i.body!.toString()), headers: Object.fromEntries((i.headers?.set_headers ?? []).map((h) => [h.header.key, h.header.raw_value.toString()])), details: i.details }
}

describe('StreamProcessor', () => {
  it('passes a route without a target through: CONTINUE, no mutation, every phase answered', async () => {
    const h = harness({ target: null })
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    await h.processor.handle(bodyMessage('{}'))
    await h.processor.handle({ request: 'response_headers', response_headers: {} })
    expect(h.sent).toEqual([
      { request_headers: { response: { status: 'CONTINUE' } } },
      { request_body: { response: { status: 'CONTINUE' } } },
      { response_headers: { response: { status: 'CONTINUE' } } },
    ])
    expect(h.signInputs).toHaveLength(0)
    expect(h.reports.map((r) => r.outcome)).toEqual(['passed_through'])
  })

  it('signs a body-less request in the headers response over the empty payload', async () => {
    const h = harness()
    await h.processor.handle(headersMessage('GET', [['accept', 'text/event-stream']], true))
    expect(h.sent).toHaveLength(1)
    const mutation = h.sent[0]?.request_headers?.response?.header_mutation
    expect(mutation?.set_headers?.map((s) => [s.header.key, s.header.raw_value.toString()])).toEqual([
      ['authorization', `SIGNED AKIDTEST ${sha('')}`],
      ['x-amz-date', '20260101T000000Z'],
    ])
    expect(mutation?.remove_headers).toEqual(['x-amz-target'])
    expect(h.signInputs[0]).toMatchObject({ method: 'GET', target: TARGET, payloadSha256Hex: sha('') })
    expect(h.signInputs[0]?.requestHeaderNames).toEqual([':authority', ':path', ':method', ':scheme', 'accept'])
    expect(h.signInputs[0]?.stripHeaders).toEqual(['x-caller-token'])
    expect(h.processor.state).toBe('request_complete')
  })

  it('answers the headers, then signs the body in the body response', async () => {
    const h = harness()
    const body = '{"jsonrpc":"2.0","id":7,"method":"tools/list"}'
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    expect(h.sent[0]).toEqual({ request_headers: { response: { status: 'CONTINUE' } } })
    await h.processor.handle(bodyMessage(body))
    const mutation = h.sent[1]?.request_body?.response?.header_mutation
    expect(mutation?.set_headers?.[0]?.header.raw_value.toString()).toBe(`SIGNED AKIDTEST ${sha(body)}`)
    expect(h.signInputs[0]?.contentType).toBe('application/json')
    expect(h.reports).toMatchObject([{ outcome: 'signed', routeName: 'aws-mcp', identity: 'default', bodyBytes: body.length }])
  })

  it('collects several chunks until end_of_stream when Envoy did not say the body mode', async () => {
    const h = harness()
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    await h.processor.handle(bodyMessage('{"a":', false))
    await h.processor.handle(bodyMessage('1}', true))
    expect(h.sent[1]).toEqual({ request_body: { response: { status: 'CONTINUE' } } })
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha('{"a":1}'))
  })

  it('treats a BUFFERED body with end_of_stream false (trailers follow) as complete', async () => {
    const h = harness()
    await h.processor.handle(headersMessage('POST', JSON_HEADERS, false, { protocol_config: { request_body_mode: 'BUFFERED' } }))
    await h.processor.handle(bodyMessage('{"a":1}', false))
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha('{"a":1}'))
    await h.processor.handle({ request: 'request_trailers', request_trailers: {} })
    expect(h.sent[2]).toEqual({ request_trailers: {} })
  })

  it('answers 413 with a JSON-RPC error naming the limit when the body is too large', async () => {
    const h = harness({ maxBodyBytes: 10 })
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":1}'))
    const reply = immediate(h.sent[1])
    expect(reply.status).toBe(413)
    expect(reply.body).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'cannot sign the request: the body exceeds max_body_bytes (10 bytes)', data: { code: 'ERR_BODY_TOO_LARGE' } },
    })
    expect(reply.headers).toEqual({ 'content-type': 'application/json', 'x-mcp-sigv4-error': 'ERR_BODY_TOO_LARGE' })
    expect(h.finished()).toBe(true)
    expect(h.signInputs).toHaveLength(0)
  })

  it('answers 413 at the headers when content-length already exceeds the limit', async () => {
    const h = harness({ maxBodyBytes: 10 })
    await h.processor.handle(headersMessage('POST', [...JSON_HEADERS, ['content-length', '11']]))
    expect(immediate(h.sent[0]).status).toBe(413)
  })

  it('reports a route error after the body, with the JSON-RPC id of the request', async () => {
    const h = harness({
      target: () => {
        throw new SignerError('ERR_ROUTE_TARGET_INCOMPLETE', 'cannot resolve signing region for route "r": host "x.example"')
      },
    })
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    expect(h.sent[0]).toEqual({ request_headers: { response: { status: 'CONTINUE' } } })
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":"abc","method":"tools/call"}'))
    const reply = immediate(h.sent[1])
    expect(reply.status).toBe(500)
    expect(reply.body).toMatchObject({ jsonrpc: '2.0', id: 'abc', error: { code: -32603, data: { code: 'ERR_ROUTE_TARGET_INCOMPLETE' } } })
    expect(reply.body.error.message).toContain('host "x.example"')
    expect(reply.details).toBe('mcp_sigv4_err_route_target_incomplete')
    expect(h.reports).toMatchObject([{ outcome: 'error', errorCode: 'ERR_ROUTE_TARGET_INCOMPLETE' }])
  })

  it('answers a GET route error at once with a plain JSON error', async () => {
    const h = harness({ target: () => { throw new SignerError('ERR_ROUTE_METADATA_INVALID', 'cannot read route metadata: bad') } })
    await h.processor.handle(headersMessage('GET', [], true))
    const reply = immediate(h.sent[0])
    expect(reply.status).toBe(500)
    expect(reply.body).toEqual({ error: { code: 'ERR_ROUTE_METADATA_INVALID', message: 'cannot read route metadata: bad' } })
  })

  it('asks Envoy for more time before waiting for credentials that are not cached', async () => {
    let release: (c: AwsCredentials) => void = () => undefined
    const pending = new Promise<AwsCredentials>((r) => { release = r })
    const h = harness({ lookup: () => ({ pending }) })
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    const handled = h.processor.handle(bodyMessage('{}'))
    await new Promise((r) => setImmediate(r))
    expect(h.sent).toHaveLength(1) // a short grace first: most lookups settle within it
    await new Promise((r) => setTimeout(r, OVERRIDE_GRACE_MS + 20))
    expect(h.sent[1]).toEqual({ override_message_timeout: { seconds: 5, nanos: 0 } })
    release(CREDS)
    await handled
    expect(h.sent[2]?.request_body?.response?.header_mutation).toBeDefined()
  })

  it('sends no timeout override when pending credentials settle within the grace period', async () => {
    const h = harness({ lookup: () => ({ pending: new Promise((r) => setTimeout(() => r(CREDS), 2)) }) })
    await h.processor.handle(headersMessage('GET', [], true))
    expect(h.sent).toHaveLength(1)
    expect(h.sent[0]?.request_headers?.response?.header_mutation).toBeDefined()
  })

  it('passes the request headers and forwarded metadata to the identity lookup', async () => {
    let seen: { token?: string; metadata?: unknown } = {}
    const h = harness({
      lookup: (...args: unknown[]) => {
        const caller = args[1] as { header(n: string): string | undefined; metadata: unknown }
        seen = { token: caller.header('authorization'), metadata: caller.metadata }
        return { ready: CREDS }
      },
    })
    const message = headersMessage('GET', [['authorization', 'Bearer abc.def.ghi']], true, {
      metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': { fields: { payload: { structValue: { fields: { sub: { stringValue: 'u1' } } } } } } } },
    })
    await h.processor.handle(message)
    expect(seen).toEqual({ token: 'Bearer abc.def.ghi', metadata: { 'envoy.filters.http.jwt_authn': { payload: { sub: 'u1' } } } })
  })

  it('answers 502 with the request id when credentials cannot be resolved', async () => {
    const failure = Promise.reject(new SignerError('ERR_STS_FAILED', 'cannot assume role for identity "ops": STS AssumeRole failed (AccessDenied, HTTP 403)'))
    const h = harness({ lookup: () => ({ pending: failure }) })
    await h.processor.handle(headersMessage('POST', JSON_HEADERS))
    await new Promise((r) => setImmediate(r))
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":3,"method":"initialize"}'))
    const reply = immediate(h.sent.at(-1))
    expect(reply.status).toBe(502)
    expect(reply.body).toMatchObject({ id: 3, error: { data: { code: 'ERR_STS_FAILED' } } })
  })

  it('answers 500 for an unknown identity', async () => {
    const h = harness({ lookup: () => { throw new SignerError('ERR_IDENTITY_UNKNOWN', 'cannot sign: identity "ghost" is not configured') } })
    await h.processor.handle(headersMessage('DELETE', [], true))
    expect(immediate(h.sent[0])).toMatchObject({ status: 500, body: { error: { code: 'ERR_IDENTITY_UNKNOWN' } } })
  })

  it('rejects a non-BUFFERED body mode, or asks for BUFFERED when the override is enabled', async () => {
    const none = harness()
    await none.processor.handle(headersMessage('POST', JSON_HEADERS, false, { protocol_config: { response_body_mode: 'NONE' } }))
    expect(immediate(none.sent[0])).toMatchObject({ status: 500, body: { id: null, error: { data: { code: 'ERR_BODY_MODE_UNSUPPORTED' } } } })
    const override = harness({ requestBodyModeOverride: true })
    await override.processor.handle(headersMessage('POST', JSON_HEADERS, false, { protocol_config: { request_body_mode: 'STREAMED', response_body_mode: 'NONE' } }))
    expect(override.sent[0]).toEqual({
      request_headers: { response: { status: 'CONTINUE' } },
      mode_override: { request_body_mode: 'BUFFERED', response_body_mode: 'NONE' },
    })
  })

  it.each([
    ['a body before the headers', [bodyMessage('{}')], /request_body in state awaiting_request_headers: expected request_headers first/],
    ['headers twice', [headersMessage('GET', [], true), headersMessage('GET', [], true)], /request_headers in state request_complete/],
    ['a body after a body-less request', [headersMessage('GET', [], true), bodyMessage('x')], /request_body in state request_complete/],
    ['response headers before the body', [headersMessage('POST'), { request: 'response_headers', response_headers: {} }], /response_headers in state awaiting_request_body: expected request_body/],
    ['an empty message', [{}], /none of request_headers/],
  ] as Array<[string, ProcessingRequestMessage[], RegExp]>)('rejects %s as a protocol violation, without signing', async (_name, messages, pattern) => {
    const h = harness()
    let error: unknown
    for (const m of messages) {
      try {
        await h.processor.handle(m)
      } catch (e) {
        error = e
        break
      }
    }
    expect(error).toBeInstanceOf(SignerError)
    expect((error as SignerError).code).toBe('ERR_PROTOCOL_VIOLATION')
    expect((error as SignerError).message).toMatch(pattern)
    expect(h.signInputs.length).toBeLessThanOrEqual(1)
    if (messages[0]?.request !== 'request_headers' || messages[0]?.request_headers?.end_of_stream !== true) expect(h.signInputs).toHaveLength(0)
  })
})
