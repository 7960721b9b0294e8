import type { McpPolicyConfig } from '../config/index.js'
import type { CallerContext } from '../credentials/index.js'
import { SignerError, type SignerErrorCode } from '../errors.js'
import {
  McpPolicy,
  jsonRpcErrorBody,
  parseJsonRpc,
  planMcpRequest,
  removeJsonMembers,
  summarizeJsonRpc,
  type OverrideSettings,
  type RefusedMessage,
} from '../mcp/index.js'
import { ERROR_CODE_HEADER, httpStatusOf, jsonRpcCodeOf } from './errorReply.js'
import type { ProcessingResponseMessage } from './messages.js'
import { immediateResponse } from './responses.js'
import type { StreamSigningTarget } from './streamDependencies.js'
import type { ToolsListPlan } from './toolsListResponse.js'

/** A configured policy, compiled. */
export interface CompiledPolicy {
  readonly rules: McpPolicy
  readonly config: McpPolicyConfig
}

/** What MCP-aware request handling needs from the rest of the system. */
export interface McpDependencies {
  readonly override: OverrideSettings
  policy(name: string): CompiledPolicy | undefined
  /** Verified claims of the caller for a route identity (web_identity), else undefined. */
  verifiedClaims(identity: string, caller: CallerContext): Promise<Readonly<Record<string, unknown>> | undefined>
  /** A tool of a route already declares the identity argument (argument mode leaves it alone). */
  onArgumentConflict(route: string, tool: string): void
  /** Whether a tool of a route was seen declaring the identity argument itself. */
  toolOwnsArgument(route: string, tool: string): boolean
}

/** What the body was, for metrics and logs (bounded method class, tool name). */
export interface McpSummary {
  readonly methodClass: string
  readonly tool: string | undefined
}

export type McpRequestOutcome =
  | {
      readonly kind: 'forward'
      readonly summary: McpSummary
      readonly identity: string
      /** The rewritten body, when an override had to be removed. */
      readonly body: Buffer | undefined
      /** How to rewrite the response's `tools/list` results, if at all. */
      readonly toolsList: ToolsListPlan | undefined
    }
  | {
      readonly kind: 'refuse'
      readonly summary: McpSummary
      readonly reply: ProcessingResponseMessage
      readonly code: SignerErrorCode
    }

/** True when a route needs its JSON-RPC bodies read: it has a policy or allows overrides. */
export function routeNeedsMcp(target: StreamSigningTarget): boolean {
  return target.policy !== undefined || target.allowedIdentities.length > 0
}

/**
 * Reads a JSON-RPC request body for a route with a policy or identity overrides: decides per
 * message (agent policy, override allowlist), removes override requests from the body, and plans
 * the response rewrite. Throws `ERR_JSON_RPC_PARSE` for bodies that are not JSON-RPC and
 * `ERR_POLICY_UNKNOWN` for a route naming an unconfigured policy.
 */
export async function evaluateMcpRequest(
  deps: McpDependencies,
  target: StreamSigningTarget,
  body: Buffer,
  caller: CallerContext,
): Promise<McpRequestOutcome> {
  const parsed = parseJsonRpc(body)
  const summary = summarizeJsonRpc(parsed)
  const policy = target.policy !== undefined ? deps.policy(target.policy) : undefined
  if (target.policy !== undefined && policy === undefined) {
    throw new SignerError('ERR_POLICY_UNKNOWN', `cannot apply policy "${target.policy}" of route "${target.routeName}": it is not configured`)
  }
  const claims =
    policy?.config.agent.claim !== undefined ? await deps.verifiedClaims(target.identity, caller) : undefined
  const plan = planMcpRequest({
    parsed,
    routeIdentity: target.identity,
    allowedIdentities: target.allowedIdentities,
    override: deps.override,
    policy: policy !== undefined ? { name: target.policy as string, ...policy } : undefined,
    agentSources: { claims, header: (name: string) => caller.header(name) },
    toolOwnsArgument: (tool) => deps.toolOwnsArgument(target.routeName, tool),
  })
  if (plan.kind === 'refuse') return { ...refusal(plan.batch, plan.refused), summary }
  const rewritten =
    plan.removals.length > 0 ? Buffer.from(removeJsonMembers(body.toString('utf8'), plan.removals), 'utf8') : undefined
  const argument = deps.override.argument
  const addArgument =
    argument !== undefined && target.allowedIdentities.length > 0
      ? {
          name: argument,
          values: target.allowedIdentities,
          description: `AWS identity to run this call as (default: ${target.identity})`,
        }
      : undefined
  const toolsList: ToolsListPlan | undefined =
    plan.toolsList.size > 0 && (policy !== undefined || addArgument !== undefined)
      ? {
          calls: plan.toolsList,
          ...(policy !== undefined
            ? { keepTool: (agent: string | undefined, tool: string) => agent !== undefined && policy.rules.toolAllowed(agent, tool) }
            : {}),
          ...(addArgument !== undefined ? { addArgument } : {}),
          onArgumentConflict: (tool: string) => deps.onArgumentConflict(target.routeName, tool),
        }
      : undefined
  return { kind: 'forward', summary, identity: plan.identity, body: rewritten, toolsList }
}

/**
 * The local reply for refused messages: HTTP status of the first refusal (200 for policy and
 * override refusals), a JSON-RPC error per request (an array for batches); a refused body of
 * notifications only gets 202 with no body, as MCP answers notifications.
 */
function refusal(
  batch: boolean,
  refused: readonly RefusedMessage[],
): { kind: 'refuse'; reply: ProcessingResponseMessage; code: SignerErrorCode } {
  const first = refused[0] as RefusedMessage
  const requests = refused.filter((r) => r.id !== undefined)
  const headers: Array<[string, string]> = [[ERROR_CODE_HEADER, first.code]]
  if (requests.length === 0 && first.code !== 'ERR_JSON_RPC_PARSE') {
    return { kind: 'refuse', code: first.code, reply: immediateResponse(202, headers, '', details(first.code)) }
  }
  const bodies = (requests.length > 0 ? requests : [first]).map((r) =>
    jsonRpcErrorBody(r.id ?? null, jsonRpcCodeOf(r.code), r.message, r.code),
  )
  const body = batch ? `[${bodies.join(',')}]` : (bodies[0] as string)
  return {
    kind: 'refuse',
    code: first.code,
    reply: immediateResponse(
      httpStatusOf(first.code),
      [['content-type', 'application/json'], ...headers],
      body,
      details(first.code),
    ),
  }
}

function details(code: SignerErrorCode): string {
  return `mcp_sigv4_${code.toLowerCase()}`
}
