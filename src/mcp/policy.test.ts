import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { McpPolicy } from './policy.js'
import type { McpPolicyDefinition } from './policy.js'

const definition: McpPolicyDefinition = {
  agents: {
    reader: { allow: { tools: ['get_*', 'list_*'] } },
    admin: { allow: { tools: ['*'] }, deny: { tools: ['drop_*'] } },
    limited: { allow: { methods: ['initialize', 'notifications/*', 'tools/*'], tools: ['ping'] } },
    noTools: { deny: { methods: ['tools/call'] }, allow: { tools: ['*'] } },
    defaults: {},
    contradictory: {
      allow: { methods: ['tools/call'], tools: ['secret'] },
      deny: { methods: ['tools/*'], tools: ['secret'] },
    },
  },
}

const policy = new McpPolicy('main', definition)
const call = (toolName?: string) => ({
  method: 'tools/call',
  ...(toolName === undefined ? {} : { toolName }),
})

describe('McpPolicy', () => {
  it('keeps its name and knows its agents', () => {
    expect(policy.name).toBe('main')
    expect(policy.hasAgent('reader')).toBe(true)
    expect(policy.hasAgent('nobody')).toBe(false)
  })

  it('refuses agents it does not list, including prototype names', () => {
    for (const agent of ['nobody', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(policy.decide(agent, { method: 'ping' })).toEqual({
        allowed: false,
        reason: 'unknown_agent',
      })
      expect(policy.toolAllowed(agent, 'get_x')).toBe(false)
    }
  })

  it('allows every method by default and no tool by default', () => {
    expect(policy.decide('defaults', { method: 'initialize' })).toEqual({ allowed: true })
    expect(policy.decide('defaults', { method: 'notifications/initialized' })).toEqual({
      allowed: true,
    })
    expect(policy.decide('defaults', { method: 'tools/list' })).toEqual({ allowed: true })
    expect(policy.decide('defaults', call('anything'))).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    })
  })

  it('allows tools matching allow.tools and refuses others', () => {
    expect(policy.decide('reader', call('get_user'))).toEqual({ allowed: true })
    expect(policy.decide('reader', call('list_users'))).toEqual({ allowed: true })
    expect(policy.decide('reader', call('delete_user'))).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    })
    expect(policy.decide('reader', call('Get_user'))).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    })
  })

  it('lets deny.tools win over allow.tools', () => {
    expect(policy.decide('admin', call('anything'))).toEqual({ allowed: true })
    expect(policy.decide('admin', call('drop_table'))).toEqual({
      allowed: false,
      reason: 'tool_denied',
    })
  })

  it('refuses methods matching deny.methods before looking at tools', () => {
    expect(policy.decide('noTools', call('get_x'))).toEqual({
      allowed: false,
      reason: 'method_denied',
    })
    expect(policy.decide('noTools', call())).toEqual({ allowed: false, reason: 'method_denied' })
    expect(policy.decide('noTools', { method: 'tools/list' })).toEqual({ allowed: true })
  })

  it('refuses methods outside allow.methods, notifications and client responses alike', () => {
    expect(policy.decide('limited', { method: 'initialize' })).toEqual({ allowed: true })
    expect(policy.decide('limited', { method: 'notifications/initialized' })).toEqual({
      allowed: true,
    })
    expect(policy.decide('limited', { method: 'resources/read' })).toEqual({
      allowed: false,
      reason: 'method_not_allowed',
    })
    expect(policy.decide('limited', { method: 'ping' })).toEqual({
      allowed: false,
      reason: 'method_not_allowed',
    })
    expect(policy.decide('limited', call('ping'))).toEqual({ allowed: true })
    expect(policy.decide('limited', call('other'))).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    })
  })

  it('refuses a tools/call without a string tool name', () => {
    expect(policy.decide('admin', call())).toEqual({ allowed: false, reason: 'tool_name_missing' })
    expect(policy.decide('admin', { method: 'tools/call', toolName: undefined })).toEqual({
      allowed: false,
      reason: 'tool_name_missing',
    })
    // The empty string is a name: it is judged by the globs (`*` matches it).
    expect(policy.decide('admin', call(''))).toEqual({ allowed: true })
    expect(policy.decide('reader', call(''))).toEqual({
      allowed: false,
      reason: 'tool_not_allowed',
    })
  })

  it('ignores a tool name on other methods', () => {
    expect(policy.decide('reader', { method: 'tools/list', toolName: 'delete_user' })).toEqual({
      allowed: true,
    })
    expect(policy.decide('admin', { method: 'prompts/get', toolName: 'drop_table' })).toEqual({
      allowed: true,
    })
  })

  it('checks: method denied, name missing, tool denied, method/tool not allowed', () => {
    const ordered = new McpPolicy('ordered', {
      agents: {
        a: {
          allow: { methods: ['x'], tools: ['t'] },
          deny: { methods: ['tools/*'], tools: ['bad'] },
        },
        b: { allow: { methods: ['x'], tools: ['t'] }, deny: { tools: ['bad'] } },
        c: { allow: { methods: ['tools/call'], tools: ['t'] }, deny: { tools: ['bad'] } },
      },
    })
    expect(ordered.decide('a', call())).toEqual({ allowed: false, reason: 'method_denied' })
    expect(ordered.decide('b', call())).toEqual({ allowed: false, reason: 'tool_name_missing' })
    expect(ordered.decide('b', call('bad'))).toEqual({ allowed: false, reason: 'tool_denied' })
    expect(ordered.decide('b', call('t'))).toEqual({ allowed: false, reason: 'method_not_allowed' })
    expect(ordered.decide('c', call('u'))).toEqual({ allowed: false, reason: 'tool_not_allowed' })
    expect(ordered.decide('c', call('t'))).toEqual({ allowed: true })
    expect(policy.decide('contradictory', call('secret'))).toEqual({
      allowed: false,
      reason: 'method_denied',
    })
  })

  it('toolAllowed follows decide for tools/call (filters tools/list)', () => {
    expect(policy.toolAllowed('reader', 'get_user')).toBe(true)
    expect(policy.toolAllowed('reader', 'delete_user')).toBe(false)
    expect(policy.toolAllowed('admin', 'drop_x')).toBe(false)
    expect(policy.toolAllowed('noTools', 'get_x')).toBe(false)
    expect(policy.toolAllowed('defaults', 'x')).toBe(false)
  })

  it('treats glob characters other than * literally', () => {
    const literal = new McpPolicy('p', { agents: { a: { allow: { tools: ['a.b', 'c+'] } } } })
    expect(literal.toolAllowed('a', 'a.b')).toBe(true)
    expect(literal.toolAllowed('a', 'axb')).toBe(false)
    expect(literal.toolAllowed('a', 'cc')).toBe(false)
  })

  it('does not depend on later changes to the definition', () => {
    const agents: Record<string, { allow: { tools: string[] } }> = {
      a: { allow: { tools: ['x'] } },
    }
    const compiled = new McpPolicy('p', { agents })
    agents.a!.allow.tools.push('y')
    agents.b = { allow: { tools: ['*'] } }
    expect(compiled.toolAllowed('a', 'y')).toBe(false)
    expect(compiled.hasAgent('b')).toBe(false)
  })

  it('property: toolAllowed is decide of tools/call; deny always wins', () => {
    const globs = fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '*', '/'), maxLength: 4 }), {
      maxLength: 3,
    })
    const rules = fc.record({ tools: globs, methods: globs }, { requiredKeys: [] })
    const agent = fc.record({ allow: rules, deny: rules }, { requiredKeys: [] })
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '/'), maxLength: 5 })
    fc.assert(
      fc.property(agent, name, name, (rulesOfA, method, tool) => {
        const p = new McpPolicy('p', { agents: { a: rulesOfA } })
        expect(p.toolAllowed('a', tool)).toBe(
          p.decide('a', { method: 'tools/call', toolName: tool }).allowed,
        )
        const denyMethods = new McpPolicy('q', {
          agents: { a: { ...rulesOfA, deny: { ...rulesOfA.deny, methods: ['*'] } } },
        })
        expect(denyMethods.decide('a', { method, toolName: tool })).toEqual({
          allowed: false,
          reason: 'method_denied',
        })
      }),
      { numRuns: 500 },
    )
  })
})
