import { request as httpRequest } from 'node:http'
import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sendHttp } from '../harness/echoUpstream.js'
import type { Script, ScriptContext } from '../harness/scriptedExtProc.js'
import type {
  EmulatedRequestRecord, ProcessingRequestMsg, ProcessingResponseMsg,
} from '../harness/emulator/types.js'
import { headerPairs, setRaw, useFixture, valuesOf } from './emulatorFixture.js'

const startFixture = useFixture()

/**
 * A generous message timeout unless a test sets its own: the first exchange of a cold process
 * includes the gRPC connect, which can exceed Envoy's 200 ms default on a loaded machine.
 */
const start: typeof startFixture = (options = {}, script) =>
  startFixture({ messageTimeoutMs: 2000, ...options }, script)

type Reply = ProcessingResponseMsg | undefined
type Handler = (m: ProcessingRequestMsg, ctx: ScriptContext) => Reply | Promise<Reply>

/** CONTINUE on the request side; `response_*` messages answered by the given handlers. */
function responder(handlers: { headers?: Handler; body?: Handler }): Script {
  return async (m, ctx) => {
    if (m.request === 'request_headers' || m.request === 'request_body') {
      ctx.send({ [m.request]: { response: {} } })
      return
    }
    const handler = m.request === 'response_headers' ? handlers.headers : handlers.body
    const reply = handler === undefined
      ? { [m.request as string]: { response: {} } }
      : await handler(m, ctx)
    if (reply !== undefined) ctx.send(reply)
  }
}

const SEND_HEADERS = { response_header_mode: 'SEND' } as const
const TO_BUFFERED: ProcessingResponseMsg = { response_headers: { response: {} },
  mode_override: { response_body_mode: 'BUFFERED' } }

function kinds(record: EmulatedRequestRecord | undefined): Array<string | undefined> {
  return (record?.sent ?? []).map((m) => m.request)
}

function bodyMessages(record: EmulatedRequestRecord | undefined): ProcessingRequestMsg[] {
  return (record?.sent ?? []).filter((m) => m.request === 'response_body')
}

/** A downstream GET that reports every body chunk as it arrives. */
function streamingGet(url: string, onChunk: (chunk: string) => void): Promise<{
  status: number; headers: Record<string, string | string[] | undefined>; body: string
  error: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = ''
      let error = false
      res.setEncoding('latin1')
      res.on('data', (chunk: string) => {
        body += chunk
        onChunk(chunk)
      })
      res.on('error', () => { error = true })
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body,
        error: error || !res.complete }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('emulator: response headers', () => {
  it('applies the response_headers reply mutations with the same rules', async () => {
    const f = await start({ processingMode: SEND_HEADERS }, responder({
      headers: () => ({ response_headers: { response: { header_mutation: {
        remove_headers: ['x-upstream-secret', ':status'],
        set_headers: [setRaw('x-filtered', 'yes'), setRaw('x-envoy-nope', '1'),
          setRaw('content-length', '1')],
      } } } }),
    }))
    f.upstream.setHandler((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream-secret': 's',
        'content-length': '2' })
      res.end('{}')
    })
    const reply = await sendHttp(f.emulator.url('/r'), { method: 'POST', body: 'x' })
    expect(reply.status).toBe(200)
    expect(reply.body.toString()).toBe('{}')
    expect(reply.headers['x-filtered']).toEqual(['yes'])
    expect(reply.headers['x-upstream-secret']).toBeUndefined()
    expect(reply.headers['x-envoy-nope']).toBeUndefined()
    // Outside BUFFERED a content-length set is skipped; removing :status is never allowed.
    expect(reply.headers['content-length']).toEqual(['2'])
    expect(f.emulator.stats.rejectedHeaderMutations).toBe(2)
    const record = f.emulator.stats.requests[0]
    expect(kinds(record)).toEqual(['request_headers', 'request_body', 'response_headers'])
    const pairs = headerPairs(record?.sent[2])
    expect(pairs[0]).toEqual([':status', '200'])
    expect(pairs.slice(1, 4).map(([k]) => k))
      .toEqual(['content-type', 'x-upstream-secret', 'content-length'])
    expect(record?.sent[2]?.response_headers?.end_of_stream).toBeUndefined()
    expect(record?.responseBodyMode).toBe('NONE')
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
  })

  it('ignores a response body mode_override unless allowModeOverride is set', async () => {
    const f = await start({ processingMode: SEND_HEADERS }, responder({
      headers: () => TO_BUFFERED }))
    const reply = await sendHttp(f.emulator.url('/r'))
    expect(reply.status).toBe(200)
    expect(JSON.parse(reply.body.toString())).toEqual({ method: 'GET', path: '/r', body: '' })
    const record = f.emulator.stats.requests[0]
    expect(kinds(record)).toEqual(['request_headers', 'response_headers'])
    expect(record?.responseBodyMode).toBe('NONE')
  })

  it('replaces the response body on CONTINUE_AND_REPLACE and sends no body message',
    async () => {
      const f = await start({ processingMode: SEND_HEADERS }, responder({
        headers: () => ({ response_headers: { response: { status: 'CONTINUE_AND_REPLACE',
          body_mutation: { body: Buffer.from('replaced') } } },
        mode_override: { response_body_mode: 'BUFFERED' } }) }))
      const reply = await sendHttp(f.emulator.url('/r'))
      expect(reply.body.toString()).toBe('replaced')
      expect(reply.headers['content-length']).toBeUndefined()
      expect(kinds(f.emulator.stats.requests[0])).toEqual(['request_headers', 'response_headers'])
    })
})

