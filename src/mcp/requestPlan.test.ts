import { describe, expect, it } from 'vitest'
import { loadConfig, type McpPolicyConfig } from '../config/index.js'
import type { AgentSources } from './agentIdentity.js'
import { parseJsonRpc } from './jsonRpcMessage.js'
import { McpPolicy } from './policy.js'
import {
  planMcpRequest,
  type OverrideSettings,
  type RequestPlan,
  type RequestPlanInput,
} from './requestPlan.js'

const { config } = loadConfig({
  text: `
mcp:
  policies:
    ops:
      agent:
        claim: azp
        header: x-mcp-agent
      agents:
        reader:
          allow: { tools: ["get_*", "list_*"] }
        admin:
          allow: { tools: ["*"] }
          deny: { tools: ["delete_*"], methods: ["resources/*"] }
        quiet:
          allow: { methods: ["initialize", "tools/*"], tools: ["*"] }
`,
})
const OPS = config.mcp.policies.ops as McpPolicyConfig
const OPS_POLICY = { name: 'ops', rules: new McpPolicy('ops', OPS), config: OPS }

/** A typed literal: no agent source at all, the fallback agent applies. */
const FALLBACK: McpPolicyConfig = {
  agent: { allow_self_asserted: false, self_asserted_key: 'agent_id' },
  deny_on_missing_agent: false,
  fallback_agent: 'guest',
  agents: { guest: { allow: { tools: ['ping'] } } },
}

const META_KEY = 'mcp-sigv4/identity'
const OVERRIDE: OverrideSettings = {
  metaKey: META_KEY,
  argument: undefined,
  listAllowedInErrors: true,
}
const ARGUMENT_MODE: OverrideSettings = { ...OVERRIDE, argument: 'aws_profile' }

function sources(
  headers: Record<string, string> = {},
  claims?: Record<string, unknown>,
): AgentSources {
  return { claims, header: (name) => headers[name] }
}

type PlanOptions = Partial<Omit<RequestPlanInput, 'parsed'>>

function plan(body: unknown, options: PlanOptions = {}): RequestPlan {
  return planMcpRequest({
    parsed: parseJsonRpc(typeof body === 'string' ? body : JSON.stringify(body)),
    routeIdentity: 'default',
    allowedIdentities: [],
    override: OVERRIDE,
    policy: undefined,
    agentSources: sources(),
    ...options,
  })
}

function withPolicy(agent: string | undefined, options: PlanOptions = {}): PlanOptions {
  return {
    policy: OPS_POLICY,
    agentSources: sources(agent === undefined ? {} : { 'x-mcp-agent': agent }),
    ...options,
  }
}

const OVERRIDES: PlanOptions = { allowedIdentities: ['prod', 'staging'] }

function call(id: number | string | null, name: string, extra: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, ...extra } }
}

function overrideCall(id: number | string, name: string, identity: unknown) {
  return call(id, name, { _meta: { [META_KEY]: identity } })
}

function argumentCall(
  id: number,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
) {
  return call(id, name, { arguments: args, ...(meta === undefined ? {} : { _meta: meta }) })
}

const request = (id: number | string, method: string) => ({ jsonrpc: '2.0', id, method })
const notification = (method: string) => ({ jsonrpc: '2.0', method })

const forward = (identity: string, removals: unknown[] = [], toolsList = new Map()) => ({
  kind: 'forward',
  identity,
  removals,
  toolsList,
})

describe('planMcpRequest: single messages and batches', () => {
  it('forwards a single request as the route identity with nothing to remove', () => {
    expect(plan(call(1, 'get_user'))).toEqual(forward('default'))
  })

  it('forwards a batch of plain requests as the route identity', () => {
    const batch = [
      call(1, 'get_user'),
      request(2, 'ping'),
      notification('notifications/initialized'),
    ]
    expect(plan(batch)).toEqual(forward('default'))
  })

  it('forwards a body of notifications only as the route identity', () => {
    expect(plan(notification('notifications/initialized'))).toEqual(forward('default'))
    expect(
      plan([notification('notifications/initialized'), notification('notifications/cancelled')]),
    ).toEqual(forward('default'))
  })
})

