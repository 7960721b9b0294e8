import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config/index.js'
import { freezeCredentials, type AwsCredentials, type CallerContext } from '../credentials/index.js'
import { McpPolicy } from '../mcp/index.js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from './messages.js'
import type { McpDependencies } from './mcpRequest.js'
import type {
  RequestReport,
  StreamDependencies,
  StreamSigningInput,
  StreamSigningTarget,
} from './streamDependencies.js'
import { StreamProcessor } from './streamProcessor.js'
import { AWS_MCP_TARGET } from '../../test/support/signingTarget.js'

const { config } = loadConfig({
  text: `
mcp:
  identity_override:
    argument: aws_profile
  policies:
    ops:
      agent: { header: x-mcp-agent }
      agents:
        reader:
          allow: { tools: ["get_*"] }
`,
})

const TARGET: StreamSigningTarget = AWS_MCP_TARGET
const POLICY_TARGET: StreamSigningTarget = { ...TARGET, policy: 'ops' }
const OVERRIDE_TARGET: StreamSigningTarget = { ...TARGET, allowedIdentities: ['prod', 'staging'] }

const credentialsOf = (name: string): AwsCredentials =>
  freezeCredentials({ accessKeyId: `AKID${name.toUpperCase()}`, secretAccessKey: 'SECRET' })

/** The MCP dependencies as app.ts builds them, from the configuration above. */
function realMcp(conflicts: string[]): McpDependencies {
  const policies = new Map(
    Object.entries(config.mcp.policies).map(([name, policy]) => [
      name,
      { rules: new McpPolicy(name, policy), config: policy },
    ]),
  )
  const owned = new Set<string>()
  return {
    override: {
      metaKey: config.mcp.identity_override.meta_key,
      argument: config.mcp.identity_override.argument,
      listAllowedInErrors: config.mcp.identity_override.list_allowed_in_errors,
    },
    policy: (name) => policies.get(name),
    verifiedClaims: async () => undefined,
    onArgumentConflict: (route, tool) => {
      conflicts.push(`${route}/${tool}`)
      owned.add(`${route}\n${tool}`)
    },
    toolOwnsArgument: (route, tool) => owned.has(`${route}\n${tool}`),
  }
}

interface Harness {
  processor: StreamProcessor
  sent: ProcessingResponseMessage[]
  finished: () => boolean
  signInputs: StreamSigningInput[]
  reports: RequestReport[]
  lookups: string[]
  conflicts: string[]
}

function harness(
  target: StreamSigningTarget,
  options: {
    stripFor?: (identity: string) => readonly string[]
    conflicts?: string[]
    mcp?: McpDependencies
  } = {},
): Harness {
  const sent: ProcessingResponseMessage[] = []
  const signInputs: StreamSigningInput[] = []
  const reports: RequestReport[] = []
  const lookups: string[] = []
  const conflicts = options.conflicts ?? []
  let finished = false
  const deps: StreamDependencies = {
    settings: {
      maxBodyBytes: 64 * 1024,
      requestBodyModeOverride: false,
      credentialWaitTimeoutMs: 5000,
    },
    resolveTarget: () => target,
    lookupIdentity: (name: string, _caller: CallerContext) => {
      lookups.push(name)
      return { ready: credentialsOf(name) }
    },
    headersToStrip: options.stripFor ?? (() => []),
    sign: (input, credentials) => {
      signInputs.push(input)
      return {
        set: [
          ['authorization', `SIGNED ${credentials.accessKeyId} ${input.payloadSha256Hex}`],
          ['x-amz-date', '20260101T000000Z'],
        ],
        remove: [],
      }
    },
    now: () => new Date('2026-01-01T00:00:00Z'),
    monotonicMs: () => 0,
    observer: {
      requestFinished: (r) => reports.push(r),
      signed: () => undefined,
      internalError: () => undefined,
    },
    mcp: options.mcp ?? realMcp(conflicts),
  }
  const processor = new StreamProcessor(
    deps,
    {},
    {
      send: (r) => sent.push(r),
      finish: () => {
        finished = true
      },
    },
  )
  return { processor, sent, finished: () => finished, signInputs, reports, lookups, conflicts }
}

function headersMessage(extra: Array<[string, string]> = []): ProcessingRequestMessage {
  const headers = [
    [':authority', 'gateway.local'],
    [':path', '/aws-mcp'],
    [':method', 'POST'],
    [':scheme', 'http'],
    ['content-type', 'application/json'],
    ...extra,
  ].map(([key, value]) => ({ key: key as string, raw_value: Buffer.from(value as string) }))
  return {
    request: 'request_headers',
    request_headers: { headers: { headers }, end_of_stream: false },
    protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'NONE' },
  }
}

