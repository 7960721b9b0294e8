import { describe, expect, it } from 'vitest'
import { loadConfig, type McpPolicyConfig } from '../config/index.js'
import type { CallerContext } from '../credentials/index.js'
import { SignerError } from '../errors.js'
import { McpPolicy } from '../mcp/index.js'
import type { ProcessingResponseMessage } from './messages.js'
import {
  evaluateMcpRequest,
  routeNeedsMcp,
  type CompiledPolicy,
  type McpDependencies,
  type McpRequestOutcome,
} from './mcpRequest.js'
import type { StreamSigningTarget } from './streamDependencies.js'
import { AWS_MCP_TARGET } from '../../test/support/signingTarget.js'

const { config } = loadConfig({
  text: `
mcp:
  policies:
    ops:
      agent: { header: x-mcp-agent }
      agents:
        reader:
          allow: { tools: ["get_*"] }
        admin:
          allow: { tools: ["*"] }
    claims:
      agent: { claim: azp, header: x-mcp-agent }
      agents:
        reader:
          allow: { tools: ["get_*"] }
`,
})

function compile(name: string): CompiledPolicy {
  const policy = config.mcp.policies[name] as McpPolicyConfig
  return { rules: new McpPolicy(name, policy), config: policy }
}

const POLICIES = new Map([
  ['ops', compile('ops')],
  ['claims', compile('claims')],
])

const META_KEY = 'mcp-sigv4/identity'

const TARGET: StreamSigningTarget = AWS_MCP_TARGET

interface FakeDeps extends McpDependencies {
  readonly claimCalls: Array<[string, CallerContext]>
  readonly conflicts: Array<[string, string]>
  readonly ownsAsked: Array<[string, string]>
}

function fakeDeps(
  options: {
    argument?: string
    claims?: Record<string, unknown>
    owned?: string[]
    list?: boolean
  } = {},
): FakeDeps {
  const claimCalls: Array<[string, CallerContext]> = []
  const conflicts: Array<[string, string]> = []
  const ownsAsked: Array<[string, string]> = []
  return {
    claimCalls,
    conflicts,
    ownsAsked,
    override: {
      metaKey: META_KEY,
      argument: options.argument,
      listAllowedInErrors: options.list ?? true,
    },
    policy: (name) => POLICIES.get(name),
    verifiedClaims: async (identity, caller) => {
      claimCalls.push([identity, caller])
      return options.claims
    },
    onArgumentConflict: (route, tool) => {
      conflicts.push([route, tool])
    },
    toolOwnsArgument: (route, tool) => {
      ownsAsked.push([route, tool])
      return options.owned?.includes(tool) ?? false
    },
  }
}

function caller(headers: Record<string, string> = {}): CallerContext {
  return { header: (name) => headers[name], metadata: {} }
}

const route = (keys: Partial<StreamSigningTarget>): StreamSigningTarget => ({ ...TARGET, ...keys })
const POLICY_ROUTE = route({ policy: 'ops' })
const OVERRIDE_ROUTE = route({ allowedIdentities: ['prod', 'staging'] })
const AS_READER = caller({ 'x-mcp-agent': 'reader' })

function evaluate(
  deps: McpDependencies,
  target: StreamSigningTarget,
  body: string | unknown,
  who: CallerContext = AS_READER,
): Promise<McpRequestOutcome> {
  return evaluateMcpRequest(
    deps,
    target,
    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    who,
  )
}

function forwarded(outcome: McpRequestOutcome) {
  if (outcome.kind !== 'forward')
    throw new Error(`expected forward, got ${JSON.stringify(outcome)}`)
  return outcome
}

/** The fields of a forward decision (other fields, such as a metrics summary, are not compared). */
function essentials(outcome: ReturnType<typeof forwarded>) {
  const { kind, identity, body, toolsList } = outcome
  return { kind, identity, body, toolsList }
}