describe('planMcpRequest: policy', () => {
  it('allows a tool the agent named by the header may call', () => {
    expect(plan(call(1, 'get_user'), withPolicy('reader'))).toEqual(forward('default'))
  })

  it('denies a tool the agent may not call, naming tool, agent, policy and reason', () => {
    expect(plan(call(7, 'delete_user'), withPolicy('reader'))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 7,
          code: 'ERR_POLICY_DENIED',
          message:
            'tool "delete_user" is not allowed for agent "reader" by policy "ops" (tool not allowed)',
        },
      ],
    })
  })

  it('names a denied method and the deny reason', () => {
    expect(plan(request('r1', 'resources/read'), withPolicy('admin'))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 'r1',
          code: 'ERR_POLICY_DENIED',
          message:
            'method "resources/read" is not allowed for agent "admin" by policy "ops" (method denied)',
        },
      ],
    })
    expect(plan(call(2, 'delete_db'), withPolicy('admin'))).toMatchObject({
      refused: [
        {
          id: 2,
          message:
            'tool "delete_db" is not allowed for agent "admin" by policy "ops" (tool denied)',
        },
      ],
    })
  })

  it('refuses an agent the policy does not list', () => {
    expect(plan(call(3, 'get_user'), withPolicy('stranger'))).toMatchObject({
      kind: 'refuse',
      refused: [
        {
          id: 3,
          code: 'ERR_POLICY_DENIED',
          message:
            'tool "get_user" is not allowed for agent "stranger" by policy "ops" (unknown agent)',
        },
      ],
    })
  })

  it('prefers the verified claim over the header', () => {
    const asAdminByClaim = {
      policy: OPS_POLICY,
      agentSources: sources({ 'x-mcp-agent': 'reader' }, { azp: 'admin' }),
    }
    expect(plan(call(1, 'put_item'), asAdminByClaim)).toEqual(forward('default'))
    const asReaderByClaim = {
      policy: OPS_POLICY,
      agentSources: sources({ 'x-mcp-agent': 'admin' }, { azp: 'reader' }),
    }
    expect(plan(call(1, 'put_item'), asReaderByClaim)).toMatchObject({
      refused: [
        {
          message:
            'tool "put_item" is not allowed for agent "reader" by policy "ops" (tool not allowed)',
        },
      ],
    })
  })

  it('reads the header when the claims lack the claim', () => {
    const options = {
      policy: OPS_POLICY,
      agentSources: sources({ 'x-mcp-agent': 'admin' }, { sub: 'u1' }),
    }
    expect(plan(call(1, 'put_item'), options)).toEqual(forward('default'))
  })

  it('refuses with ERR_AGENT_MISSING when nothing names the agent', () => {
    expect(plan(request(4, 'tools/list'), withPolicy(undefined))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 4,
          code: 'ERR_AGENT_MISSING',
          message: '"tools/list" refused by policy "ops": the request names no agent',
        },
      ],
    })
  })

  it('uses the fallback agent when the policy allows a missing agent', () => {
    const policy = { name: 'open', rules: new McpPolicy('open', FALLBACK), config: FALLBACK }
    expect(plan(call(1, 'ping'), { policy })).toEqual(forward('default'))
    expect(plan(call(1, 'pong'), { policy })).toMatchObject({
      refused: [
        {
          message:
            'tool "pong" is not allowed for agent "guest" by policy "open" (tool not allowed)',
        },
      ],
    })
  })

  it('decides each message of a batch for its own method and tool', () => {
    const batch = [call(1, 'get_user'), call(2, 'list_users'), request(3, 'initialize')]
    expect(plan(batch, withPolicy('reader'))).toEqual(forward('default'))
  })
})