describe('emulator: BUFFERED response body', () => {
  const newBody = '{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}'

  it('sends one response_body after a mode_override and applies its mutations', async () => {
    const f = await start({ processingMode: SEND_HEADERS, allowModeOverride: true }, responder({
      headers: () => TO_BUFFERED,
      body: () => ({ response_body: { response: {
        header_mutation: { set_headers: [setRaw('content-length', String(newBody.length)),
          setRaw('x-filtered', 'tools')] },
        body_mutation: { body: Buffer.from(newBody) } } } }),
    }))
    const reply = await sendHttp(f.emulator.url('/mcp'), { method: 'POST', body: 'req' })
    expect(reply.status).toBe(200)
    expect(reply.body.toString()).toBe(newBody)
    expect(reply.headers['content-length']).toEqual([String(newBody.length)])
    expect(reply.headers['x-filtered']).toEqual(['tools'])
    const record = f.emulator.stats.requests[0]
    expect(kinds(record)).toEqual(
      ['request_headers', 'request_body', 'response_headers', 'response_body'])
    const body = record?.sent[3]
    expect(JSON.parse(body?.response_body?.body?.toString() ?? '')).toEqual(
      { method: 'POST', path: '/mcp', body: 'req' })
    expect(body?.response_body?.end_of_stream).toBe(true)
    expect(body?.metadata_context).toEqual({})
    expect(body?.attributes).toBeUndefined()
    expect(record?.responseBodyMode).toBe('BUFFERED')
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    expect(f.extProc.calls[0]?.received).toEqual(record?.sent)
  })

  it('answers 500 when the mutated body does not match content-length', async () => {
    const f = await start({ processingMode: SEND_HEADERS, allowModeOverride: true }, responder({
      headers: () => TO_BUFFERED,
      body: () => ({ response_body: { response: {
        header_mutation: { set_headers: [setRaw('x-late', '1')] },
        body_mutation: { body: Buffer.from(newBody) } } } }),
    }))
    const reply = await sendHttp(f.emulator.url('/mcp'))
    expect(reply.status).toBe(500)
    expect(reply.headers['x-late']).toBeUndefined()
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe(
      'mismatch_between_content_length_and_the_length_of_the_mutated_body')
    expect(f.emulator.stats.requests[0]?.responseStatus).toBe(500)
  })

  it('answers 500 response_payload_too_large above the buffer limit, never sending the body',
    async () => {
      const f = await start({ bufferLimitBytes: 1024, processingMode: {
        ...SEND_HEADERS, response_body_mode: 'BUFFERED' } }, responder({}))
      f.upstream.setHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(Buffer.alloc(600, 0x61))
        setTimeout(() => res.end(Buffer.alloc(600, 0x62)), 30)
      })
      const reply = await sendHttp(f.emulator.url('/big'))
      expect(reply.status).toBe(500)
      expect(reply.body.toString()).toBe('Internal Server Error')
      expect(reply.headers['content-type']).toEqual(['text/plain'])
      const record = f.emulator.stats.requests[0]
      expect(record?.localReply?.details).toBe('response_payload_too_large')
      expect(kinds(record)).toEqual(['request_headers', 'response_headers'])
      expect(record?.sent[0]?.protocol_config).toEqual(
        { request_body_mode: 'BUFFERED', response_body_mode: 'BUFFERED' })
    })

  it('sends no body message for a body-less response and an empty one for an empty body',
    async () => {
      const f = await start({ processingMode: { ...SEND_HEADERS,
        response_body_mode: 'BUFFERED' } }, responder({}))
      f.upstream.setHandler((req, res) => {
        if (req.url === '/none') {
          res.writeHead(204)
          res.end()
          return
        }
        res.writeHead(200, { 'transfer-encoding': 'chunked' })
        res.end()
      })
      expect((await sendHttp(f.emulator.url('/none'))).status).toBe(204)
      expect((await sendHttp(f.emulator.url('/empty'))).status).toBe(200)
      const [none, empty] = f.emulator.stats.requests
      expect(kinds(none)).toEqual(['request_headers', 'response_headers'])
      expect(none?.sent[1]?.response_headers?.end_of_stream).toBe(true)
      expect(kinds(empty)).toEqual(['request_headers', 'response_headers', 'response_body'])
      expect(empty?.sent[2]?.response_body).toEqual({ end_of_stream: true })
    })

  it('with response headers SKIP: headers go on at once without content-length, body ' +
    'mutations apply, header mutations are dropped', async () => {
    const f = await start({ processingMode: { response_body_mode: 'BUFFERED' } }, responder({
      body: () => ({ response_body: { response: {
        header_mutation: { set_headers: [setRaw('x-dropped', '1')] },
        body_mutation: { body: Buffer.from('short') } } } }),
    }))
    const reply = await sendHttp(f.emulator.url('/s'))
    expect(reply.body.toString()).toBe('short')
    expect(reply.headers['content-length']).toBeUndefined()
    expect(reply.headers['x-dropped']).toBeUndefined()
    expect(kinds(f.emulator.stats.requests[0])).toEqual(['request_headers', 'response_body'])
  })

  it('treats a response_body reply of the wrong type as spurious', async () => {
    const f = await start({ processingMode: { ...SEND_HEADERS, response_body_mode: 'BUFFERED' } },
      responder({ body: () => ({ response_headers: { response: {} } }) }))
    const reply = await sendHttp(f.emulator.url('/w'))
    expect(reply.status).toBe(500)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe('spurious_message')
    expect(f.emulator.stats.spuriousMessages).toBe(1)
  })
})

