import { request as httpRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sendHttp } from '../harness/echoUpstream.js'
import { GrpcStatus } from '../harness/scriptedExtProc.js'
import type { Script } from '../harness/scriptedExtProc.js'
import { setRaw, useFixture } from './emulatorFixture.js'

const start = useFixture()

const never: Script = () => undefined

describe('emulator: immediate responses', () => {
  it('sends the immediate response and never forwards', async () => {
    const f = await start({}, (_m, ctx) => ctx.send({ immediate_response: {
      status: { code: 403 },
      headers: { set_headers: [setRaw('x-denied', 'yes'), setRaw('x-envoy-nope', '1'),
        setRaw('content-type', 'application/json')] },
      body: Buffer.from('{"message":"denied"}'),
      details: 'access denied by signer',
    } }))
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(reply.status).toBe(403)
    expect(reply.headers['x-denied']).toEqual(['yes'])
    expect(reply.headers['x-envoy-nope']).toBeUndefined()
    expect(reply.headers['content-type']).toEqual(['application/json'])
    expect(reply.body.toString()).toBe('{"message":"denied"}')
    const record = f.emulator.stats.requests[0]
    expect(record?.localReply).toEqual({ status: 403, details: 'access_denied_by_signer',
      body: '{"message":"denied"}', immediate: true })
    expect(f.upstream.requests).toHaveLength(0)
    // The body is never sent after an immediate response to the headers.
    expect(f.extProc.calls[0]?.received).toHaveLength(1)
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
  })

  it('uses 200 for an absent or informational status and text/plain for a body', async () => {
    const f = await start({}, (_m, ctx) => ctx.send({ immediate_response: {
      status: { code: 100 }, body: Buffer.from('hi') } }))
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toEqual(['text/plain'])
    f.extProc.setScript((_m, ctx) => ctx.send({ immediate_response: {} }))
    expect((await sendHttp(f.emulator.url('/p'))).status).toBe(200)
  })
})

describe('emulator: timeouts', () => {
  it('answers 504 when the server does not answer within message_timeout', async () => {
    const f = await start({ messageTimeoutMs: 100 }, never)
    const started = Date.now()
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(504)
    expect(Date.now() - started).toBeGreaterThanOrEqual(95)
    expect(f.emulator.stats.requests[0]?.localReply?.details)
      .toBe('ext_proc_error_per-message_timeout_exceeded')
    expect(f.emulator.stats.messageTimeouts).toBe(1)
    expect(f.upstream.requests).toHaveLength(0)
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
  })

  it('continues unprocessed on timeout with failure_mode_allow', async () => {
    const f = await start({ messageTimeoutMs: 50, failureModeAllow: true }, never)
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(reply.status).toBe(200)
    expect(f.upstream.requests[0]?.body.toString()).toBe('abc')
    expect(f.emulator.stats.failureModeAllowed).toBe(1)
    expect(f.extProc.calls[0]?.received).toHaveLength(1)
  })

  it('extends the timer once with override_message_timeout within max_message_timeout',
    async () => {
      const options = { messageTimeoutMs: 100, maxMessageTimeoutMs: 1000 }
      const f = await start(options, async (m, ctx) => {
        if (m.request !== 'request_headers') return
        // Other fields of an override message are ignored: this CONTINUE must not count.
        ctx.send({ override_message_timeout: { seconds: 0, nanos: 400e6 },
          request_headers: { response: {} } })
        await ctx.sleep(250)
        ctx.send({ request_headers: { response: {
          header_mutation: { set_headers: [setRaw('x-late', 'ok')] } } } })
      })
      const reply = await sendHttp(f.emulator.url('/p'))
      expect(reply.status).toBe(200)
      expect(f.upstream.requests[0]?.headers['x-late']).toEqual(['ok'])
      expect(f.emulator.stats.overrideMessageTimeoutReceived).toBe(1)
      expect(f.emulator.stats.overrideMessageTimeoutIgnored).toBe(0)
    })

  it('ignores a second override and one above max_message_timeout', async () => {
    const f = await start({ messageTimeoutMs: 100, maxMessageTimeoutMs: 300 }, async (m, ctx) => {
      if (m.request !== 'request_headers') return
      ctx.send({ override_message_timeout: { seconds: 0, nanos: 200e6 } })
      ctx.send({ override_message_timeout: { seconds: 0, nanos: 250e6 } })
      await ctx.sleep(400)
      ctx.send({ request_headers: { response: {} } })
    })
    const started = Date.now()
    expect((await sendHttp(f.emulator.url('/p'))).status).toBe(504)
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(190)
    expect(elapsed).toBeLessThan(380)
    expect(f.emulator.stats.overrideMessageTimeoutIgnored).toBe(1)

    f.extProc.setScript(async (m, ctx) => {
      if (m.request !== 'request_headers') return
      ctx.send({ override_message_timeout: { seconds: 1, nanos: 0 } })
      await ctx.sleep(200)
      ctx.send({ request_headers: { response: {} } })
    })
    expect((await sendHttp(f.emulator.url('/p'))).status).toBe(504)
    expect(f.emulator.stats.overrideMessageTimeoutIgnored).toBe(2)
    expect(f.emulator.stats.messageTimeouts).toBe(2)
  })
})