describe('planMcpRequest: identity override', () => {
  it('switches to an allowed identity named in _meta and removes the member', () => {
    expect(plan(overrideCall(1, 'get_user', 'prod'), OVERRIDES)).toEqual(
      forward('prod', [['params', '_meta', META_KEY]]),
    )
  })

  it('reads the configured _meta key only', () => {
    const override = { ...OVERRIDE, metaKey: 'aws/identity' }
    const body = call(1, 'get_user', { _meta: { 'aws/identity': 'staging', [META_KEY]: 'prod' } })
    expect(plan(body, { ...OVERRIDES, override })).toEqual(
      forward('staging', [['params', '_meta', 'aws/identity']]),
    )
  })

  it('switches to an identity named by the argument in argument mode and removes the argument', () => {
    const body = argumentCall(1, 'get_user', { bucket: 'b', aws_profile: 'staging' })
    expect(plan(body, { ...OVERRIDES, override: ARGUMENT_MODE })).toEqual(
      forward('staging', [['params', 'arguments', 'aws_profile']]),
    )
  })

  it('ignores the argument when argument mode is off', () => {
    const body = argumentCall(1, 'get_user', { aws_profile: 'staging' })
    expect(plan(body, OVERRIDES)).toEqual(forward('default'))
  })

  it('removes both members when _meta and the argument name the same identity', () => {
    const body = argumentCall(1, 'get_user', { aws_profile: 'prod' }, { [META_KEY]: 'prod' })
    expect(plan(body, { ...OVERRIDES, override: ARGUMENT_MODE })).toEqual(
      forward('prod', [
        ['params', '_meta', META_KEY],
        ['params', 'arguments', 'aws_profile'],
      ]),
    )
  })

  it('refuses a call whose _meta and argument name different identities', () => {
    const body = argumentCall(5, 'get_user', { aws_profile: 'staging' }, { [META_KEY]: 'prod' })
    expect(plan(body, { ...OVERRIDES, override: ARGUMENT_MODE })).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 5,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'the call asks for two different identities',
        },
      ],
    })
  })

  it.each([[42], [true], [null], [{ name: 'prod' }], [['prod']]])(
    'refuses a _meta override that is not a string (%j)',
    (value) => {
      expect(plan(overrideCall(6, 'get_user', value), OVERRIDES)).toEqual({
        kind: 'refuse',
        batch: false,
        refused: [
          {
            id: 6,
            code: 'ERR_IDENTITY_NOT_ALLOWED',
            message: `"_meta.${META_KEY}" must be a string`,
          },
        ],
      })
    },
  )

  it('refuses an argument override that is not a string', () => {
    const body = argumentCall(8, 'get_user', { aws_profile: 3 })
    expect(plan(body, { ...OVERRIDES, override: ARGUMENT_MODE })).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 8,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'argument "aws_profile" must be a string',
        },
      ],
    })
  })

  it('refuses an identity outside the allowlist, listing the allowed names', () => {
    expect(plan(overrideCall(9, 'get_user', 'dev'), OVERRIDES)).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 9,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'identity "dev" is not allowed on this route; allowed: prod, staging',
        },
      ],
    })
  })

  it('keeps the allowed names out of the message when listAllowedInErrors is false', () => {
    const override = { ...OVERRIDE, listAllowedInErrors: false }
    expect(plan(overrideCall(9, 'get_user', 'dev'), { ...OVERRIDES, override })).toMatchObject({
      refused: [
        {
          id: 9,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'identity "dev" is not allowed on this route',
        },
      ],
    })
  })

  it('refuses an override on a route with no allowlist', () => {
    expect(plan(overrideCall(10, 'get_user', 'prod'), withPolicy('reader'))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 10,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'identity "prod" refused: this route allows no per-call identity',
        },
      ],
    })
  })

  it('checks the policy before the override: a denied call reports the policy', () => {
    const options = { ...withPolicy('reader'), ...OVERRIDES }
    expect(plan(overrideCall(11, 'delete_user', 'dev'), options)).toMatchObject({
      refused: [{ id: 11, code: 'ERR_POLICY_DENIED' }],
    })
  })

  it('reads overrides of tools/call only', () => {
    const list = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { _meta: { [META_KEY]: 'prod' } },
    }
    expect(plan(list, OVERRIDES)).toEqual(forward('default', [], new Map([[1, undefined]])))
  })

  it('leaves the argument of a tool that owns it alone, and still reads its _meta', () => {
    const asked: string[] = []
    const options: PlanOptions = {
      ...OVERRIDES,
      override: ARGUMENT_MODE,
      toolOwnsArgument: (tool) => {
        asked.push(tool)
        return tool === 'own_tool'
      },
    }
    expect(plan(argumentCall(1, 'own_tool', { aws_profile: 'whatever' }), options)).toEqual(
      forward('default'),
    )
    const withMeta = argumentCall(
      2,
      'own_tool',
      { aws_profile: 'whatever' },
      { [META_KEY]: 'prod' },
    )
    expect(plan(withMeta, options)).toEqual(forward('prod', [['params', '_meta', META_KEY]]))
    expect(plan(argumentCall(3, 'other_tool', { aws_profile: 'staging' }), options)).toEqual(
      forward('staging', [['params', 'arguments', 'aws_profile']]),
    )
    expect(asked).toEqual(['own_tool', 'own_tool', 'other_tool'])
  })

  it('prefixes removal paths with the batch index', () => {
    const batch = [
      notification('notifications/initialized'),
      overrideCall(1, 'get_user', 'prod'),
      call(2, 'get_user', { _meta: { progressToken: 1 } }),
      argumentCall(3, 'get_bucket', { aws_profile: 'prod' }),
    ]
    // Call 2 has no override: it needs the route identity, so this batch is mixed.
    expect(plan(batch, { ...OVERRIDES, override: ARGUMENT_MODE })).toMatchObject({ kind: 'refuse' })
    const sameIdentity = [batch[0], batch[1], batch[3]]
    expect(plan(sameIdentity, { ...OVERRIDES, override: ARGUMENT_MODE })).toEqual(
      forward('prod', [
        [1, 'params', '_meta', META_KEY],
        [2, 'params', 'arguments', 'aws_profile'],
      ]),
    )
  })

  it('forwards a batch of calls that all ask for the same identity, with every removal', () => {
    const batch = [overrideCall(1, 'get_user', 'prod'), overrideCall(2, 'list_users', 'prod')]
    expect(plan(batch, OVERRIDES)).toEqual(
      forward('prod', [
        [0, 'params', '_meta', META_KEY],
        [1, 'params', '_meta', META_KEY],
      ]),
    )
  })
})

