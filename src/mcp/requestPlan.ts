import type { McpPolicyConfig } from '../config/index.js'
import type { SignerErrorCode } from '../errors.js'
import { resolveAgent, type AgentSources } from './agentIdentity.js'
import type { JsonRpcId } from './jsonRpcId.js'
import type { JsonRpcMessage, ParsedJsonRpc } from './jsonRpcMessage.js'
import type { McpPolicy, PolicyDecision } from './policy.js'

/** How a `tools/call` may ask for another identity. */
export interface OverrideSettings {
  /** `params._meta` key. */
  readonly metaKey: string
  /** Tool argument name (argument mode), if enabled. */
  readonly argument: string | undefined
  /** Whether a refusal lists the allowed names. */
  readonly listAllowedInErrors: boolean
}

export interface RequestPlanInput {
  readonly parsed: ParsedJsonRpc
  /** The route's own identity. */
  readonly routeIdentity: string
  /** Identities a `tools/call` may switch to on this route (route key `identities`). */
  readonly allowedIdentities: readonly string[]
  readonly override: OverrideSettings
  readonly policy: { readonly name: string; readonly rules: McpPolicy; readonly config: McpPolicyConfig } | undefined
  readonly agentSources: AgentSources
  /** Tools that declare the override argument themselves: their argument is theirs, not ours. */
  readonly toolOwnsArgument?: (tool: string) => boolean
}

/** A JSON path inside the body: object keys and (in batches) array indices. */
export type JsonPath = ReadonlyArray<string | number>

/** One refused message; `id` is undefined for notifications. */
export interface RefusedMessage {
  readonly id: JsonRpcId | undefined
  readonly code: SignerErrorCode
  readonly message: string
}

/** What to do with an MCP request body. */
export type RequestPlan =
  | {
      readonly kind: 'forward'
      /** The identity that signs: the route's, or the one the calls asked for. */
      readonly identity: string
      /** Members to remove before forwarding (the override requests). */
      readonly removals: readonly JsonPath[]
      /** Ids of `tools/list` requests, with the agent each was decided for. */
      readonly toolsList: ReadonlyMap<JsonRpcId, string | undefined>
    }
  | { readonly kind: 'refuse'; readonly batch: boolean; readonly refused: readonly RefusedMessage[] }

const TOOLS_CALL = 'tools/call'

/**
 * Decides, for a parsed JSON-RPC body, whether it may be forwarded and as whom: every request
 * and notification is checked against the route's policy (when it has one) for its agent, and
 * every `tools/call` that asks for another identity is checked against the route's allowlist.
 * One refused message refuses the whole body (a batch is forwarded whole or not at all), and a
 * batch whose requests need different identities is refused.
 */
export function planMcpRequest(input: RequestPlanInput): RequestPlan {
  const refused: RefusedMessage[] = []
  const identities = new Set<string>()
  const removals: JsonPath[] = []
  const toolsList = new Map<JsonRpcId, string | undefined>()
  input.parsed.messages.forEach((message, index) => {
    const prefix: JsonPath = input.parsed.batch ? [index] : []
    const outcome = checkMessage(input, message, prefix)
    if ('refused' in outcome) {
      refused.push(outcome.refused)
      return
    }
    if (outcome.identity !== undefined) identities.add(outcome.identity)
    removals.push(...outcome.removals)
    if (message.kind === 'request' && message.method === 'tools/list') toolsList.set(message.id, outcome.agent)
  })
  if (refused.length > 0) return refuse(input, refused)
  if (identities.size > 1) {
    return refuse(input, [
      {
        id: undefined,
        code: 'ERR_MIXED_IDENTITIES',
        message: `cannot forward the batch: its calls need different identities (${[...identities].sort().join(', ')}); send them separately`,
      },
    ])
  }
  return { kind: 'forward', identity: [...identities][0] ?? input.routeIdentity, removals, toolsList }
}

type MessageOutcome =
  | { readonly refused: RefusedMessage }
  | { readonly identity: string | undefined; readonly removals: JsonPath[]; readonly agent: string | undefined }

