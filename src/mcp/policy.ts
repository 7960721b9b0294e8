import { anyGlob } from './glob.js'
import type { GlobMatcher } from './glob.js'

/** Glob lists (`*` = any run of characters) of tool names and JSON-RPC methods. */
export interface McpPolicyRules {
  readonly tools?: readonly string[]
  readonly methods?: readonly string[]
}

/** One agent's rules. */
export interface McpAgentRules {
  readonly allow?: McpPolicyRules
  readonly deny?: McpPolicyRules
}

/** The part of a policy's configuration this class reads (validated by the config layer). */
export interface McpPolicyDefinition {
  readonly agents: Readonly<Record<string, McpAgentRules>>
}

/** Why a message was refused. */
export type PolicyDenialReason =
  | 'unknown_agent'
  | 'method_denied'
  | 'method_not_allowed'
  | 'tool_denied'
  | 'tool_not_allowed'
  | 'tool_name_missing'

/** The outcome of {@link McpPolicy.decide}. */
export type PolicyDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: PolicyDenialReason }

/** What the policy looks at in a message. */
export interface PolicyCall {
  readonly method: string
  /** `params.name` of a `tools/call`, when it is a string. */
  readonly toolName?: string | undefined
}

interface CompiledAgent {
  readonly allowMethod: GlobMatcher
  readonly allowTool: GlobMatcher
  readonly denyMethod: GlobMatcher
  readonly denyTool: GlobMatcher
}

const TOOLS_CALL = 'tools/call'
const ALLOWED: PolicyDecision = { allowed: true }

/**
 * A named MCP access policy: per agent, glob lists of allowed and denied methods and tools.
 *
 * Semantics, in the order {@link McpPolicy.decide} checks them:
 * 1. An agent the policy does not list is refused (`unknown_agent`).
 * 2. Deny wins: a message whose method matches `deny.methods` is refused (`method_denied`).
 * 3. A `tools/call` without a string tool name is refused (`tool_name_missing`).
 * 4. A `tools/call` whose tool matches `deny.tools` is refused (`tool_denied`).
 * 5. A message whose method does not match `allow.methods` is refused (`method_not_allowed`);
 *    `allow.methods` defaults to `['*']`: every method.
 * 6. A `tools/call` whose tool does not match `allow.tools` is refused (`tool_not_allowed`);
 *    `allow.tools` defaults to `[]`: no tool (list `['*']` for all).
 * 7. Everything else is allowed. `deny.*` lists default to `[]`.
 *
 * The policy does not look at the message kind: requests, notifications from the client (such
 * as `notifications/initialized`) and anything else the caller decides are judged by the
 * `method` passed in, so an `allow.methods` list must name the notifications a client sends.
 * Globs are case-sensitive.
 */
export class McpPolicy {
  /** The policy's name (for messages and metrics). */
  readonly name: string
  readonly #agents: ReadonlyMap<string, CompiledAgent>

  constructor(name: string, definition: McpPolicyDefinition) {
    this.name = name
    // A Map of own entries: an agent named `constructor` or `__proto__` is just a name.
    this.#agents = new Map(
      Object.entries(definition.agents).map(([agent, rules]) => [agent, compileAgent(rules)]),
    )
  }

  /** True when the policy lists `agent`. */
  hasAgent(agent: string): boolean {
    return this.#agents.has(agent)
  }

  /** Decides one message for `agent` (the rules in the class description). */
  decide(agent: string, call: PolicyCall): PolicyDecision {
    const rules = this.#agents.get(agent)
    if (rules === undefined) return denied('unknown_agent')
    if (rules.denyMethod(call.method)) return denied('method_denied')
    const isToolCall = call.method === TOOLS_CALL
    const tool = call.toolName
    if (isToolCall && typeof tool !== 'string') return denied('tool_name_missing')
    if (isToolCall && rules.denyTool(tool as string)) return denied('tool_denied')
    if (!rules.allowMethod(call.method)) return denied('method_not_allowed')
    if (isToolCall && !rules.allowTool(tool as string)) return denied('tool_not_allowed')
    return ALLOWED
  }

  /**
   * True when `agent` may call the tool: exactly when `decide` allows a `tools/call` of it
   * (so `tools/call` itself must be allowed too). Used to filter `tools/list` results.
   */
  toolAllowed(agent: string, toolName: string): boolean {
    return this.decide(agent, { method: TOOLS_CALL, toolName }).allowed
  }
}

function compileAgent(rules: McpAgentRules): CompiledAgent {
  return {
    allowMethod: anyGlob(rules.allow?.methods ?? ['*']),
    allowTool: anyGlob(rules.allow?.tools ?? []),
    denyMethod: anyGlob(rules.deny?.methods ?? []),
    denyTool: anyGlob(rules.deny?.tools ?? []),
  }
}

function denied(reason: PolicyDenialReason): PolicyDecision {
  return { allowed: false, reason }
}