describe('planMcpRequest: tools/list ids', () => {
  it('collects the ids of tools/list requests with the agent each was decided for', () => {
    const batch = [
      request(1, 'tools/list'),
      request('a', 'tools/list'),
      request(2, 'initialize'),
      notification('tools/list'),
    ]
    expect(plan(batch, withPolicy('reader'))).toEqual(
      forward(
        'default',
        [],
        new Map<string | number, string>([
          [1, 'reader'],
          ['a', 'reader'],
        ]),
      ),
    )
  })

  it('records an undefined agent without a policy, and a null id', () => {
    expect(plan(request(5, 'tools/list'))).toEqual(
      forward('default', [], new Map([[5, undefined]])),
    )
    const nullId = { jsonrpc: '2.0', id: null, method: 'tools/list' }
    expect(plan(nullId, withPolicy('admin'))).toEqual(
      forward('default', [], new Map([[null, 'admin']])),
    )
  })
})

describe('planMcpRequest: mixed identities', () => {
  const mixed = (names: string) => ({
    code: 'ERR_MIXED_IDENTITIES',
    message:
      'not forwarded: another message of the batch was refused (cannot forward the batch: its calls need ' +
      `different identities (${names}); send them separately)`,
  })

  it('refuses a batch whose calls ask for two different identities', () => {
    const batch = [overrideCall(1, 'get_user', 'staging'), overrideCall(2, 'get_user', 'prod')]
    expect(plan(batch, OVERRIDES)).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        { id: 1, ...mixed('prod, staging') },
        { id: 2, ...mixed('prod, staging') },
      ],
    })
  })

  it('refuses a batch of one override call and one default call', () => {
    const batch = [overrideCall('x', 'get_user', 'prod'), call('y', 'get_user')]
    expect(plan(batch, OVERRIDES)).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        { id: 'x', ...mixed('default, prod') },
        { id: 'y', ...mixed('default, prod') },
      ],
    })
  })

  it('does not count notifications and client responses as needing an identity', () => {
    const batch = [
      overrideCall(1, 'get_user', 'prod'),
      notification('notifications/initialized'),
      { jsonrpc: '2.0', id: 'srv-1', result: {} },
    ]
    expect(plan(batch, OVERRIDES)).toEqual(forward('prod', [[0, 'params', '_meta', META_KEY]]))
  })
})