function reply(outcome: McpRequestOutcome) {
  if (outcome.kind !== 'refuse')
    throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`)
  const i = outcome.reply.immediate_response as NonNullable<
    ProcessingResponseMessage['immediate_response']
  >
  const text = i.body?.toString('utf8') ?? ''
  return {
    code: outcome.code,
    status: i.status.code,
    headers: Object.fromEntries(
      (i.headers?.set_headers ?? []).map((h) => [h.header.key, h.header.raw_value.toString()]),
    ),
    text,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
    details: i.details,
  }
}

const error = (id: unknown, code: number, message: string, errorCode: string) => ({
  jsonrpc: '2.0',
  id,
  error: { code, message, data: { code: errorCode } },
})

describe('routeNeedsMcp', () => {
  it('is true for a route with a policy or an allowlist, false otherwise', () => {
    expect(routeNeedsMcp(POLICY_ROUTE)).toBe(true)
    expect(routeNeedsMcp(OVERRIDE_ROUTE)).toBe(true)
    expect(routeNeedsMcp(route({ policy: 'ops', allowedIdentities: ['prod'] }))).toBe(true)
    expect(routeNeedsMcp(TARGET)).toBe(false)
  })
})

describe('evaluateMcpRequest: forwarding', () => {
  it('forwards as the route identity with no new body when nothing is removed', async () => {
    const outcome = forwarded(
      await evaluate(
        fakeDeps(),
        POLICY_ROUTE,
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x"}}',
      ),
    )
    expect(essentials(outcome)).toEqual({
      kind: 'forward',
      identity: 'default',
      body: undefined,
      toolsList: undefined,
    })
  })

  it('removes the _meta override from the original bytes: numbers, spacing and key order survive', async () => {
    const original =
      '{"params": {"name":"put_item", "arguments":{"price":1.50,"qty":1E2,"z":0,"a":"ü\\u00e9"},\n' +
      '  "_meta":{"progressToken":7, "mcp-sigv4/identity":"prod"}}, "id":1.0, "method":"tools/call", "jsonrpc":"2.0"}'
    const expected =
      '{"params": {"name":"put_item", "arguments":{"price":1.50,"qty":1E2,"z":0,"a":"ü\\u00e9"},\n' +
      '  "_meta":{"progressToken":7}}, "id":1.0, "method":"tools/call", "jsonrpc":"2.0"}'
    const outcome = forwarded(await evaluate(fakeDeps(), OVERRIDE_ROUTE, original))
    expect(outcome.identity).toBe('prod')
    expect(outcome.body?.toString('utf8')).toBe(expected)
    expect(outcome.body?.equals(Buffer.from(expected, 'utf8'))).toBe(true)
    expect(outcome.toolsList).toBeUndefined()
  })

  it('removes the argument override in argument mode from every call of a batch', async () => {
    const original =
      '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"aws_profile":"staging","n":2.50}}},' +
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b","arguments":{"x":1,"aws_profile":"staging"}}}]'
    const expected =
      '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"n":2.50}}},' +
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b","arguments":{"x":1}}}]'
    const deps = fakeDeps({ argument: 'aws_profile' })
    const outcome = forwarded(await evaluate(deps, OVERRIDE_ROUTE, original))
    expect(outcome.identity).toBe('staging')
    expect(outcome.body?.toString('utf8')).toBe(expected)
    expect(deps.ownsAsked).toEqual([
      ['aws-mcp', 'a'],
      ['aws-mcp', 'b'],
    ])
  })

  it('passes the argument of a tool that owns it through untouched', async () => {
    const original =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"own","arguments":{"aws_profile":"x"}}}'
    const outcome = forwarded(
      await evaluate(
        fakeDeps({ argument: 'aws_profile', owned: ['own'] }),
        OVERRIDE_ROUTE,
        original,
      ),
    )
    expect(essentials(outcome)).toEqual({
      kind: 'forward',
      identity: 'default',
      body: undefined,
      toolsList: undefined,
    })
  })
})

describe('evaluateMcpRequest: tools/list plan', () => {
  const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' })

  it('plans a filter for tools/list on a policy route, per the agent', async () => {
    const outcome = forwarded(await evaluate(fakeDeps(), POLICY_ROUTE, [list(1), list(2)]))
    const plan = outcome.toolsList
    expect(plan?.calls).toEqual(
      new Map([
        [1, 'reader'],
        [2, 'reader'],
      ]),
    )
    expect(plan?.addArgument).toBeUndefined()
    expect(plan?.keepTool?.('reader', 'get_x')).toBe(true)
    expect(plan?.keepTool?.('reader', 'put_x')).toBe(false)
    expect(plan?.keepTool?.('admin', 'put_x')).toBe(true)
    expect(plan?.keepTool?.(undefined, 'get_x')).toBe(false)
  })

  it('plans the identity argument in argument mode on a route with an allowlist', async () => {
    const deps = fakeDeps({ argument: 'aws_profile' })
    const outcome = forwarded(await evaluate(deps, OVERRIDE_ROUTE, list(3)))
    const plan = outcome.toolsList
    expect(plan?.calls).toEqual(new Map([[3, undefined]]))
    expect(plan?.keepTool).toBeUndefined()
    expect(plan?.addArgument).toEqual({
      name: 'aws_profile',
      values: ['prod', 'staging'],
      description: 'AWS identity to run this call as (default: default)',
    })
    plan?.onArgumentConflict?.('own_tool')
    expect(deps.conflicts).toEqual([['aws-mcp', 'own_tool']])
  })

  it('plans both on a policy route with argument mode and an allowlist', async () => {
    const target = route({ policy: 'ops', allowedIdentities: ['prod'] })
    const plan = forwarded(
      await evaluate(fakeDeps({ argument: 'aws_profile' }), target, list(4)),
    ).toolsList
    expect(plan?.calls).toEqual(new Map([[4, 'reader']]))
    expect(plan?.keepTool?.('reader', 'put_x')).toBe(false)
    expect(plan?.addArgument?.values).toEqual(['prod'])
  })

  it('plans nothing without a policy or argument mode, or without a tools/list request', async () => {
    expect(forwarded(await evaluate(fakeDeps(), OVERRIDE_ROUTE, list(5))).toolsList).toBeUndefined()
    expect(
      forwarded(
        await evaluate(fakeDeps({ argument: 'aws_profile' }), POLICY_ROUTE, {
          jsonrpc: '2.0',
          id: 6,
          method: 'initialize',
        }),
      ).toolsList,
    ).toBeUndefined()
  })

  it('plans no argument on a policy route without an allowlist', async () => {
    const plan = forwarded(
      await evaluate(fakeDeps({ argument: 'aws_profile' }), POLICY_ROUTE, list(7)),
    ).toolsList
    expect(plan?.calls).toEqual(new Map([[7, 'reader']]))
    expect(plan?.addArgument).toBeUndefined()
  })
})

describe('evaluateMcpRequest: errors thrown', () => {
  it('throws ERR_POLICY_UNKNOWN for a route naming an unconfigured policy', async () => {
    const outcome = evaluate(fakeDeps(), route({ policy: 'ghost' }), {
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
    })
    await expect(outcome).rejects.toBeInstanceOf(SignerError)
    await expect(outcome).rejects.toMatchObject({
      code: 'ERR_POLICY_UNKNOWN',
      message: 'cannot apply policy "ghost" of route "aws-mcp": it is not configured',
    })
  })

  it.each([['not json'], ['{"jsonrpc":"2.0",'], ['[]'], ['42'], ['{"method":"a","method":"b"}']])(
    'throws ERR_JSON_RPC_PARSE for a body that is not JSON-RPC: %s',
    async (body) => {
      await expect(evaluate(fakeDeps(), POLICY_ROUTE, body)).rejects.toMatchObject({
        code: 'ERR_JSON_RPC_PARSE',
        message: expect.stringMatching(/^cannot parse the request body as JSON-RPC: /),
      })
    },
  )
})

describe('evaluateMcpRequest: refusal replies', () => {
  it('answers a denied call with HTTP 200 and a JSON-RPC error -32003 carrying its id', async () => {
    const outcome = await evaluate(fakeDeps(), POLICY_ROUTE, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'put_x' },
    })
    expect(reply(outcome)).toEqual({
      code: 'ERR_POLICY_DENIED',
      status: 200,
      headers: { 'content-type': 'application/json', 'x-mcp-sigv4-error': 'ERR_POLICY_DENIED' },
      text: expect.any(String),
      body: error(
        7,
        -32003,
        'tool "put_x" is not allowed for agent "reader" by policy "ops" (tool not allowed)',
        'ERR_POLICY_DENIED',
      ),
      details: 'mcp_sigv4_err_policy_denied',
    })
  })

  it('answers a missing agent with -32003 and ERR_AGENT_MISSING', async () => {
    const outcome = reply(
      await evaluate(
        fakeDeps(),
        POLICY_ROUTE,
        { jsonrpc: '2.0', id: 'q', method: 'tools/list' },
        caller(),
      ),
    )
    expect(outcome.status).toBe(200)
    expect(outcome.headers['x-mcp-sigv4-error']).toBe('ERR_AGENT_MISSING')
    expect(outcome.body).toEqual(
      error(
        'q',
        -32003,
        '"tools/list" refused by policy "ops": the request names no agent',
        'ERR_AGENT_MISSING',
      ),
    )
  })

  it('answers a refused identity with -32602', async () => {
    const body = {
      jsonrpc: '2.0',
      id: 'c1',
      method: 'tools/call',
      params: { name: 'get_x', _meta: { [META_KEY]: 'dev' } },
    }
    const outcome = reply(await evaluate(fakeDeps({ list: false }), OVERRIDE_ROUTE, body))
    expect(outcome).toMatchObject({
      code: 'ERR_IDENTITY_NOT_ALLOWED',
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-mcp-sigv4-error': 'ERR_IDENTITY_NOT_ALLOWED',
      },
      body: error(
        'c1',
        -32602,
        'identity "dev" is not allowed on this route',
        'ERR_IDENTITY_NOT_ALLOWED',
      ),
    })
  })

  it('answers a mixed batch with an array of -32600 errors, one per request', async () => {
    const batch = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'a', _meta: { [META_KEY]: 'prod' } },
      },
      { jsonrpc: '2.0', method: 'notifications/progress' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'b' } },
    ]
    const outcome = reply(await evaluate(fakeDeps(), OVERRIDE_ROUTE, batch))
    const message =
      'not forwarded: another message of the batch was refused (cannot forward the batch: its calls need ' +
      'different identities (default, prod); send them separately)'
    expect(outcome).toMatchObject({
      code: 'ERR_MIXED_IDENTITIES',
      status: 200,
      headers: { 'content-type': 'application/json', 'x-mcp-sigv4-error': 'ERR_MIXED_IDENTITIES' },
      body: [
        error(1, -32600, message, 'ERR_MIXED_IDENTITIES'),
        error(2, -32600, message, 'ERR_MIXED_IDENTITIES'),
      ],
    })
    expect(outcome.text.startsWith('[{')).toBe(true)
  })

  it('answers a refused batch with an array: the refused request its own error, the others "not forwarded"', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_x' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'put_x' } },
    ]
    const own = 'tool "put_x" is not allowed for agent "reader" by policy "ops" (tool not allowed)'
    expect(reply(await evaluate(fakeDeps(), POLICY_ROUTE, batch)).body).toEqual([
      error(
        1,
        -32003,
        `not forwarded: another message of the batch was refused (${own})`,
        'ERR_POLICY_DENIED',
      ),
      error(2, -32003, own, 'ERR_POLICY_DENIED'),
    ])
  })

  it('answers a batch of one refused request with a one-element array', async () => {
    const batch = [{ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'put_x' } }]
    const outcome = reply(await evaluate(fakeDeps(), POLICY_ROUTE, batch))
    expect(Array.isArray(outcome.body)).toBe(true)
    expect(outcome.body).toHaveLength(1)
  })

  it('answers a refused notification with 202 and an empty body', async () => {
    const outcome = reply(
      await evaluate(
        fakeDeps(),
        POLICY_ROUTE,
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        caller(),
      ),
    )
    expect(outcome).toEqual({
      code: 'ERR_AGENT_MISSING',
      status: 202,
      headers: { 'x-mcp-sigv4-error': 'ERR_AGENT_MISSING' },
      text: '',
      body: undefined,
      details: 'mcp_sigv4_err_agent_missing',
    })
  })

  it('answers a refused batch of notifications only with 202 and an empty body', async () => {
    const batch = [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/cancelled' },
    ]
    const outcome = reply(await evaluate(fakeDeps(), POLICY_ROUTE, batch, caller()))
    expect(outcome.status).toBe(202)
    expect(outcome.text).toBe('')
  })

  it('answers an invalid message with HTTP 400 and -32700, with a null id when it has none', async () => {
    const outcome = reply(
      await evaluate(fakeDeps(), OVERRIDE_ROUTE, { jsonrpc: '2.0', params: {} }),
    )
    expect(outcome).toMatchObject({
      code: 'ERR_JSON_RPC_PARSE',
      status: 400,
      headers: { 'content-type': 'application/json', 'x-mcp-sigv4-error': 'ERR_JSON_RPC_PARSE' },
      body: error(
        null,
        -32700,
        'cannot check the request: it is not a valid JSON-RPC message (the message has no method, result or error)',
        'ERR_JSON_RPC_PARSE',
      ),
    })
  })
})

describe('evaluateMcpRequest: verified claims', () => {
  it('asks for verified claims only when the policy reads a claim, for the route identity', async () => {
    const deps = fakeDeps({ claims: { azp: 'reader' } })
    const who = caller()
    const target = route({ policy: 'claims', identity: 'web' })
    const outcome = await evaluate(
      deps,
      target,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_x' } },
      who,
    )
    expect(outcome.kind).toBe('forward')
    expect(deps.claimCalls).toEqual([['web', who]])
  })

  it('decides by the claim when there is one', async () => {
    const deps = fakeDeps({ claims: { azp: 'nobody' } })
    const outcome = reply(
      await evaluate(deps, route({ policy: 'claims' }), {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'get_x' },
      }),
    )
    expect((outcome.body as { error: { message: string } }).error.message).toBe(
      'tool "get_x" is not allowed for agent "nobody" by policy "claims" (unknown agent)',
    )
  })

  it('does not ask for claims on a policy without a claim source, nor without a policy', async () => {
    const deps = fakeDeps({ claims: { azp: 'admin' } })
    await evaluate(deps, POLICY_ROUTE, { jsonrpc: '2.0', id: 1, method: 'ping' })
    await evaluate(deps, OVERRIDE_ROUTE, { jsonrpc: '2.0', id: 2, method: 'ping' })
    expect(deps.claimCalls).toEqual([])
  })
})
