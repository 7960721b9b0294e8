import { request as httpRequest } from 'node:http'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import aws4 from 'aws4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import type { SigV4Upstream, UpstreamEcho } from '../harness/sigv4VerifyingUpstream.js'

const HOST = 'aws-mcp.us-east-1.api.aws'
const REGION = 'us-east-1'
const SERVICE = 'aws-mcp'
const TEMP = { accessKeyId: 'ASIATEMPKEY000000001', secretAccessKey: 'temp-secret',
  sessionToken: 'temp-session-token' }
const LONG = { accessKeyId: 'AKIALONGTERM00000001', secretAccessKey: 'long-secret' }
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })

interface Wire {
  method: string
  path: string
  headers: Record<string, string>
  body: string
}

interface Reply {
  status: number
  body: string
}

function send(port: number, wire: Wire): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: wire.method, path: wire.path,
      headers: wire.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end(wire.body)
  })
}

interface SignInput {
  path?: string
  host?: string
  body?: string
  region?: string
  service?: string
  amzDate?: string
  extraHeaders?: Record<string, string>
  creds?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
}

/** Signs with aws4 (the verifier's own library) and returns the exact wire request. */
function signWithAws4(input: SignInput = {}): Wire {
  const body = input.body ?? BODY
  const headers: Record<string, string> = {
    'host': input.host ?? HOST,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...(input.amzDate === undefined ? {} : { 'x-amz-date': input.amzDate }),
    ...input.extraHeaders,
  }
  const signed = aws4.sign({ method: 'POST', path: input.path ?? '/mcp', headers, body,
    service: input.service ?? SERVICE, region: input.region ?? REGION }, input.creds ?? TEMP)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(signed.headers ?? {})) out[k.toLowerCase()] = String(v)
  return { method: 'POST', path: signed.path ?? '/mcp', headers: out, body }
}

function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '')
}

describe('SigV4-verifying upstream (plain mode)', () => {
  let upstream: SigV4Upstream

  beforeAll(async () => {
    upstream = await startSigV4Upstream({
      credentials: { [TEMP.accessKeyId]: TEMP, [LONG.accessKeyId]: LONG },
      expected: { region: REGION, service: SERVICE, host: HOST },
      mcp: false,
    })
  })
  afterAll(async () => { await upstream.close() })

  async function expectRejected(wire: Wire, reason: string, status = 403): Promise<string> {
    const before = upstream.requests.length
    const reply = await send(upstream.port, wire)
    expect(reply.status).toBe(status)
    const recorded = upstream.requests[before]
    expect(recorded?.verified).toBe(false)
    expect(recorded?.failureReason).toBe(reason)
    return (JSON.parse(reply.body) as { message: string }).message
  }

  it('accepts a request signed with aws4 and echoes what it received', async () => {
    const reply = await send(upstream.port, signWithAws4())
    expect(reply.status).toBe(200)
    const echo = JSON.parse(reply.body) as UpstreamEcho
    expect(echo.path).toBe('/mcp')
    expect(echo.body).toBe(BODY)
    expect(echo.headers['x-amz-security-token']).toEqual([TEMP.sessionToken])
    const recorded = upstream.requests.at(-1)
    expect(recorded?.verified).toBe(true)
    expect(recorded?.accessKeyId).toBe(TEMP.accessKeyId)
    expect(recorded?.bodyLength).toBe(Buffer.byteLength(BODY))
  })

  it('accepts a request signed with @smithy/signature-v4 over host + x-amz-* only', async () => {
    const signer = new SignatureV4({ credentials: TEMP, region: REGION, service: SERVICE,
      sha256: Hash.bind(null, 'sha256') })
    // The AgentCore runtime path shape: an URL-encoded ARN, double-encoded in the canonical URI.
    const path = '/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A1%3Aruntime%2Fx/invocations'
    const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: HOST, path,
      query: { qualifier: 'DEFAULT' }, headers: { host: HOST }, body: BODY },
    { signingDate: new Date() })
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v
    const wire = { method: 'POST', path: `${path}?qualifier=DEFAULT`, headers, body: BODY }
    expect(headers.authorization).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token')
    const reply = await send(upstream.port, wire)
    expect(reply.status).toBe(200)
    expect(upstream.requests.at(-1)?.verified).toBe(true)
    expect(upstream.requests.at(-1)?.path).toBe(`${path}?qualifier=DEFAULT`)
  })

  it('accepts a long-term key without a session token', async () => {
    const reply = await send(upstream.port, signWithAws4({ creds: LONG }))
    expect(reply.status).toBe(200)
  })

  it('rejects a tampered body', async () => {
    const wire = signWithAws4()
    const tampered = { ...wire, body: wire.body.replace('tools/list', 'tools/lisT') }
    const message = await expectRejected(tampered, 'signature-mismatch')
    expect(message).toMatch(/^The request signature we calculated does not match/)
  })

  it('rejects a body that does not match a signed x-amz-content-sha256', async () => {
    const wire = signWithAws4({ extraHeaders: {
      'x-amz-content-sha256': '0'.repeat(64) } })
    await expectRejected(wire, 'content-sha256-mismatch', 400)
  })

  it('rejects a wrong host', async () => {
    await expectRejected(signWithAws4({ host: 'evil.example.com' }), 'host-mismatch')
  })

  it('rejects a signature over a different path', async () => {
    const wire = signWithAws4({ path: '/mcp' })
    await expectRejected({ ...wire, path: '/mcp/other' }, 'signature-mismatch')
  })

  it('rejects a request whose query was changed after signing', async () => {
    const wire = signWithAws4({ path: '/mcp?a=1' })
    await expectRejected({ ...wire, path: '/mcp?a=2' }, 'signature-mismatch')
  })

  it('rejects an unknown access key', async () => {
    const message = await expectRejected(signWithAws4({ creds: { accessKeyId: 'AKIAUNKNOWN',
      secretAccessKey: 'x' } }), 'unknown-access-key')
    expect(message).toBe('The security token included in the request is invalid.')
  })

  it('rejects a date more than 5 minutes away', async () => {
    const wire = signWithAws4({ amzDate: amzDate(Date.now() - 6 * 60_000) })
    const message = await expectRejected(wire, 'date-skew')
    expect(message).toMatch(/^Signature expired/)
  })

  it('rejects a wrong region and a wrong service', async () => {
    await expectRejected(signWithAws4({ region: 'eu-west-1' }), 'region-mismatch')
    await expectRejected(signWithAws4({ service: 'execute-api' }), 'service-mismatch')
  })

  it('rejects an unsigned security token', async () => {
    const wire = signWithAws4({ creds: { accessKeyId: TEMP.accessKeyId,
      secretAccessKey: TEMP.secretAccessKey } })
    wire.headers['x-amz-security-token'] = TEMP.sessionToken
    await expectRejected(wire, 'security-token-not-signed')
  })

  it('rejects a missing or wrong security token for a temporary key', async () => {
    const wire = signWithAws4({ creds: { accessKeyId: TEMP.accessKeyId,
      secretAccessKey: TEMP.secretAccessKey } })
    await expectRejected(wire, 'missing-security-token')
    const wrong = signWithAws4({ creds: { ...TEMP, sessionToken: 'other-token' } })
    await expectRejected(wrong, 'security-token-mismatch')
  })

  it('rejects a request without authorization like AWS', async () => {
    const message = await expectRejected({ method: 'POST', path: '/mcp',
      headers: { host: HOST, 'content-type': 'application/json' }, body: BODY },
    'missing-authorization')
    expect(message).toBe('Missing Authentication Token')
  })

  it('rejects a signature that does not cover host', async () => {
    const wire = signWithAws4()
    wire.headers.authorization = wire.headers.authorization!.replace(
      /SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date;x-amz-security-token')
    await expectRejected(wire, 'host-not-signed')
  })
})