describe('planMcpRequest: refused batches', () => {
  it('gives every request an error: the refused one its own, the others "not forwarded"', () => {
    const batch = [
      call(1, 'get_user'),
      call(2, 'delete_user'),
      notification('notifications/initialized'),
      request(3, 'tools/list'),
    ]
    const own =
      'tool "delete_user" is not allowed for agent "reader" by policy "ops" (tool not allowed)'
    const notForwarded = `not forwarded: another message of the batch was refused (${own})`
    expect(plan(batch, withPolicy('reader'))).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        { id: 1, code: 'ERR_POLICY_DENIED', message: notForwarded },
        { id: 2, code: 'ERR_POLICY_DENIED', message: own },
        { id: 3, code: 'ERR_POLICY_DENIED', message: notForwarded },
      ],
    })
  })

  it('keeps each refused request its own error and code', () => {
    const batch = [call(1, 'get_user'), overrideCall(2, 'get_user', 'dev'), call(3, 'delete_user')]
    const result = plan(batch, { ...withPolicy('reader'), ...OVERRIDES })
    expect(result).toMatchObject({
      kind: 'refuse',
      batch: true,
      refused: [
        {
          id: 1,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: expect.stringMatching(/^not forwarded: .*identity "dev"/),
        },
        {
          id: 2,
          code: 'ERR_IDENTITY_NOT_ALLOWED',
          message: 'identity "dev" is not allowed on this route; allowed: prod, staging',
        },
        {
          id: 3,
          code: 'ERR_POLICY_DENIED',
          message: expect.stringMatching(/^tool "delete_user" is not allowed/),
        },
      ],
    })
  })

  it('answers the requests of a batch whose refused message is a notification', () => {
    const batch = [notification('notifications/initialized'), request(1, 'tools/list')]
    const own =
      'method "notifications/initialized" is not allowed for agent "quiet" by policy "ops" (method not allowed)'
    expect(plan(batch, withPolicy('quiet'))).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        {
          id: 1,
          code: 'ERR_POLICY_DENIED',
          message: `not forwarded: another message of the batch was refused (${own})`,
        },
      ],
    })
  })

  it('returns the refused notification itself when the batch has no requests', () => {
    const batch = [
      notification('notifications/initialized'),
      notification('notifications/cancelled'),
    ]
    expect(plan(batch, withPolicy(undefined))).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        {
          id: undefined,
          code: 'ERR_AGENT_MISSING',
          message:
            '"notifications/initialized" refused by policy "ops": the request names no agent',
        },
      ],
    })
  })
})

