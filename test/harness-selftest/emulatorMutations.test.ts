import { describe, expect, it } from 'vitest'
import { sendHttp } from '../harness/echoUpstream.js'
import type { Script } from '../harness/scriptedExtProc.js'
import type { ProcessingResponseMsg } from '../harness/emulator/types.js'
import { setRaw, useFixture } from './emulatorFixture.js'

const start = useFixture()

/** Answers request_headers with `headers` and request_body with `body` (CONTINUE otherwise). */
function answer(headers: ProcessingResponseMsg | undefined, body?: ProcessingResponseMsg): Script {
  return (m, ctx) => {
    if (m.request === 'request_headers') ctx.send(headers ?? { request_headers: {} })
    if (m.request === 'request_body') ctx.send(body ?? { request_body: {} })
  }
}

const CLIENT_HEADERS = [
  'X-Remove-Me', 'old',
  'X-Multi', 'a',
  'X-Over', '1',
  'X-Over', '2',
  'X-Envoy-Client', 'kept',
]

describe('emulator: header mutations', () => {
  it('applies remove before set, raw_value only, append, and the default rules', async () => {
    const f = await start({}, answer({ request_headers: { response: { header_mutation: {
      remove_headers: ['x-remove-me', ':path', 'host', 'X-Envoy-Client'],
      set_headers: [
        setRaw('x-raw', 'r1'),
        { header: { key: 'x-value-only', value: 'ignored-by-envoy' } },
        setRaw('x-remove-me', 'new'),
        setRaw('x-multi', 'b', true),
        setRaw('X-Over', 'single'),
        setRaw('host', 'evil.example.com'),
        setRaw(':authority', 'evil.example.com'),
        setRaw('x-envoy-foo', 'bar'),
        setRaw(':method', 'PUT'),
        setRaw(':path', '/changed?q=1'),
      ],
    } } } }))
    const reply = await sendHttp(f.emulator.url('/orig'), { headers: CLIENT_HEADERS })
    expect(reply.status).toBe(200)
    const up = f.upstream.requests[0]!
    expect(up.method).toBe('GET')
    expect(up.path).toBe('/changed?q=1')
    expect(up.headers.host).toEqual([`127.0.0.1:${f.emulator.port}`])
    expect(up.headers['x-raw']).toEqual(['r1'])
    expect(up.headers['x-value-only']).toEqual([''])
    expect(up.headers['x-remove-me']).toEqual(['new'])
    expect(up.headers['x-multi']).toEqual(['a', 'b'])
    expect(up.headers['x-over']).toEqual(['single'])
    expect(up.headers['x-envoy-foo']).toBeUndefined()
    // Removing x-envoy-* is disallowed too; removing ':path' and 'host' never happens.
    expect(up.headers['x-envoy-client']).toEqual(['kept'])
    expect(f.emulator.stats.rejectedHeaderMutations).toBe(7)
  })

  it('fails with 500 when both value and raw_value are set', async () => {
    const f = await start({}, answer({ request_headers: { response: { header_mutation: {
      set_headers: [{ header: { key: 'x-both', value: 'v', raw_value: Buffer.from('r') } }],
    } } } }))
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe(
      'Only_one_of_value_or_raw_value_in_the_HeaderValue_message_should_be_set.')
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('fails with 500 on a disallowed mutation when disallowIsError is set', async () => {
    const f = await start({ disallowIsError: true }, answer({ request_headers: { response: {
      header_mutation: { set_headers: [setRaw('host', 'evil.example.com')] } } } }))
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe('Invalid_attempt_to_modify_host')
    expect(f.emulator.stats.rejectedHeaderMutations).toBe(0)
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('allows routing headers with allowAllRouting', async () => {
    const f = await start({ mutationRules: { allowAllRouting: true } }, answer({
      request_headers: { response: { header_mutation: {
        set_headers: [setRaw(':authority', 'other.example.com')] } } } }))
    await sendHttp(f.emulator.url('/p'))
    expect(f.upstream.requests[0]?.headers.host).toEqual(['other.example.com'])
  })

  it('applies body-response header mutations and a body of matching content-length', async () => {
    const newBody = '{"signed":true}'
    const f = await start({}, answer(undefined, { request_body: { response: {
      header_mutation: { set_headers: [setRaw('content-length', String(newBody.length)),
        setRaw('authorization', 'AWS4-HMAC-SHA256 …')] },
      body_mutation: { body: Buffer.from(newBody) },
    } } }))
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'original-body' })
    expect(reply.status).toBe(200)
    const up = f.upstream.requests[0]!
    expect(up.body.toString()).toBe(newBody)
    expect(up.headers['content-length']).toEqual([String(newBody.length)])
    expect(up.headers.authorization).toEqual(['AWS4-HMAC-SHA256 â\u0080¦'])
  })

  it('fails with 500 when the mutated body does not match content-length', async () => {
    const f = await start({}, answer(undefined, { request_body: { response: {
      body_mutation: { body: Buffer.from('longer than the original') } } } }))
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'short' })
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe(
      'mismatch_between_content_length_and_the_length_of_the_mutated_body')
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('clears the body with clear_body when content-length is set to 0', async () => {
    const f = await start({}, answer(undefined, { request_body: { response: {
      header_mutation: { set_headers: [setRaw('content-length', '0')] },
      body_mutation: { clear_body: true } } } }))
    await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(f.upstream.requests[0]?.body.length).toBe(0)
    expect(f.upstream.requests[0]?.headers['content-length']).toEqual(['0'])
  })

  it('skips content-length sets on the headers response outside BUFFERED mode', async () => {
    const f = await start({ processingMode: { request_body_mode: 'NONE' } }, answer({
      request_headers: { response: { header_mutation: {
        set_headers: [setRaw('content-length', '99'), setRaw('x-a', 'b')] } } } }))
    await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(f.upstream.requests[0]?.headers['content-length']).toEqual(['3'])
    expect(f.upstream.requests[0]?.headers['x-a']).toEqual(['b'])
    expect(f.extProc.calls[0]?.received).toHaveLength(1)
  })

  it('honours mode_override only when allowed and only on a headers response', async () => {
    const override: ProcessingResponseMsg = { request_headers: { response: {} },
      mode_override: { request_body_mode: 'NONE' } }
    const f = await start({ allowModeOverride: true }, answer(override))
    await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(f.extProc.calls[0]?.received.map((m) => m.request)).toEqual(['request_headers'])
    expect(f.upstream.requests[0]?.body.toString()).toBe('abc')
    await f.close()

    const g = await start({ allowModeOverride: false }, answer(override))
    await sendHttp(g.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(g.extProc.calls[0]?.received.map((m) => m.request))
      .toEqual(['request_headers', 'request_body'])
  })

  it('replaces the body and stops request processing on CONTINUE_AND_REPLACE', async () => {
    const f = await start({}, answer({ request_headers: { response: {
      status: 'CONTINUE_AND_REPLACE',
      header_mutation: { set_headers: [setRaw(':method', 'POST')] },
      body_mutation: { body: Buffer.from('created') } } } }))
    await sendHttp(f.emulator.url('/p'))
    expect(f.extProc.calls[0]?.received).toHaveLength(1)
    const up = f.upstream.requests[0]!
    expect(up.method).toBe('POST')
    expect(up.body.toString()).toBe('created')
  })

  it('re-selects the route on clear_route_cache with a header mutation', async () => {
    const f = await start({}, answer({ request_headers: { response: {
      clear_route_cache: true,
      header_mutation: { set_headers: [setRaw(':path', '/aws-mcp/moved')] } } } }))
    await sendHttp(f.emulator.url('/elsewhere'))
    expect(f.emulator.stats.requests[0]?.routeName).toBe('aws-mcp')
    expect(f.upstream.requests[0]?.path).toBe('/mcp/moved')
    expect(f.upstream.requests[0]?.headers.host).toEqual(['aws-mcp.us-east-1.api.aws'])
  })
})
