import type { McpPolicyConfig } from '../config/index.js'
import { readClaim } from '../credentials/webIdentity/claimPath.js'

/** Where an agent's identity may come from, most trusted first. */
export interface AgentSources {
  /** Claims of the caller's verified token; absent when the token was not verified. */
  readonly claims: Readonly<Record<string, unknown>> | undefined
  /** A request header (lower-case name) as Envoy forwarded it. */
  header(name: string): string | undefined
}

/** What a message itself says (used only with `allow_self_asserted`). */
export interface SelfAssertion {
  readonly meta?: Readonly<Record<string, unknown>> | undefined
  readonly arguments?: Readonly<Record<string, unknown>> | undefined
}

export type AgentSource = 'claim' | 'header' | 'self_asserted' | 'fallback' | 'default'

/** The agent a message is attributed to, or `undefined` when none applies. */
export type AgentResolution = { readonly agent: string; readonly source: AgentSource } | undefined

/**
 * Resolves the agent for a policy decision: a claim of the verified token, then a header Envoy
 * sets, then — only with `allow_self_asserted` — the message's own `_meta` or arguments (a model
 * can write those: spoofable). With none found: nothing when `deny_on_missing_agent`, else the
 * configured fallback agent, else an agent named `default` when the policy has one.
 */
export function resolveAgent(
  policy: McpPolicyConfig,
  sources: AgentSources,
  message: SelfAssertion = {},
): AgentResolution {
  const { agent } = policy
  if (agent.claim !== undefined && sources.claims !== undefined) {
    const value = nonEmptyString(readClaim(sources.claims, agent.claim))
    if (value !== undefined) return { agent: value, source: 'claim' }
  }
  if (agent.header !== undefined) {
    const value = nonEmptyString(sources.header(agent.header)?.trim())
    if (value !== undefined) return { agent: value, source: 'header' }
  }
  if (agent.allow_self_asserted) {
    const key = agent.self_asserted_key
    const value = nonEmptyString(message.meta?.[key]) ?? nonEmptyString(message.arguments?.[key])
    if (value !== undefined) return { agent: value, source: 'self_asserted' }
  }
  if (policy.deny_on_missing_agent) return undefined
  if (policy.fallback_agent !== undefined) return { agent: policy.fallback_agent, source: 'fallback' }
  return Object.hasOwn(policy.agents, 'default') ? { agent: 'default', source: 'default' } : undefined
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