describe('planMcpRequest: notifications, client responses, invalid messages', () => {
  it('checks notifications against the policy and refuses them without an id', () => {
    expect(plan(notification('notifications/initialized'), withPolicy('reader'))).toEqual(
      forward('default'),
    )
    expect(plan(notification('notifications/initialized'), withPolicy('quiet'))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: undefined,
          code: 'ERR_POLICY_DENIED',
          message:
            'method "notifications/initialized" is not allowed for agent "quiet" by policy "ops" (method not allowed)',
        },
      ],
    })
  })

  it('forwards client responses without a policy decision, even with no agent', () => {
    const answer = { jsonrpc: '2.0', id: 'srv-1', result: { roots: [] } }
    expect(plan(answer, withPolicy(undefined))).toEqual(forward('default'))
    const failure = { jsonrpc: '2.0', id: 'srv-2', error: { code: -1, message: 'no' } }
    expect(plan([answer, failure], withPolicy('stranger'))).toEqual(forward('default'))
  })

  it('refuses an invalid message with its id and the reason', () => {
    expect(plan({ jsonrpc: '2.0', id: 4, method: 5 }, OVERRIDES)).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: 4,
          code: 'ERR_JSON_RPC_PARSE',
          message:
            'cannot check the request: it is not a valid JSON-RPC message (method is not a string)',
        },
      ],
    })
  })

  it('refuses an invalid message without a usable id with a null id', () => {
    expect(plan({ jsonrpc: '2.0', foo: 1 }, withPolicy('reader'))).toEqual({
      kind: 'refuse',
      batch: false,
      refused: [
        {
          id: null,
          code: 'ERR_JSON_RPC_PARSE',
          message:
            'cannot check the request: it is not a valid JSON-RPC message (the message has no method, result or error)',
        },
      ],
    })
  })

  it('refuses a batch with an invalid element: its requests are not forwarded', () => {
    const batch = [call(1, 'get_user'), 7]
    expect(plan(batch, withPolicy('reader'))).toEqual({
      kind: 'refuse',
      batch: true,
      refused: [
        {
          id: 1,
          code: 'ERR_JSON_RPC_PARSE',
          message:
            'not forwarded: another message of the batch was refused (cannot check the request: it is not a ' +
            'valid JSON-RPC message (the message is not an object))',
        },
      ],
    })
  })

  // Regression (fixed): in a refused batch, only messages of kind `request` get an error (refuse() filters on
  // kind === 'request'). An invalid element that has a usable id (here `{"id":2,"method":5}`, an
  // Invalid Request in JSON-RPC 2.0 terms, which must be answered with an error carrying its id)
  // is refused with id 2 by checkMessage, but its own error is dropped: the plan only contains
  // id 1's "not forwarded" entry, so the client never gets an answer for id 2.
  it('answers an invalid batch element that has an id with its own error', () => {
    const batch = [call(1, 'get_user'), { jsonrpc: '2.0', id: 2, method: 5 }]
    const result = plan(batch, withPolicy('reader'))
    expect(result.kind).toBe('refuse')
    const refused = result.kind === 'refuse' ? result.refused : []
    expect(refused.map((r) => r.id)).toEqual([1, 2])
    expect(refused[1]).toEqual({
      id: 2,
      code: 'ERR_JSON_RPC_PARSE',
      message:
        'cannot check the request: it is not a valid JSON-RPC message (method is not a string)',
    })
  })

  // Regression (fixed; argument mode on a route without an allowlist): the route has a policy but no
  // `identities`, so its tools/list responses never get the identity argument added and
  // `onArgumentConflict` never fires there — `toolOwnsArgument` stays false for every tool of the
  // route. A tool whose OWN parameter is named like the configured argument (`aws_profile`) then
  // has every call refused with ERR_IDENTITY_NOT_ALLOWED ("this route allows no per-call
  // identity"), although nothing on this route ever advertised that argument as an override.
  // Expected: the argument is the tool's and passes untouched (README: "A tool that already
  // declares a property of that name keeps its own parameter — its calls pass that argument
  // through untouched").
  it(
    'leaves a tool argument named like the override argument alone on a route with no allowlist',
    () => {
      const body = argumentCall(12, 'get_user', { aws_profile: 'my-local-profile' })
      expect(plan(body, { ...withPolicy('reader'), override: ARGUMENT_MODE })).toEqual(
        forward('default'),
      )
    },
  )
})
