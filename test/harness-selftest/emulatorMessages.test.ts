import { describe, expect, it } from 'vitest'
import { sendHttp } from '../harness/echoUpstream.js'
import { printMetadataShortDebugString } from '../harness/textFormatPrinter.js'
import type { MetadataShape } from '../harness/textFormatPrinter.js'
import {
  ROUTE_METADATA, headerPairs, useFixture, valuesOf,
} from './emulatorFixture.js'

const start = useFixture()

const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })

describe('emulator: messages sent to the ext_proc server', () => {
  it('sends request_headers then one request_body, as the server decodes them', async () => {
    const f = await start()
    const reply = await sendHttp(f.emulator.url('/aws-mcp?x=1'), { method: 'POST', headers: [
      'Host', 'gateway.example.com',
      'Content-Type', 'application/json',
      'X-Multi', 'a',
      'Connection', 'keep-alive',
      'X-Multi', 'b',
      'X-Empty', '',
      'Content-Length', String(Buffer.byteLength(BODY)),
    ], body: BODY })
    expect(reply.status).toBe(200)
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    const call = f.extProc.calls[0]!
    expect(call.received).toHaveLength(2)
    const [first, second] = call.received
    expect(first?.request).toBe('request_headers')
    const pairs = headerPairs(first)
    expect(pairs.slice(0, 5).map(([k]) => k)).toEqual(
      [':authority', ':path', ':method', ':scheme', 'x-forwarded-proto'])
    expect(pairs.slice(0, 5).map(([, v]) => v)).toEqual(
      ['gateway.example.com', '/aws-mcp?x=1', 'POST', 'http', 'http'])
    expect(pairs[5]?.[0]).toBe('x-request-id')
    expect(pairs[5]?.[1]).toMatch(/^[0-9a-f-]{36}$/)
    expect(pairs.slice(6)).toEqual([
      ['content-type', 'application/json'],
      ['x-multi', 'a'],
      ['x-multi', 'b'],
      ['x-empty', ''],
      ['content-length', String(Buffer.byteLength(BODY))],
    ])
    expect(pairs.some(([k]) => k === 'host' || k === 'connection')).toBe(false)
    for (const entry of first?.request_headers?.headers?.headers ?? []) {
      expect(entry.value).toBeUndefined()
      // An empty value is the proto3 default: no raw_value on the wire at all.
      expect(Buffer.isBuffer(entry.raw_value)).toBe(entry.key !== 'x-empty')
    }
    expect(first?.request_headers?.end_of_stream).toBeUndefined()
    expect(first?.metadata_context).toEqual({})
    expect(first?.protocol_config).toEqual({ request_body_mode: 'BUFFERED' })
    const fields = first?.attributes?.['envoy.filters.http.ext_proc']?.fields
    expect(Object.keys(fields ?? {}).sort()).toEqual(['xds.route_metadata', 'xds.route_name'])
    expect(fields?.['xds.route_name']?.stringValue).toBe('aws-mcp')
    expect(fields?.['xds.route_metadata']?.stringValue).toBe(
      printMetadataShortDebugString(ROUTE_METADATA as unknown as MetadataShape))
    expect(fields?.['xds.route_metadata']?.stringValue).toContain(
      'filter_metadata { key: "mcp.sigv4" value { fields { key: "region" value { string_value: ' +
      '"us-east-1" } }')

    expect(second?.request).toBe('request_body')
    expect(second?.request_body?.body?.toString('utf8')).toBe(BODY)
    expect(second?.request_body?.end_of_stream).toBe(true)
    expect(second?.metadata_context).toEqual({})
    expect(second?.attributes).toBeUndefined()
    expect(second?.protocol_config).toBeUndefined()
    // The emulator's own record matches the server's view.
    expect(f.emulator.stats.requests[0]?.sent).toEqual(call.received)
  })

  it('sends only request_headers with end_of_stream for GET and content-length: 0', async () => {
    const f = await start()
    expect((await sendHttp(f.emulator.url('/x'))).status).toBe(200)
    expect((await sendHttp(f.emulator.url('/y'), { method: 'POST',
      headers: { 'content-length': '0' } })).status).toBe(200)
    await f.extProc.waitFor(() => f.extProc.calls.length === 2 &&
      f.extProc.calls.every((c) => c.events.includes('cancelled')))
    for (const call of f.extProc.calls) {
      expect(call.received).toHaveLength(1)
      expect(call.received[0]?.request_headers?.end_of_stream).toBe(true)
      expect(call.received[0]?.metadata_context).toEqual({})
    }
    expect(f.upstream.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /x', 'POST /y'])
    expect(f.emulator.stats.streamsOpened).toBe(2)
  })

  it('sends an empty final request_body for a chunked request without data', async () => {
    const f = await start()
    const reply = await sendHttp(f.emulator.url('/z'), { method: 'POST',
      headers: { 'transfer-encoding': 'chunked' } })
    expect(reply.status).toBe(200)
    const sent = f.emulator.stats.requests[0]?.sent ?? []
    expect(sent.map((m) => m.request)).toEqual(['request_headers', 'request_body'])
    expect(sent[0]?.request_headers?.end_of_stream).toBeUndefined()
    expect(sent[1]?.request_body).toEqual({ end_of_stream: true })
  })

  it('puts attributes and protocol_config on the first message when headers are skipped',
    async () => {
      const f = await start({ processingMode: { request_header_mode: 'SKIP' } })
      await sendHttp(f.emulator.url('/aws-mcp'), { method: 'POST', body: BODY,
        headers: { 'content-type': 'application/json' } })
      const sent = f.emulator.stats.requests[0]?.sent ?? []
      expect(sent).toHaveLength(1)
      expect(sent[0]?.request).toBe('request_body')
      expect(sent[0]?.attributes?.['envoy.filters.http.ext_proc']?.fields?.['xds.route_name'])
        .toMatchObject({ stringValue: 'aws-mcp' })
      expect(sent[0]?.protocol_config).toEqual({ request_body_mode: 'BUFFERED' })
      // BUFFERED with header SKIP removes content-length; the body goes upstream chunked.
      expect(f.upstream.requests[0]?.headers['content-length']).toBeUndefined()
      expect(f.upstream.requests[0]?.headers['transfer-encoding']).toEqual(['chunked'])
    })

  it('evaluates leaf expressions over route metadata and omits missing keys', async () => {
    const f = await start({ requestAttributes: [
      `xds.route_metadata.filter_metadata['mcp.sigv4']['upstream_host']`,
      `xds.route_metadata.filter_metadata['mcp.sigv4']['missing']`,
      `xds.route_metadata.filter_metadata['other.ns']['k']`,
      'xds.route_name',
    ] })
    await sendHttp(f.emulator.url('/aws-mcp'))
    const fields = f.extProc.calls[0]?.received[0]?.attributes?.['envoy.filters.http.ext_proc']
      ?.fields
    expect(fields).toEqual({
      [`xds.route_metadata.filter_metadata['mcp.sigv4']['upstream_host']`]:
        { stringValue: 'aws-mcp.us-east-1.api.aws', kind: 'stringValue' },
      'xds.route_name': { stringValue: 'aws-mcp', kind: 'stringValue' },
    })
  })

  it('sends no attributes when none are configured, and none after the first message',
    async () => {
      const f = await start({ requestAttributes: [], sendProtocolConfig: false })
      await sendHttp(f.emulator.url('/aws-mcp'), { method: 'POST', body: BODY })
      const received = f.extProc.calls[0]?.received ?? []
      expect(received).toHaveLength(2)
      expect(received.map((m) => m.attributes)).toEqual([undefined, undefined])
      expect(received.map((m) => m.protocol_config)).toEqual([undefined, undefined])
    })

  it('opens the stream with Envoy metadata and the route grpc_initial_metadata merged over ' +
    'the filter initial_metadata', async () => {
    const f = await start({
      initialMetadata: { 'x-shared': 'filter', 'x-filter-only': 'f' },
      routes: (port) => [{ name: 'r', prefix: '/', upstream: { host: '127.0.0.1', port },
        grpcInitialMetadata: { 'x-shared': 'route', 'x-route-only': 'r' } }],
    })
    await sendHttp(f.emulator.url('/'))
    const md = f.extProc.calls[0]?.metadata ?? {}
    expect(md['x-envoy-internal']).toEqual(['true'])
    expect(md['x-forwarded-for']).toEqual(['127.0.0.1'])
    expect(md['x-shared']).toEqual(['route'])
    expect(md['x-filter-only']).toEqual(['f'])
    expect(md['x-route-only']).toEqual(['r'])
    expect(md['grpc-timeout']).toBeUndefined()
  })

  it('half-closes and cancels the call right after the last needed response', async () => {
    const f = await start()
    await sendHttp(f.emulator.url('/aws-mcp'), { method: 'POST', body: BODY })
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
    expect(f.extProc.calls[0]?.events).toContain('cancelled')
    expect(f.extProc.calls[0]?.events).not.toContain('finished')
    expect(f.emulator.stats.requests[0]?.streamEnd).toBe('emulator-closed')
  })

  it('opens no stream for a route with ext_proc disabled', async () => {
    const f = await start({ routes: (port) => [{ name: 'off', prefix: '/', extProcDisabled: true,
      upstream: { host: '127.0.0.1', port } }] })
    const reply = await sendHttp(f.emulator.url('/p'), { method: 'POST', body: 'abc' })
    expect(reply.status).toBe(200)
    expect(f.emulator.stats.streamsOpened).toBe(0)
    expect(f.extProc.calls).toHaveLength(0)
    expect(f.upstream.requests[0]?.body.toString()).toBe('abc')
  })

  it('sends response_headers with :status first when response_header_mode is SEND', async () => {
    const f = await start({ processingMode: { response_header_mode: 'SEND' } }, (m, ctx) => {
      if (m.request === 'response_headers') {
        ctx.send({ response_headers: { response: { header_mutation: {
          set_headers: [{ header: { key: 'x-from-ext-proc', raw_value: Buffer.from('yes') } }],
        } } } })
      } else if (m.request !== undefined) {
        ctx.send({ [m.request]: { response: {} } })
      }
    })
    const reply = await sendHttp(f.emulator.url('/r'))
    expect(reply.headers['x-from-ext-proc']).toEqual(['yes'])
    const received = f.extProc.calls[0]?.received ?? []
    expect(received.map((m) => m.request)).toEqual(['request_headers', 'response_headers'])
    const pairs = headerPairs(received[1])
    expect(pairs[0]).toEqual([':status', '200'])
    expect(valuesOf(pairs, 'content-type')).toEqual(['application/json'])
    expect(received[1]?.attributes).toBeUndefined()
    expect(received[1]?.metadata_context).toEqual({})
    await f.extProc.waitFor(() => f.extProc.calls[0]?.events.includes('cancelled') === true)
  })
})
