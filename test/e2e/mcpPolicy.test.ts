import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BASE } from './fixture.js'
import { AGENT_HEADER, ALT, startPolicyE2e, type PolicyFixture } from './policyFixture.js'

async function connect(f: PolicyFixture, prefix: string, agent?: string): Promise<Client> {
  const headers: Record<string, string> = agent !== undefined ? { [AGENT_HEADER]: agent } : {}
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${f.envoy.port}${prefix}`), {
    requestInit: { headers },
  })
  const client = new Client({ name: 'policy-e2e', version: '1.0.0' })
  await client.connect(transport)
  return client
}

const textOf = (r: unknown) => ((r as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? '').join('')

async function errorOf(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof McpError) return err
    throw err
  }
  throw new Error('expected an McpError')
}

describe('MCP policy and per-call identity, end to end through the emulator', () => {
  let f: PolicyFixture

  beforeAll(async () => {
    f = await startPolicyE2e()
  })
  afterAll(async () => {
    await f?.close()
  })

  for (const flavour of ['sse', 'json'] as const) {
    it(`filters tools/list to the agent's tools (${flavour} responses)`, async () => {
      const reader = await connect(f, `/policy-${flavour}`, 'reader')
      const admin = await connect(f, `/policy-${flavour}`, 'admin')
      expect((await reader.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo'])
      expect((await admin.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'legacy'])
      await reader.close()
      await admin.close()
    })
  }

  it('lets a permitted call through and answers a denied one with a JSON-RPC error the client surfaces', async () => {
    const reader = await connect(f, '/policy-sse', 'reader')
    const before = f.sseUpstream.requests.length
    expect(textOf(await reader.callTool({ name: 'echo', arguments: { text: 'allowed' } }))).toBe('allowed')
    const denied = await errorOf(reader.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))
    expect(denied.code).toBe(-32003)
    expect(denied.message).toContain('tool "add" is not allowed for agent "reader" by policy "ops"')
    await reader.close()
    const calls = f.sseUpstream.requests.slice(before).filter((r) => r.body.toString().includes('tools/call'))
    // Only the permitted call reached the upstream.
    expect(calls.map((r) => JSON.parse(r.body.toString()).params.name)).toEqual(['echo'])
    expect(calls.every((r) => r.verified)).toBe(true)
  })

  it('denies every call of a request without an agent (deny_on_missing_agent)', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${f.envoy.port}/policy-json`))
    const client = new Client({ name: 'no-agent', version: '1.0.0' })
    const err = await client.connect(transport).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(McpError)
    expect((err as McpError).code).toBe(-32003)
    expect((err as McpError).message).toContain('names no agent')
    await client.close()
  })

  for (const flavour of ['sse', 'json'] as const) {
    it(`signs a call that asks for another identity with it, without the request reaching the upstream (${flavour})`, async () => {
      const client = await connect(f, `/override-${flavour}`)
      const upstream = flavour === 'sse' ? f.sseUpstream : f.jsonUpstream
      const before = upstream.requests.length
      const result = await client.callTool({ name: 'echo', arguments: { text: 'as alt' }, _meta: { 'mcp-sigv4/identity': 'alt', keep: 'me' } })
      expect(textOf(result)).toBe('as alt')
      const plain = await client.callTool({ name: 'echo', arguments: { text: 'as default' } })
      expect(textOf(plain)).toBe('as default')
      await client.close()
      const calls = upstream.requests.slice(before).filter((r) => r.body.toString().includes('tools/call'))
      expect(calls.map((r) => [r.verified, r.accessKeyId])).toEqual([
        [true, ALT.accessKeyId],
        [true, BASE.accessKeyId],
      ])
      const forwarded = JSON.parse(calls[0]?.body.toString() ?? '{}') as { params: { _meta: Record<string, unknown> } }
      expect(forwarded.params._meta).toEqual({ keep: 'me' })
      expect(calls[0]?.body.toString()).not.toContain('mcp-sigv4/identity')
      expect(calls[0]?.headers['content-length']).toEqual([String(calls[0]?.body.length)])
    })
  }

  it('refuses an identity outside the allowlist with -32602 naming the allowed ones', async () => {
    const client = await connect(f, '/override-json')
    const err = await errorOf(client.callTool({ name: 'echo', arguments: { text: 'x' }, _meta: { 'mcp-sigv4/identity': 'root' } }))
    expect(err.code).toBe(-32602)
    expect(err.message).toContain('identity "root" is not allowed on this route; allowed: alt')
    await client.close()
  })

  it('argument mode: adds aws_profile as an enum, leaves a tool with its own aws_profile alone, and honours the argument', async () => {
    const client = await connect(f, '/override-sse')
    const tools = (await client.listTools()).tools
    const echo = tools.find((t) => t.name === 'echo')
    const legacy = tools.find((t) => t.name === 'legacy')
    expect((echo?.inputSchema.properties as Record<string, { enum?: string[] }>).aws_profile?.enum).toEqual(['alt'])
    expect((legacy?.inputSchema.properties as Record<string, { type?: string; enum?: string[] }>).aws_profile).toEqual({ type: 'string' })
    const before = f.sseUpstream.requests.length
    const result = await client.callTool({ name: 'echo', arguments: { text: 'by argument', aws_profile: 'alt' } })
    expect(textOf(result)).toBe('by argument')
    // The tool with its own aws_profile parameter gets its value, and no identity switch.
    expect(textOf(await client.callTool({ name: 'legacy', arguments: { aws_profile: 'not-an-identity' } }))).toBe('legacy got not-an-identity')
    await client.close()
    const call = f.sseUpstream.requests.slice(before).find((r) => r.body.toString().includes('tools/call'))
    expect(call?.accessKeyId).toBe(ALT.accessKeyId)
    expect(JSON.parse(call?.body.toString() ?? '{}').params.arguments).toEqual({ text: 'by argument' })
    const metrics = await fetch(`http://127.0.0.1:${f.app.httpPort}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/mcp_sigv4_identity_argument_conflicts_total [1-9]/)
  })
})