describe('SigV4-verifying upstream (MCP mode)', () => {
  let upstream: SigV4Upstream
  const signedRequests: string[] = []

  beforeAll(async () => {
    upstream = await startSigV4Upstream({
      credentials: () => ({ [TEMP.accessKeyId]: TEMP }),
      expected: { region: REGION, service: SERVICE },
    })
  })
  afterAll(async () => { await upstream.close() })

  /** A fetch that SigV4-signs every request with aws4, like a direct SigV4 MCP client. */
  async function signedFetch(url: string | URL, init?: RequestInit): Promise<Response> {
    const target = new URL(url)
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, key) => { headers[key] = value })
    const body = typeof init?.body === 'string' ? init.body : undefined
    headers.host = target.host
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
    const signed = aws4.sign({ method: init?.method ?? 'GET', path: target.pathname + target.search,
      headers, ...(body === undefined ? {} : { body }), service: SERVICE, region: REGION }, TEMP)
    signedRequests.push(`${init?.method ?? 'GET'} ${target.pathname}`)
    const out = new Headers()
    for (const [k, v] of Object.entries(signed.headers ?? {})) {
      if (k.toLowerCase() !== 'host') out.set(k, String(v))
    }
    return fetch(url, { ...init, headers: out })
  }

  it('runs an MCP session (initialize, tools/list, tools/call, DELETE) behind SigV4', async () => {
    const base = new URL(upstream.url('/mcp'))
    const transport = new StreamableHTTPClientTransport(base, { fetch: signedFetch })
    const client = new Client({ name: 'selftest', version: '1.0.0' })
    await client.connect(transport)
    const tools = await client.listTools()
    expect(tools.tools.map((t) => t.name).sort()).toEqual(['add', 'echo'])
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'héllo' } })
    expect(echoed.content).toEqual([{ type: 'text', text: 'héllo' }])
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })
    expect(sum.content).toEqual([{ type: 'text', text: '42' }])
    expect(upstream.sessionCount()).toBe(1)
    await transport.terminateSession()
    await client.close()
    expect(upstream.sessionCount()).toBe(0)
    expect(upstream.requests.length).toBeGreaterThanOrEqual(5)
    expect(upstream.requests.every((r) => r.verified)).toBe(true)
    expect(upstream.requests.some((r) => r.method === 'DELETE')).toBe(true)
    expect(signedRequests).toContain('POST /mcp')
  })

  it('answers 404 for an unknown session and 400 without one', async () => {
    const bodyList = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })
    const unknown = await signedFetch(upstream.url('/mcp'), { method: 'POST', body: bodyList,
      headers: { 'content-type': 'application/json',
        'accept': 'application/json, text/event-stream', 'mcp-session-id': 'nope' } })
    expect(unknown.status).toBe(404)
    const missing = await signedFetch(upstream.url('/mcp'), { method: 'POST', body: bodyList,
      headers: { 'content-type': 'application/json',
        'accept': 'application/json, text/event-stream' } })
    expect(missing.status).toBe(400)
  })
})
