import { describe, expect, it } from 'vitest'
import type { McpPolicyConfig } from '../config/index.js'
import { resolveAgent } from './agentIdentity.js'

type PolicyOverrides = Partial<Omit<McpPolicyConfig, 'agent'>> & { agent?: Partial<McpPolicyConfig['agent']> }

function policy(overrides: PolicyOverrides = {}): McpPolicyConfig {
  return {
    deny_on_missing_agent: true,
    agents: { reader: {}, default: {} },
    ...overrides,
    agent: { allow_self_asserted: false, self_asserted_key: 'agent_id', ...overrides.agent },
  }
}

const headers = (values: Record<string, string>) => (name: string) => values[name]

describe('resolveAgent', () => {
  it('prefers a verified claim over a header and the message', () => {
    const p = policy({ agent: { claim: 'azp', header: 'x-agent', allow_self_asserted: true } })
    expect(resolveAgent(p, { claims: { azp: 'from-claim' }, header: headers({ 'x-agent': 'from-header' }) }, { meta: { agent_id: 'from-meta' } })).toEqual({ agent: 'from-claim', source: 'claim' })
  })

  it('reads a dotted claim path', () => {
    const p = policy({ agent: { claim: 'client.id' } })
    expect(resolveAgent(p, { claims: { client: { id: 'nested' } }, header: headers({}) })).toEqual({ agent: 'nested', source: 'claim' })
  })

  it('falls back to the header when there are no verified claims', () => {
    const p = policy({ agent: { claim: 'azp', header: 'x-agent' } })
    expect(resolveAgent(p, { claims: undefined, header: headers({ 'x-agent': ' reader ' }) })).toEqual({ agent: 'reader', source: 'header' })
  })

  it('ignores self-asserted agents unless allowed, then reads _meta before arguments', () => {
    const message = { meta: { agent_id: 'meta-agent' }, arguments: { agent_id: 'arg-agent' } }
    expect(resolveAgent(policy(), { claims: undefined, header: headers({}) }, message)).toBeUndefined()
    const p = policy({ agent: { allow_self_asserted: true } })
    expect(resolveAgent(p, { claims: undefined, header: headers({}) }, message)).toEqual({ agent: 'meta-agent', source: 'self_asserted' })
    expect(resolveAgent(p, { claims: undefined, header: headers({}) }, { arguments: { agent_id: 'arg-agent' } })).toEqual({ agent: 'arg-agent', source: 'self_asserted' })
  })

  it('denies a missing agent by default, else uses the fallback, then an agent named default', () => {
    const none = { claims: undefined, header: headers({}) }
    expect(resolveAgent(policy(), none)).toBeUndefined()
    expect(resolveAgent(policy({ deny_on_missing_agent: false, fallback_agent: 'reader' }), none)).toEqual({ agent: 'reader', source: 'fallback' })
    expect(resolveAgent(policy({ deny_on_missing_agent: false }), none)).toEqual({ agent: 'default', source: 'default' })
    expect(resolveAgent(policy({ deny_on_missing_agent: false, agents: { reader: {} } }), none)).toBeUndefined()
  })

  it('treats empty and non-string values as missing', () => {
    const p = policy({ agent: { claim: 'azp', header: 'x-agent' }, deny_on_missing_agent: false, fallback_agent: 'reader' })
    expect(resolveAgent(p, { claims: { azp: 42 }, header: headers({ 'x-agent': '  ' }) })).toEqual({ agent: 'reader', source: 'fallback' })
  })
})