function bodyMessage(text: string): ProcessingRequestMessage {
  return { request: 'request_body', request_body: { body: Buffer.from(text), end_of_stream: true } }
}

function responseHeaders(headers: Array<[string, string]>): ProcessingRequestMessage {
  const list = [[':status', '200'], ...headers].map(([key, value]) => ({
    key: key as string,
    raw_value: Buffer.from(value as string),
  }))
  return {
    request: 'response_headers',
    response_headers: { headers: { headers: list }, end_of_stream: false },
  }
}

function responseBody(text: string, endOfStream = true): ProcessingRequestMessage {
  return {
    request: 'response_body',
    response_body: { body: Buffer.from(text), end_of_stream: endOfStream },
  }
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const AS_READER: Array<[string, string]> = [['x-mcp-agent', 'reader']]

function immediate(r: ProcessingResponseMessage | undefined) {
  const i = r?.immediate_response
  if (i === undefined) throw new Error(`expected an immediate response, got ${JSON.stringify(r)}`)
  return {
    status: i.status.code,
    body: JSON.parse(i.body?.toString() ?? '') as unknown,
    headers: Object.fromEntries(
      (i.headers?.set_headers ?? []).map((h) => [h.header.key, h.header.raw_value.toString()]),
    ),
  }
}

function setHeaders(
  response:
    | { header_mutation?: { set_headers?: Array<{ header: { key: string; raw_value: Buffer } }> } }
    | undefined,
) {
  return Object.fromEntries(
    (response?.header_mutation?.set_headers ?? []).map((h) => [
      h.header.key,
      h.header.raw_value.toString(),
    ]),
  )
}

const TOOLS_RESULT = {
  jsonrpc: '2.0',
  id: 1,
  result: {
    tools: [
      { name: 'get_user', inputSchema: { type: 'object', properties: {} } },
      { name: 'delete_user', inputSchema: { type: 'object' } },
    ],
  },
}
const FILTERED_TOOLS = JSON.stringify({
  ...TOOLS_RESULT,
  result: { tools: [TOOLS_RESULT.result.tools[0]] },
})

describe('StreamProcessor with MCP policy and identity overrides', () => {
  it('answers a denied tools/call with 200 and a JSON-RPC error, and signs nothing', async () => {
    const h = harness(POLICY_TARGET)
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(
      bodyMessage('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"delete_user"}}'),
    )
    expect(h.sent).toHaveLength(2)
    expect(immediate(h.sent[1])).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', 'x-mcp-sigv4-error': 'ERR_POLICY_DENIED' },
      body: {
        jsonrpc: '2.0',
        id: 5,
        error: {
          code: -32003,
          message:
            'tool "delete_user" is not allowed for agent "reader" by policy "ops" (tool not allowed)',
          data: { code: 'ERR_POLICY_DENIED' },
        },
      },
    })
    expect(h.signInputs).toEqual([])
    expect(h.finished()).toBe(true)
    expect(h.processor.state).toBe('finished')
    expect(h.reports).toMatchObject([{ errorCode: 'ERR_POLICY_DENIED', routeName: 'aws-mcp' }])
    // 'rejected' before the outcome 'denied' for MCP refusals was introduced, 'denied' after.
    expect(['rejected', 'denied']).toContain(h.reports[0]?.outcome)
  })

  it('forwards an allowed tools/call unchanged, signed over the original bytes', async () => {
    const h = harness(POLICY_TARGET)
    const body =
      '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_user","arguments":{"n":1.50}}}'
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage(body))
    const response = h.sent[1]?.request_body?.response
    expect(response?.body_mutation).toBeUndefined()
    expect(setHeaders(response)).toEqual({
      authorization: `SIGNED AKIDDEFAULT ${sha(body)}`,
      'x-amz-date': '20260101T000000Z',
    })
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha(body))
  })

  it('answers a body that is not JSON with 400 and a parse error on a policy route', async () => {
    const h = harness(POLICY_TARGET)
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage('{"jsonrpc":'))
    expect(immediate(h.sent[1])).toMatchObject({
      status: 400,
      headers: { 'x-mcp-sigv4-error': 'ERR_JSON_RPC_PARSE' },
      body: { id: null, error: { code: -32700, data: { code: 'ERR_JSON_RPC_PARSE' } } },
    })
    expect(h.signInputs).toEqual([])
  })

  it('answers a route naming an unknown policy with 500 and the request id', async () => {
    const h = harness({ ...TARGET, policy: 'ghost' })
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":"k","method":"ping"}'))
    expect(immediate(h.sent[1])).toMatchObject({
      status: 500,
      body: { id: 'k', error: { code: -32603, data: { code: 'ERR_POLICY_UNKNOWN' } } },
    })
    expect(h.signInputs).toEqual([])
  })

  it('signs an override with the requested identity over the rewritten bytes', async () => {
    const h = harness(OVERRIDE_TARGET)
    const body =
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_buckets","arguments":{"max":1.50},' +
      '"_meta":{"mcp-sigv4/identity":"prod","progressToken":"p1"}}}'
    const rewritten =
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_buckets","arguments":{"max":1.50},' +
      '"_meta":{"progressToken":"p1"}}}'
    await h.processor.handle(headersMessage([['content-length', String(body.length)]]))
    await h.processor.handle(bodyMessage(body))
    expect(h.lookups).toEqual(['default', 'prod'])
    expect(h.signInputs).toHaveLength(1)
    expect(h.signInputs[0]?.target.identity).toBe('prod')
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha(rewritten))
    const response = h.sent[1]?.request_body?.response
    expect(response?.status).toBe('CONTINUE')
    expect(response?.body_mutation).toEqual({ body: Buffer.from(rewritten) })
    expect(setHeaders(response)).toEqual({
      authorization: `SIGNED AKIDPROD ${sha(rewritten)}`,
      'x-amz-date': '20260101T000000Z',
      'content-length': String(Buffer.byteLength(rewritten)),
    })
    expect(h.reports).toMatchObject([{ outcome: 'signed', identity: 'prod' }])
  })

  it('signs an argument-mode override with the requested identity, without the argument', async () => {
    const h = harness(OVERRIDE_TARGET)
    const body =
      '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":{"aws_profile":"staging","é":"ü"}}}'
    const rewritten =
      '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x","arguments":{"é":"ü"}}}'
    await h.processor.handle(headersMessage())
    await h.processor.handle(bodyMessage(body))
    const response = h.sent[1]?.request_body?.response
    expect(response?.body_mutation).toEqual({ body: Buffer.from(rewritten) })
    expect(setHeaders(response)['content-length']).toBe(String(Buffer.byteLength(rewritten)))
    expect(Buffer.byteLength(rewritten)).toBeGreaterThan(rewritten.length)
    expect(h.signInputs[0]?.target.identity).toBe('staging')
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha(Buffer.from(rewritten)))
  })

  it('answers an identity outside the allowlist with -32602 and signs nothing', async () => {
    const h = harness(OVERRIDE_TARGET)
    await h.processor.handle(headersMessage())
    await h.processor.handle(
      bodyMessage(
        '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"x","_meta":{"mcp-sigv4/identity":"dev"}}}',
      ),
    )
    expect(immediate(h.sent[1])).toMatchObject({
      status: 200,
      body: {
        id: 9,
        error: {
          code: -32602,
          message: 'identity "dev" is not allowed on this route; allowed: prod, staging',
        },
      },
    })
    expect(h.signInputs).toEqual([])
    expect(h.lookups).not.toContain('dev')
  })

  it('rewrites the JSON response of a tools/list request on a policy route', async () => {
    const h = harness(POLICY_TARGET)
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage(body))
    expect(h.sent[1]?.request_body?.response?.body_mutation).toBeUndefined()
    expect(h.signInputs[0]?.payloadSha256Hex).toBe(sha(body))
    const original = JSON.stringify(TOOLS_RESULT)
    await h.processor.handle(
      responseHeaders([
        ['content-type', 'application/json'],
        ['content-length', String(original.length)],
      ]),
    )
    expect(h.sent[2]).toEqual({
      response_headers: { response: { status: 'CONTINUE' } },
      mode_override: { request_body_mode: 'BUFFERED', response_body_mode: 'BUFFERED' },
    })
    await h.processor.handle(responseBody(original))
    const response = h.sent[3]?.response_body?.response
    expect(response?.body_mutation).toEqual({ body: Buffer.from(FILTERED_TOOLS) })
    expect(setHeaders(response)).toEqual({ 'content-length': String(FILTERED_TOOLS.length) })
    await h.processor.handle({ request: 'response_trailers', response_trailers: {} })
    expect(h.sent[4]).toEqual({ response_trailers: {} })
  })

  it('rewrites the SSE response of a tools/list request, and adds the argument on an override route', async () => {
    const h = harness({ ...POLICY_TARGET, allowedIdentities: ['prod'] })
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'))
    await h.processor.handle(responseHeaders([['content-type', 'text/event-stream']]))
    expect(h.sent[2]?.mode_override).toEqual({
      request_body_mode: 'BUFFERED',
      response_body_mode: 'STREAMED',
    })
    const event = `event: message\ndata: ${JSON.stringify(TOOLS_RESULT)}\n\n`
    await h.processor.handle(responseBody(event.slice(0, 30), false))
    await h.processor.handle(responseBody(event.slice(30), true))
    expect(h.sent[3]?.response_body?.response?.body_mutation).toEqual({ clear_body: true })
    const out = h.sent[4]?.response_body?.response?.body_mutation
    const text = out !== undefined && 'body' in out ? out.body.toString() : ''
    expect(text.startsWith('event: message\ndata: ')).toBe(true)
    expect(text.endsWith('\n\n')).toBe(true)
    const tools = (JSON.parse(text.slice('event: message\ndata: '.length)) as typeof TOOLS_RESULT)
      .result.tools
    expect(tools).toEqual([
      {
        name: 'get_user',
        inputSchema: {
          type: 'object',
          properties: {
            aws_profile: {
              type: 'string',
              enum: ['prod'],
              description: 'AWS identity to run this call as (default: default)',
            },
          },
        },
      },
    ])
  })

  it('leaves responses alone when the request carried no tools/list', async () => {
    const h = harness(POLICY_TARGET)
    await h.processor.handle(headersMessage(AS_READER))
    await h.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":2,"method":"initialize"}'))
    await h.processor.handle(responseHeaders([['content-type', 'application/json']]))
    await h.processor.handle(responseBody(JSON.stringify(TOOLS_RESULT)))
    expect(h.sent.slice(2)).toEqual([
      { response_headers: { response: { status: 'CONTINUE' } } },
      { response_body: { response: { status: 'CONTINUE' } } },
    ])
  })

  it('learns tools that own the identity argument from tools/list and leaves their argument alone', async () => {
    const conflicts: string[] = []
    const mcp = realMcp(conflicts)
    const list = harness(OVERRIDE_TARGET, { mcp, conflicts })
    await list.processor.handle(headersMessage())
    await list.processor.handle(bodyMessage('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'))
    await list.processor.handle(responseHeaders([['content-type', 'application/json']]))
    const owning = {
      jsonrpc: '2.0',
      id: 1,
      result: {
        tools: [
          {
            name: 'own',
            inputSchema: { type: 'object', properties: { aws_profile: { type: 'string' } } },
          },
        ],
      },
    }
    await list.processor.handle(responseBody(JSON.stringify(owning)))
    expect(conflicts).toEqual(['aws-mcp/own'])
    // The tool keeps its schema: nothing changed, so no body mutation (bytes pass as received).
    expect(list.sent[3]).toEqual({ response_body: { response: { status: 'CONTINUE' } } })

    const callBody =
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"own","arguments":{"aws_profile":"mine"}}}'
    const call = harness(OVERRIDE_TARGET, { mcp, conflicts })
    await call.processor.handle(headersMessage())
    await call.processor.handle(bodyMessage(callBody))
    expect(call.sent[1]?.request_body?.response?.body_mutation).toBeUndefined()
    expect(call.signInputs[0]?.target.identity).toBe('default')
    expect(call.signInputs[0]?.payloadSha256Hex).toBe(sha(callBody))
  })

  // Regression (fixed): when a call switches identity, the headers to strip are computed for the NEW identity
  // only (`headersToStrip(target.identity)` after the override). A route whose own identity is a
  // web_identity reading the caller token from a custom header (`x-caller-token`) strips that
  // header when it signs as itself, but a call overridden to `prod` forwards the caller's token
  // header to AWS: `stripHeaders` is [] instead of containing `x-caller-token`.
  it(
    'still strips the route identity caller-token header when a call switches identity',
    async () => {
      const h = harness(OVERRIDE_TARGET, {
        stripFor: (identity) => (identity === 'default' ? ['x-caller-token'] : []),
      })
      await h.processor.handle(headersMessage([['x-caller-token', 'eyJhbGciOi.caller.token']]))
      await h.processor.handle(
        bodyMessage(
          '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","_meta":{"mcp-sigv4/identity":"prod"}}}',
        ),
      )
      expect(h.signInputs[0]?.target.identity).toBe('prod')
      expect(h.signInputs[0]?.stripHeaders).toContain('x-caller-token')
    },
  )
})