/** An upstream writing `chunks` with `gapMs` between them once `ready()` resolves. */
function chunkedUpstream(chunks: string[], ready: () => Promise<void>, gapMs = 40,
  headers: Record<string, string> = { 'content-type': 'text/event-stream' }) {
  return (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, headers)
    res.flushHeaders()
    void (async () => {
      await ready()
      for (const chunk of chunks) {
        await new Promise((resolve) => setTimeout(resolve, gapMs))
        res.write(chunk)
      }
      res.end()
    })()
  }
}

describe('emulator: STREAMED response body', () => {
  const EVENTS = ['data: one\n\n', 'data: two\n\n', 'data: three\n\n']
  const TOTAL = EVENTS.join('').length

  it('sends one response_body per upstream chunk, then an empty end_of_stream message, and ' +
    'writes the mutated chunks in order without content-length', async () => {
    const f = await start({ processingMode: { ...SEND_HEADERS, response_body_mode: 'STREAMED' } },
      responder({ body: (m) => {
        const text = m.response_body?.body?.toString() ?? ''
        // The second chunk is cleared; the others are upper-cased.
        const mutation = text.includes('two') ? { clear_body: true }
          : { body: Buffer.from(text.toUpperCase()) }
        return { response_body: { response: { body_mutation: mutation } } }
      } }))
    const record = () => f.emulator.stats.requests[0]
    f.upstream.setHandler(chunkedUpstream(EVENTS, async () => {
      await f.extProc.waitFor(() => record()?.received.length === 2)
    }, 40, { 'content-type': 'text/event-stream', 'content-length': String(TOTAL) }))
    const order: string[] = []
    const reply = await streamingGet(f.emulator.url('/sse'), (chunk) => order.push(chunk))
    expect(reply.status).toBe(200)
    expect(reply.error).toBe(false)
    expect(reply.headers['content-length']).toBeUndefined()
    expect(reply.headers['transfer-encoding']).toBe('chunked')
    expect(order).toEqual(['DATA: ONE\n\n', 'DATA: THREE\n\n'])
    const bodies = bodyMessages(record())
    expect(bodies.map((m) => m.response_body)).toEqual([
      { body: Buffer.from(EVENTS[0] as string) },
      { body: Buffer.from(EVENTS[1] as string) },
      { body: Buffer.from(EVENTS[2] as string) },
      { end_of_stream: true },
    ])
    // The response_headers message still carried content-length: Envoy removes it afterwards.
    expect(valuesOf(headerPairs(record()?.sent[1]), 'content-length')).toEqual([String(TOTAL)])
    expect(record()?.responseBodyMode).toBe('STREAMED')
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
  })

  it('keeps SSE flowing: each mutated event reaches the client before the next is written',
    async () => {
      const f = await start({ processingMode: { ...SEND_HEADERS,
        response_body_mode: 'STREAMED' } }, responder({ body: (m) => ({ response_body: {
        response: { body_mutation: { body: Buffer.from(
          (m.response_body?.body?.toString() ?? '').replace('data', 'DATA')) } } } }) }))
      const gates = [0, 1, 2].map(() => {
        let open: () => void = () => undefined
        const gate = new Promise<void>((resolve) => { open = resolve })
        return { gate, open }
      })
      f.upstream.setHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.flushHeaders()
        void (async () => {
          for (const [i, event] of EVENTS.entries()) {
            await gates[i]?.gate
            res.write(event)
          }
          res.end()
        })()
      })
      gates[0]?.open()
      const seen: string[] = []
      // Each event is written only once the client saw the previous one: buffering would hang.
      const reply = await streamingGet(f.emulator.url('/sse'), (chunk) => {
        seen.push(chunk)
        gates[seen.length]?.open()
      })
      expect(seen).toEqual(['DATA: one\n\n', 'DATA: two\n\n', 'DATA: three\n\n'])
      expect(reply.body).toBe('DATA: one\n\nDATA: two\n\nDATA: three\n\n')
    })

  it('pipelines chunks: a chunk is sent while the previous one still awaits its reply',
    async () => {
      const pendingWhenReplying: number[] = []
      const f = await start({ messageTimeoutMs: 2000, processingMode: { ...SEND_HEADERS,
        response_body_mode: 'STREAMED' } }, responder({ body: async (_m, ctx) => {
        await ctx.sleep(120)
        pendingWhenReplying.push(ctx.call.received.length - 1 - ctx.index)
        return { response_body: { response: {} } }
      } }))
      f.upstream.setHandler(chunkedUpstream(EVENTS.slice(0, 2), () =>
        f.extProc.waitFor(() => f.emulator.stats.requests[0]?.received.length === 2), 30))
      const reply = await streamingGet(f.emulator.url('/sse'), () => undefined)
      expect(reply.body).toBe(EVENTS[0] + EVENTS[1])
      // While the first chunk's reply was pending, the second chunk (and the end) arrived.
      expect(pendingWhenReplying[0]).toBeGreaterThanOrEqual(1)
      expect(bodyMessages(f.emulator.stats.requests[0])).toHaveLength(3)
    })

  it('resets the downstream connection when a chunk reply times out after the headers went ' +
    'downstream', async () => {
    const f = await start({ messageTimeoutMs: 150, processingMode: { ...SEND_HEADERS,
      response_body_mode: 'STREAMED' } }, responder({ body: () => undefined }))
    // 200 ms between chunks: the 150 ms timer (restarted by every send) fires mid-stream.
    f.upstream.setHandler(chunkedUpstream(EVENTS, async () => undefined, 200))
    const started = Date.now()
    const reply = await streamingGet(f.emulator.url('/sse'), () => undefined)
    expect(reply.status).toBe(200)
    expect(reply.error).toBe(true)
    expect(reply.body).toBe('')
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    const record = f.emulator.stats.requests[0]
    expect(record?.downstreamReset).toBe('ext_proc_error_per-message_timeout_exceeded')
    expect(record?.localReply).toBeUndefined()
    expect(record?.responseStatus).toBe(200)
    expect(f.emulator.stats.messageTimeouts).toBe(1)
    expect(f.emulator.stats.localReplies).toBe(0)
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    await f.extProc.waitFor(() => f.upstream.requests[0]?.closedEarly === true)
  })

  it('passes the rest through unmodified on a timeout with failure_mode_allow', async () => {
    const f = await start({ messageTimeoutMs: 100, failureModeAllow: true, processingMode: {
      ...SEND_HEADERS, response_body_mode: 'STREAMED' } }, responder({ body: () => undefined }))
    f.upstream.setHandler(chunkedUpstream(EVENTS, async () => undefined, 60))
    const reply = await streamingGet(f.emulator.url('/sse'), () => undefined)
    expect(reply.error).toBe(false)
    expect(reply.body).toBe(EVENTS.join(''))
    expect(f.emulator.stats.failureModeAllowed).toBe(1)
    expect(f.emulator.stats.requests[0]?.downstreamReset).toBeUndefined()
  })

  it('treats a reply of the wrong type or a streamed_response as spurious (reset)', async () => {
    const f = await start({ processingMode: { ...SEND_HEADERS, response_body_mode: 'STREAMED' } },
      responder({ body: () => ({ response_headers: { response: {} } }) }))
    f.upstream.setHandler(chunkedUpstream(EVENTS, async () => undefined, 20))
    const reply = await streamingGet(f.emulator.url('/sse'), () => undefined)
    expect(reply.error).toBe(true)
    expect(f.emulator.stats.requests[0]?.downstreamReset).toBe('spurious_message')
    expect(f.emulator.stats.spuriousMessages).toBe(1)

    f.extProc.setScript(responder({ body: () => ({ response_body: { response: {
      body_mutation: { streamed_response: { body: Buffer.from('x') } } } } }) }))
    const again = await streamingGet(f.emulator.url('/sse'), () => undefined)
    expect(again.error).toBe(true)
    expect(f.emulator.stats.requests[1]?.downstreamReset).toBe('spurious_message')
    expect(f.emulator.stats.spuriousMessages).toBe(2)
  })
})

