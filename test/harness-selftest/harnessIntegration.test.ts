import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEnvoyEmulator } from '../harness/envoyEmulator.js'
import type { EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts } from '../harness/fakeSts.js'
import type { FakeSts } from '../harness/fakeSts.js'
import { startScriptedExtProc } from '../harness/scriptedExtProc.js'
import type { Script, ScriptContext, ScriptedExtProc } from '../harness/scriptedExtProc.js'
import { startSigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import type { SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import type { HeaderValueMsg, ProcessingRequestMsg } from '../harness/emulator/types.js'
import { ROUTE_METADATA } from './emulatorFixture.js'

const HOST = 'aws-mcp.us-east-1.api.aws'
const HOST_ATTR = `xds.route_metadata.filter_metadata['mcp.sigv4']['upstream_host']`
const CALLER = { accessKeyId: 'AKIDCALLER0000000001', secretAccessKey: 'caller-secret' }

/**
 * A minimal signer standing in for the project's server: it signs `host` + `x-amz-*` for the
 * host from the route attribute and the path the router will produce (`/aws-mcp` → `/mcp`).
 */
function signingScript(credentials: () => { accessKeyId: string; secretAccessKey: string;
  sessionToken: string }): Script {
  let held: { path: string; method: string; host: string } | undefined
  const sign = async (ctx: ScriptContext, kind: 'request_headers' | 'request_body',
    body: Buffer) => {
    const target = held as { path: string; method: string; host: string }
    const url = new URL(target.path.replace(/^\/aws-mcp/, '/mcp'), 'http://placeholder')
    const signer = new SignatureV4({ credentials: credentials(), region: 'us-east-1',
      service: 'aws-mcp', sha256: Hash.bind(null, 'sha256') })
    const signed = await signer.sign({ method: target.method, protocol: 'https:',
      hostname: target.host, path: url.pathname, query: Object.fromEntries(url.searchParams),
      headers: { host: target.host }, body })
    const set = Object.entries(signed.headers).filter(([k]) => k !== 'host')
      .map(([key, value]) => ({ header: { key, raw_value: Buffer.from(value) } }))
    ctx.send({ [kind]: { response: { header_mutation: { set_headers: set } } } })
  }
  return async (m: ProcessingRequestMsg, ctx) => {
    if (m.request === 'request_headers') {
      const list: HeaderValueMsg[] = m.request_headers?.headers?.headers ?? []
      const get = (k: string) => list.find((h) => h.key === k)?.raw_value?.toString() ?? ''
      const host = m.attributes?.['envoy.filters.http.ext_proc']?.fields?.[HOST_ATTR]?.stringValue
      held = { path: get(':path'), method: get(':method'), host: host ?? '' }
      if (m.request_headers?.end_of_stream === true) return sign(ctx, 'request_headers',
        Buffer.alloc(0))
      ctx.send({ request_headers: { response: {} } })
    } else if (m.request === 'request_body') {
      await sign(ctx, 'request_body', m.request_body?.body ?? Buffer.alloc(0))
    }
  }
}

describe('harness: STS credentials → emulator → signer → verifying MCP upstream', () => {
  let sts: FakeSts
  let upstream: SigV4Upstream
  let extProc: ScriptedExtProc
  let emulator: EnvoyEmulator
  let creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string }

  beforeAll(async () => {
    sts = await startFakeSts({ callerCredentials: {
      [CALLER.accessKeyId]: { secretAccessKey: CALLER.secretAccessKey } } })
    const out = await new STSClient({ endpoint: sts.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: CALLER }).send(new AssumeRoleCommand({
      RoleArn: 'arn:aws:iam::123456789012:role/mcp', RoleSessionName: 'it' }))
    creds = { accessKeyId: out.Credentials?.AccessKeyId as string,
      secretAccessKey: out.Credentials?.SecretAccessKey as string,
      sessionToken: out.Credentials?.SessionToken as string }
    upstream = await startSigV4Upstream({
      credentials: () => Object.fromEntries(Array.from(sts.issued, ([akid, c]) =>
        [akid, { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }])),
      expected: { region: 'us-east-1', service: 'aws-mcp', host: HOST },
    })
    extProc = await startScriptedExtProc(signingScript(() => creds))
    emulator = await startEnvoyEmulator({
      extProcAddress: extProc.address,
      requestAttributes: [HOST_ATTR, 'xds.route_name'],
      messageTimeoutMs: 1000,
      routes: [{ name: 'aws-mcp', prefix: '/aws-mcp', metadata: ROUTE_METADATA,
        hostRewriteLiteral: HOST, prefixRewrite: '/mcp',
        upstream: { host: '127.0.0.1', port: upstream.port } }],
    })
  })

  afterAll(async () => {
    await emulator.close()
    await extProc.close()
    await upstream.close()
    await sts.close()
  })

  it('runs an MCP session whose every upstream request verifies', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(emulator.url('/aws-mcp')))
    const client = new Client({ name: 'it', version: '1.0.0' })
    await client.connect(transport)
    const result = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })
    expect(result.content).toEqual([{ type: 'text', text: '42' }])
    await transport.terminateSession()
    await client.close()
    expect(upstream.requests.length).toBeGreaterThanOrEqual(4)
    expect(upstream.requests.map((r) => r.failureReason)).toEqual(
      upstream.requests.map(() => undefined))
    expect(upstream.requests.every((r) => r.verified && r.accessKeyId === creds.accessKeyId))
      .toBe(true)
    expect(new Set(upstream.requests.map((r) => r.path))).toEqual(new Set(['/mcp']))
    expect(upstream.requests.map((r) => r.method)).toContain('DELETE')
    // The client's standalone GET SSE stream is signed over an empty body and flows through.
    expect(upstream.requests.map((r) => r.method)).toContain('GET')
    expect(emulator.stats.localReplies).toBe(0)
  })

  it('is rejected by the upstream when the signer signs the pre-rewrite path', async () => {
    extProc.setScript(async (m, ctx) => {
      // Wrong on purpose: sign the downstream path '/aws-mcp' instead of '/mcp'.
      const list = m.request_headers?.headers?.headers ?? []
      const path = list.find((h) => h.key === ':path')?.raw_value?.toString() ?? '/'
      const signer = new SignatureV4({ credentials: creds, region: 'us-east-1',
        service: 'aws-mcp', sha256: Hash.bind(null, 'sha256') })
      const signed = await signer.sign({ method: 'GET', protocol: 'https:', hostname: HOST, path,
        headers: { host: HOST } })
      ctx.send({ request_headers: { response: { header_mutation: { set_headers:
        Object.entries(signed.headers).filter(([k]) => k !== 'host')
          .map(([key, value]) => ({ header: { key, raw_value: Buffer.from(value) } })) } } } })
    })
    const res = await fetch(emulator.url('/aws-mcp'), { headers: { accept: 'text/event-stream' } })
    expect(res.status).toBe(403)
    expect(((await res.json()) as { message: string }).message)
      .toMatch(/^The request signature we calculated does not match/)
    expect(upstream.requests.at(-1)?.failureReason).toBe('signature-mismatch')
  })
})
