import { createHash } from 'node:crypto'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AGENTCORE_HOST,
  AWS_MCP_HOST,
  BASE,
  rawRequest,
  startE2e,
  waitFor,
  type E2eFixture,
} from './fixture.js'

const EMPTY_SHA256 = createHash('sha256').digest('hex')

async function connect(f: E2eFixture, prefix: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${f.envoy.port}${prefix}`))
  const client = new Client({ name: 'e2e-client', version: '1.0.0' })
  await client.connect(transport)
  return { client, transport }
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? []
  return content.map((c) => c.text ?? '').join('')
}

describe('MCP through the Envoy emulator to SigV4-verifying upstreams', () => {
  let f: E2eFixture

  beforeAll(async () => {
    f = await startE2e()
  })
  afterAll(async () => {
    await f?.close()
  })

  it('runs initialize, tools/list, tools/call, the GET SSE stream and DELETE, every request signed and accepted', async () => {
    const before = f.awsMcp.requests.length
    const { client, transport } = await connect(f, '/aws-mcp')
    const tools = await client.listTools()
    expect(tools.tools.map((t) => t.name).sort()).toEqual(expect.arrayContaining(['add', 'echo']))
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'héllo wörld' } })
    expect(textOf(echoed)).toContain('héllo wörld')
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })
    expect(textOf(sum)).toContain('42')
    // The client opens the GET SSE stream after the initialized notification.
    await waitFor(() => f.awsMcp.requests.slice(before).some((r) => r.method === 'GET'))
    await transport.terminateSession()
    await client.close()

    const seen = f.awsMcp.requests.slice(before)
    expect(new Set(seen.map((r) => r.method))).toEqual(new Set(['POST', 'GET', 'DELETE']))
    for (const r of seen) {
      expect({ method: r.method, verified: r.verified, reason: r.failureReason }).toEqual({ method: r.method, verified: true, reason: undefined })
      expect(r.headers.host).toEqual([AWS_MCP_HOST])
      expect(r.path).toBe('/mcp')
      expect(r.accessKeyId).toBe(BASE.accessKeyId)
      expect(r.headers['x-amz-security-token']).toEqual([BASE.sessionToken])
    }
    const get = seen.find((r) => r.method === 'GET')
    expect(get?.headers['x-amz-content-sha256']).toEqual([EMPTY_SHA256])
    const del = seen.find((r) => r.method === 'DELETE')
    expect(del?.status).toBe(200)
    // POST bodies: the signed payload hash is the hash of the bytes the upstream received.
    for (const r of seen.filter((x) => x.method === 'POST')) {
      expect(r.headers['x-amz-content-sha256']).toEqual([createHash('sha256').update(r.body).digest('hex')])
    }
  })

  it('signs 50 parallel tools/call across two routes with different regions, services and identities', async () => {
    const a = await connect(f, '/aws-mcp')
    const b = await connect(f, '/agentcore')
    const beforeA = f.awsMcp.requests.length
    const beforeB = f.agentcore.requests.length
    const calls = Array.from({ length: 50 }, (_, i) =>
      (i % 2 === 0 ? a : b).client.callTool({ name: 'echo', arguments: { text: `call-${i}` } }),
    )
    const results = await Promise.all(calls)
    results.forEach((r, i) => expect(textOf(r)).toContain(`call-${i}`))
    await a.client.close()
    await b.client.close()

    const postsA = f.awsMcp.requests.slice(beforeA).filter((r) => r.method === 'POST')
    const postsB = f.agentcore.requests.slice(beforeB).filter((r) => r.method === 'POST')
    expect(postsA.filter((r) => r.body.toString().includes('tools/call'))).toHaveLength(25)
    expect(postsB.filter((r) => r.body.toString().includes('tools/call'))).toHaveLength(25)
    for (const r of [...postsA, ...postsB]) expect(r.verified).toBe(true)
    // Route B was signed by the assumed role: keys issued by the fake STS, scope eu-west-1.
    for (const r of postsB) {
      expect(f.sts.issued.has(r.accessKeyId ?? '')).toBe(true)
      expect(r.headers.authorization?.[0]).toMatch(/Credential=ASIA\w+\/\d{8}\/eu-west-1\/bedrock-agentcore\/aws4_request/)
      expect(r.headers.host).toEqual([AGENTCORE_HOST])
      expect(r.path).toBe('/mcp')
    }
    // One AssumeRole call served every request of the cold burst.
    expect(f.sts.calls.filter((c) => c.action === 'AssumeRole')).toHaveLength(1)
  })

  it('signs through Envoy Gateway annotations in the route metadata text', async () => {
    const before = f.awsMcp.requests.length
    const { client } = await connect(f, '/eg-mcp')
    expect((await client.listTools()).tools.length).toBeGreaterThan(0)
    await client.close()
    const seen = f.awsMcp.requests.slice(before)
    expect(seen.length).toBeGreaterThan(0)
    for (const r of seen) expect(r.verified).toBe(true)
  })

  it('passes a route without metadata through untouched', async () => {
    const before = f.plain.requests.length
    const res = await rawRequest(
      f.envoy.port,
      'POST',
      '/plain/echo?q=1',
      {
        'content-type': 'application/json',
        authorization: 'Bearer client-token',
        'x-amz-date': '20200101T000000Z',
        'x-custom': 'kept',
      },
      '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    )
    const got = f.plain.requests[before]
    expect(got?.path).toBe('/plain/echo?q=1')
    expect(got?.headers.authorization).toEqual(['Bearer client-token'])
    expect(got?.headers['x-amz-date']).toEqual(['20200101T000000Z'])
    expect(got?.headers['x-amz-content-sha256']).toBeUndefined()
    expect(got?.headers['x-custom']).toEqual(['kept'])
    expect(got?.body.toString()).toBe('{"jsonrpc":"2.0","id":1,"method":"ping"}')
    // The verifying upstream refuses it, as AWS would refuse an unsigned request.
    expect(res.status).toBe(403)
    const record = f.envoy.stats.requests.find((r) => r.path === '/plain/echo?q=1')
    const headerResponse = record?.received[0]
    expect(headerResponse?.request_headers?.response?.header_mutation).toBeUndefined()
  })

  it('never forwards client authorization or x-amz-* values, and ignores a spoofed Host', async () => {
    const before = f.awsMcp.requests.length
    const res = await rawRequest(
      f.envoy.port,
      'POST',
      '/aws-mcp',
      {
        host: 'evil.example.com',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: 'Bearer client-secret-token',
        'x-amz-security-token': 'client-injected-token',
        'x-amz-date': '19990101T000000Z',
        'x-amz-target': 'Injected.Operation',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    )
    expect(res.status).toBe(200)
    const got = f.awsMcp.requests[before]
    expect(got?.verified).toBe(true)
    expect(got?.headers.host).toEqual([AWS_MCP_HOST])
    expect(got?.headers.authorization?.[0]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDE2EBASE000000001\//)
    expect(got?.headers['x-amz-security-token']).toEqual([BASE.sessionToken])
    expect(got?.headers['x-amz-target']).toBeUndefined()
    expect(got?.headers['x-amz-date']?.[0]).not.toBe('19990101T000000Z')
    expect(got?.headers['x-amz-content-sha256']).toEqual([createHash('sha256').update(got?.body ?? '').digest('hex')])
    expect(JSON.stringify(got?.headers)).not.toContain('client-secret-token')
    expect(JSON.stringify(got?.headers)).not.toContain('client-injected-token')
  })

  it('answers a route whose region cannot be inferred with a JSON-RPC error carrying the request id', async () => {
    const before = f.unknownHost.requests.length
    const res = await rawRequest(
      f.envoy.port,
      'POST',
      '/misconfigured',
      { 'content-type': 'application/json' },
      '{"jsonrpc":"2.0","id":"req-77","method":"tools/list"}',
    )
    expect(res.status).toBe(500)
    expect(res.headers['content-type']).toBe('application/json')
    expect(res.headers['x-mcp-sigv4-error']).toBe('ERR_ROUTE_TARGET_INCOMPLETE')
    const body = JSON.parse(res.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { code: string } } }
    expect(body.jsonrpc).toBe('2.0')
    expect(body.id).toBe('req-77')
    expect(body.error.code).toBe(-32603)
    expect(body.error.data.code).toBe('ERR_ROUTE_TARGET_INCOMPLETE')
    expect(body.error.message).toContain('misconfigured')
    expect(body.error.message).toContain('mcp.internal.example.com')
    expect(f.unknownHost.requests.length).toBe(before)
  })

  it('keeps secrets out of logs and metrics', async () => {
    const metrics = await fetch(`http://127.0.0.1:${f.app.httpPort}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/mcp_sigv4_requests_total\{route="aws_mcp_us_east_1",method_class="unparsed",outcome="signed",error_code=""\} \d+/)
    const secrets = [BASE.secretAccessKey, BASE.sessionToken, 'client-secret-token', 'client-injected-token']
    for (const c of f.sts.issued.values()) secrets.push(c.secretAccessKey, c.sessionToken)
    const everything = f.logs.join('') + metrics
    for (const s of secrets) expect(everything).not.toContain(s)
    expect(f.logs.join('')).toContain('"outcome":"signed"')
  })
})

describe('body limits', () => {
  let f: E2eFixture

  beforeAll(async () => {
    f = await startE2e({ maxBodyBytes: 2048 })
  })
  afterAll(async () => {
    await f?.close()
  })

  it('answers 413 with a JSON-RPC error naming the limit and forwards nothing', async () => {
    const before = f.awsMcp.requests.length
    const big = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(4096) } } })
    const res = await rawRequest(f.envoy.port, 'POST', '/aws-mcp', { 'content-type': 'application/json' }, big)
    expect(res.status).toBe(413)
    const body = JSON.parse(res.body) as { error: { code: number; message: string; data: { code: string } } }
    expect(body.error.data.code).toBe('ERR_BODY_TOO_LARGE')
    expect(body.error.message).toContain('2048 bytes')
    expect(f.awsMcp.requests.length).toBe(before)
  })
})
