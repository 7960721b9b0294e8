import { request as httpRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import { sendHttp } from '../harness/echoUpstream.js'
import { headerPairs, setRaw, useFixture, valuesOf } from './emulatorFixture.js'

const start = useFixture()

describe('emulator: router after ext_proc', () => {
  it('applies host_rewrite_literal and prefix_rewrite after ext_proc saw the originals',
    async () => {
      const f = await start()
      const reply = await sendHttp(f.emulator.url('/aws-mcp/sub?x=1'), { method: 'POST',
        headers: ['Host', 'gateway.example.com'], body: '{}' })
      expect(reply.status).toBe(200)
      const seen = headerPairs(f.extProc.calls[0]?.received[0])
      expect(valuesOf(seen, ':authority')).toEqual(['gateway.example.com'])
      expect(valuesOf(seen, ':path')).toEqual(['/aws-mcp/sub?x=1'])
      const up = f.upstream.requests[0]!
      expect(up.path).toBe('/mcp/sub?x=1')
      expect(up.rawHeaders[0]).toEqual(['host', 'aws-mcp.us-east-1.api.aws'])
      expect(up.headers['x-envoy-original-path']).toEqual(['/aws-mcp/sub?x=1'])
      expect(up.headers['x-envoy-expected-rq-timeout-ms']).toEqual(['15000'])
      expect(f.emulator.stats.requests[0]?.upstream?.authority).toBe('aws-mcp.us-east-1.api.aws')
    })

  it('applies regex_rewrite to the path only, keeping the query', async () => {
    const f = await start({ suppressEnvoyHeaders: true, routes: (port) => [{
      name: 'agentcore', prefix: '/agent/',
      regexRewrite: { pattern: /^\/agent\/([a-z0-9-]+)$/,
        substitution: '/runtimes/\\1/invocations' },
      upstream: { host: '127.0.0.1', port } }] })
    await sendHttp(f.emulator.url('/agent/rt-1?qualifier=DEFAULT'))
    const up = f.upstream.requests[0]!
    expect(up.path).toBe('/runtimes/rt-1/invocations?qualifier=DEFAULT')
    expect(up.headers['x-envoy-original-path']).toBeUndefined()
    expect(up.headers['x-envoy-expected-rq-timeout-ms']).toBeUndefined()
  })

  it('rewrites a :path set by the ext_proc server', async () => {
    const f = await start({}, (m, ctx) => {
      if (m.request === 'request_headers') {
        ctx.send({ request_headers: { response: { header_mutation: {
          set_headers: [setRaw(':path', '/aws-mcp/other')] } } } })
      }
    })
    await sendHttp(f.emulator.url('/aws-mcp'))
    expect(f.upstream.requests[0]?.path).toBe('/mcp/other')
    expect(f.emulator.stats.requests[0]?.upstream?.path).toBe('/mcp/other')
  })

  it('answers 404 without a route and 503 when the upstream is down', async () => {
    const f = await start({ routes: (port) => [
      { name: 'only', prefix: '/only', upstream: { host: '127.0.0.1', port } },
      { name: 'down', prefix: '/down', upstream: { host: '127.0.0.1', port: 1 } },
    ] })
    expect((await sendHttp(f.emulator.url('/nothing'))).status).toBe(404)
    expect(f.emulator.stats.requests[0]?.localReply?.details).toBe('route_not_found')
    expect(f.emulator.stats.streamsOpened).toBe(0)
    expect((await sendHttp(f.emulator.url('/down'))).status).toBe(503)
    expect(f.emulator.stats.requests[1]?.localReply?.details)
      .toBe('upstream_reset_before_response_started{connection_failure}')
  })

  it('streams SSE responses through without buffering', async () => {
    const f = await start()
    let releaseSecond: () => void = () => undefined
    const secondMayGo = new Promise<void>((resolve) => { releaseSecond = resolve })
    f.upstream.setHandler((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: message\ndata: one\n\n')
      void secondMayGo.then(() => res.end('event: message\ndata: two\n\n'))
    })
    const events: string[] = []
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(f.emulator.url('/sse'), { agent: false,
        headers: { accept: 'text/event-stream' } }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream')
        expect(res.headers['transfer-encoding']).toBe('chunked')
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          events.push(chunk)
          // The first event arrived while the upstream still holds the second one.
          if (events.length === 1) releaseSecond()
        })
        res.on('end', () => resolve())
      })
      req.on('error', reject)
      req.end()
    })
    expect(events.join('')).toBe('event: message\ndata: one\n\nevent: message\ndata: two\n\n')
    expect(events[0]).toBe('event: message\ndata: one\n\n')
  })

  it('propagates a client abort to the upstream', async () => {
    const f = await start()
    f.upstream.setHandler((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('data: first\n\n')
    })
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(f.emulator.url('/sse'), { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', () => undefined)
      req.end()
      setTimeout(() => reject(new Error('no first event')), 2000).unref()
    })
    await f.extProc.waitFor(() => f.upstream.requests[0]?.closedEarly === true)
    expect(f.upstream.requests[0]?.closedEarly).toBe(true)
    await f.extProc.waitFor(() => f.emulator.stats.requests[0]?.finished === true)
  })

  it('cancels the ext_proc call when the client goes away during processing', async () => {
    const f = await start({ messageTimeoutMs: 2000 }, () => undefined)
    const req = httpRequest(f.emulator.url('/p'), { agent: false })
    req.on('error', () => undefined)
    req.end()
    await f.extProc.waitFor(() => f.extProc.calls[0]?.received.length === 1)
    req.destroy()
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    expect(f.upstream.requests).toHaveLength(0)
    expect(f.emulator.stats.messageTimeouts).toBe(0)
  })
})