describe('emulator: stream errors', () => {
  it('answers 500 spurious_message for a response of the wrong type', async () => {
    const f = await start({}, (_m, ctx) => ctx.send({ request_body: { response: {} } }))
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe('spurious_message')
    expect(f.emulator.stats.spuriousMessages).toBe(1)
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('answers 500 with the gRPC status in the details on a gRPC error', async () => {
    const f = await start({}, (_m, ctx) => ctx.fail(GrpcStatus.PERMISSION_DENIED, 'nope'))
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details)
      .toBe('ext_proc_error_gRPC_error_7{nope}')
    expect(f.emulator.stats.requests[0]?.streamEnd).toBe('server-error')
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('continues on a gRPC error with failure_mode_allow', async () => {
    const f = await start({ failureModeAllow: true },
      (_m, ctx) => ctx.fail(GrpcStatus.UNAVAILABLE, 'down'))
    expect((await sendHttp(f.emulator.url('/p'))).status).toBe(200)
    expect(f.upstream.requests).toHaveLength(1)
  })

  it('forwards unprocessed when the server ends the stream with OK', async () => {
    const f = await start({}, (_m, ctx) => ctx.end())
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc',
      headers: { 'x-client': '1' } })
    expect(reply.status).toBe(200)
    const up = f.upstream.requests[0]!
    expect(up.body.toString()).toBe('abc')
    expect(up.headers['x-client']).toEqual(['1'])
    expect(f.emulator.stats.requests[0]?.sent).toHaveLength(1)
    expect(f.emulator.stats.requests[0]?.streamEnd).toBe('server-ok')
    expect(f.emulator.stats.localReplies).toBe(0)
  })

  it('answers 500 when the ext_proc server is unreachable', async () => {
    const f = await start({}, never)
    await f.extProc.close()
    const reply = await sendHttp(f.emulator.url('/p'))
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details)
      .toMatch(/^ext_proc_error_gRPC_error_14\{/)
  })
})

describe('emulator: buffer limit', () => {
  it('answers 413 above the limit while the headers call is outstanding; the server never ' +
    'sees the body', async () => {
    const f = await start({ bufferLimitBytes: 1024, messageTimeoutMs: 2000 }, async (m, ctx) => {
      await ctx.sleep(m.request === 'request_headers' ? 500 : 0)
      if (m.request !== undefined) ctx.send({ [m.request]: { response: {} } })
    })
    // Send the headers first and the body only once the server holds the headers message.
    const replied = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(f.emulator.url('/p'), { method: 'POST', agent: false,
        headers: { 'content-length': '4096' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString() }))
      })
      req.on('error', reject)
      req.write(Buffer.alloc(16, 0x61))
      f.extProc.waitFor(() => f.extProc.calls[0]?.received.length === 1)
        .then(() => req.end(Buffer.alloc(4080, 0x61)), reject)
    })
    const started = Date.now()
    const reply = await replied
    expect(reply.status).toBe(413)
    expect(Date.now() - started).toBeLessThan(450)
    expect(reply.body).toBe('Payload Too Large')
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe('request_payload_too_large')
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    expect(f.extProc.calls[0]?.received.map((m) => m.request)).toEqual(['request_headers'])
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('answers 413 when a body above the limit completes after the headers response', async () => {
    const f = await start({ bufferLimitBytes: 1024 }, (m, ctx) => {
      if (m.request !== undefined) ctx.send({ [m.request]: { response: {} } })
    })
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST',
      body: Buffer.alloc(1025, 0x61) })
    expect(reply.status).toBe(413)
    expect(f.emulator.stats.requests[0]?.sent.map((m) => m.request)).toEqual(['request_headers'])
    expect(f.upstream.requests).toHaveLength(0)
  })

  it('accepts a body of exactly the limit', async () => {
    const f = await start({ bufferLimitBytes: 1024 }, (m, ctx) => {
      if (m.request !== undefined) ctx.send({ [m.request]: { response: {} } })
    })
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST',
      body: Buffer.alloc(1024, 0x61) })
    expect(reply.status).toBe(200)
    expect(f.extProc.calls[0]?.received[1]?.request_body?.body?.length).toBe(1024)
  })
})