function checkMessage(input: RequestPlanInput, message: JsonRpcMessage, prefix: JsonPath): MessageOutcome {
  if (message.kind === 'response') return { identity: undefined, removals: [], agent: undefined }
  if (message.kind === 'invalid') {
    return {
      refused: {
        id: message.id ?? null,
        code: 'ERR_JSON_RPC_PARSE',
        message: `cannot check the request: it is not a valid JSON-RPC message (${message.reason})`,
      },
    }
  }
  const id = message.kind === 'request' ? message.id : undefined
  let agent: string | undefined
  if (input.policy !== undefined) {
    const resolved = resolveAgent(input.policy.config, input.agentSources, message)
    if (resolved === undefined) {
      return {
        refused: {
          id,
          code: 'ERR_AGENT_MISSING',
          message: `"${message.method}" refused by policy "${input.policy.name}": the request names no agent`,
        },
      }
    }
    agent = resolved.agent
    const decision = input.policy.rules.decide(agent, { method: message.method, ...toolOf(message) })
    if (!decision.allowed) return { refused: { id, code: 'ERR_POLICY_DENIED', message: denial(input.policy.name, agent, message, decision) } }
  }
  if (message.kind !== 'request') return { identity: undefined, removals: [], agent }
  const requested =
    message.method === TOOLS_CALL ? requestedIdentity(message, argumentSettings(input, message), prefix) : undefined
  if (requested === undefined) return { identity: input.routeIdentity, removals: [], agent }
  if ('conflict' in requested) {
    return { refused: { id, code: 'ERR_IDENTITY_NOT_ALLOWED', message: requested.conflict } }
  }
  if (!input.allowedIdentities.includes(requested.name)) {
    return { refused: { id, code: 'ERR_IDENTITY_NOT_ALLOWED', message: notAllowed(input, requested.name) } }
  }
  return { identity: requested.name, removals: requested.paths, agent }
}

/**
 * Argument mode applies only on routes with an allowlist (elsewhere the argument was never
 * advertised, so it belongs to the tool), and not to tools that declare that parameter themselves.
 */
function argumentSettings(input: RequestPlanInput, message: JsonRpcMessage): OverrideSettings {
  const tool = 'toolName' in message && typeof message.toolName === 'string' ? message.toolName : undefined
  if (input.override.argument === undefined) return input.override
  const toolsOwn = tool !== undefined && input.toolOwnsArgument?.(tool) === true
  if (input.allowedIdentities.length > 0 && !toolsOwn) return input.override
  return { ...input.override, argument: undefined }
}

function toolOf(message: JsonRpcMessage): { toolName?: string } {
  return 'toolName' in message && typeof message.toolName === 'string' ? { toolName: message.toolName } : {}
}

/** The identity a `tools/call` asks for, from `_meta` and (argument mode) its arguments. */
function requestedIdentity(
  message: Extract<JsonRpcMessage, { kind: 'request' }>,
  settings: OverrideSettings,
  prefix: JsonPath,
): { name: string; paths: JsonPath[] } | { conflict: string } | undefined {
  const paths: JsonPath[] = []
  const names = new Set<string>()
  const fromMeta = message.meta?.[settings.metaKey]
  if (fromMeta !== undefined) {
    paths.push([...prefix, 'params', '_meta', settings.metaKey])
    names.add(String(fromMeta))
    if (typeof fromMeta !== 'string') return { conflict: `"_meta.${settings.metaKey}" must be a string` }
  }
  const argument = settings.argument
  const fromArgument = argument !== undefined ? message.arguments?.[argument] : undefined
  if (argument !== undefined && fromArgument !== undefined) {
    paths.push([...prefix, 'params', 'arguments', argument])
    names.add(String(fromArgument))
    if (typeof fromArgument !== 'string') return { conflict: `argument "${argument}" must be a string` }
  }
  if (names.size > 1) return { conflict: 'the call asks for two different identities' }
  const name = [...names][0]
  return name === undefined ? undefined : { name, paths }
}

function notAllowed(input: RequestPlanInput, name: string): string {
  const allowed = input.allowedIdentities
  if (allowed.length === 0) return `identity "${name}" refused: this route allows no per-call identity`
  const list = input.override.listAllowedInErrors ? `; allowed: ${allowed.join(', ')}` : ''
  return `identity "${name}" is not allowed on this route${list}`
}

function denial(policy: string, agent: string, message: JsonRpcMessage & { method: string }, decision: PolicyDecision): string {
  const tool = 'toolName' in message && typeof message.toolName === 'string' ? message.toolName : undefined
  const subject = tool !== undefined && message.method === TOOLS_CALL ? `tool "${tool}"` : `method "${message.method}"`
  const reason = decision.allowed ? '' : ` (${decision.reason.replaceAll('_', ' ')})`
  return `${subject} is not allowed for agent "${agent}" by policy "${policy}"${reason}`
}

function refuse(input: RequestPlanInput, refused: RefusedMessage[]): RequestPlan {
  if (!input.parsed.batch) return { kind: 'refuse', batch: false, refused: refused.slice(0, 1) }
  // A batch is refused whole: every request gets an error, the others say why.
  const first = refused[0] as RefusedMessage
  const byId = new Map(refused.filter((r) => r.id !== undefined).map((r) => [r.id, r]))
  // Every element that carries an id gets an answer: requests and invalid messages with an id.
  const answerable = input.parsed.messages.flatMap((m) =>
    m.kind === 'request' || (m.kind === 'invalid' && m.id !== undefined) ? [{ id: m.id as JsonRpcId }] : [],
  )
  const all: RefusedMessage[] = answerable
    .map(
      (m) =>
        byId.get(m.id) ?? {
          id: m.id,
          code: first.code,
          message: `not forwarded: another message of the batch was refused (${first.message})`,
        },
    )
  return { kind: 'refuse', batch: true, refused: all.length > 0 ? all : [first] }
}