describe('emulator: mode_override to STREAMED at response-headers time', () => {
  const override: ProcessingResponseMsg = { response_headers: { response: {} },
    mode_override: { response_body_mode: 'STREAMED' } }

  it('sends a body that arrived during the headers call in one message, handled like ' +
    'BUFFERED, with the upstream content-length kept', async () => {
    const f = await start({ processingMode: SEND_HEADERS, allowModeOverride: true }, responder({
      headers: async (_m, ctx) => {
        await ctx.sleep(50)
        return override
      },
      body: () => ({ response_body: { response: {
        // content-length sets are skipped in STREAMED, so the server must remove it.
        header_mutation: { remove_headers: ['content-length'] },
        body_mutation: { body: Buffer.from('filtered') } } } }),
    }))
    const reply = await sendHttp(f.emulator.url('/j'))
    expect(reply.status).toBe(200)
    expect(reply.body.toString()).toBe('filtered')
    const record = f.emulator.stats.requests[0]
    const bodies = bodyMessages(record)
    expect(bodies).toHaveLength(1)
    expect(bodies[0]?.response_body?.end_of_stream).toBe(true)
    expect(JSON.parse(bodies[0]?.response_body?.body?.toString() ?? '').path).toBe('/j')
    expect(record?.responseBodyMode).toBe('STREAMED')

    f.extProc.setScript(responder({ headers: () => override, body: () => ({ response_body: {
      response: { header_mutation: { set_headers: [setRaw('content-length', '8')] },
        body_mutation: { body: Buffer.from('filtered') } } } }) }))
    const mismatch = await sendHttp(f.emulator.url('/j'))
    expect(mismatch.status).toBe(500)
    expect(f.emulator.stats.requests[1]?.localReply?.details).toBe(
      'mismatch_between_content_length_and_the_length_of_the_mutated_body')
  })

  it('keeps content-length while streaming: the server removes it, or the downstream is reset ' +
    'when the lengths differ', async () => {
    // Wraps each data chunk; the empty end-of-stream chunk is left alone.
    const upper: Handler = (m) => ({ response_body: { response: m.response_body?.body === undefined
      ? {}
      : { body_mutation: { body: Buffer.from(`<${m.response_body.body.toString()}>`) } } } })
    const f = await start({ processingMode: SEND_HEADERS, allowModeOverride: true }, responder({
      headers: () => ({ ...override, response_headers: { response: { header_mutation: {
        remove_headers: ['content-length'] } } } }),
      body: upper,
    }))
    const EVENTS = ['a', 'b']
    f.upstream.setHandler(chunkedUpstream(EVENTS, () => f.extProc.waitFor(() =>
      (f.emulator.stats.requests.at(-1)?.received.length ?? 0) >= 2), 30,
    { 'content-length': '2' }))
    const ok = await streamingGet(f.emulator.url('/s'), () => undefined)
    expect(ok.error).toBe(false)
    expect(ok.body).toBe('<a><b>')
    expect(ok.headers['content-length']).toBeUndefined()

    f.extProc.setScript(responder({ headers: () => override, body: upper }))
    const broken = await streamingGet(f.emulator.url('/s'), () => undefined)
    expect(broken.headers['content-length']).toBe('2')
    expect(broken.error).toBe(true)
    expect(f.emulator.stats.requests[1]?.downstreamReset).toBe(
      'emulator_downstream_content_length_mismatch')
  })
})
