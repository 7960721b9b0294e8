import type { Config } from './schema.js'
import { receiveWindowProblems } from './receiveWindows.js'

/**
 * Checks what the schema alone cannot: names that refer to other entries. Returns one message
 * per problem (empty when all references resolve).
 */
export function checkCrossReferences(config: Config): string[] {
  const problems: string[] = [...receiveWindowProblems(config.server.max_body_bytes, config.server.http2)]
  const names = new Set(Object.keys(config.identities))
  for (const [name, identity] of Object.entries(config.identities)) {
    if (identity.kind !== 'assume_role' || identity.source === undefined) continue
    if (!names.has(identity.source)) {
      problems.push(`identities.${name}.source: unknown identity "${identity.source}"`)
    } else if (config.identities[identity.source]?.kind === 'web_identity') {
      problems.push(
        `identities.${name}.source: "${identity.source}" is a web_identity (per caller) and cannot be a role-chaining source`,
      )
    }
  }
  for (const cycle of findSourceCycles(config)) {
    problems.push(`identities: assume_role sources form a cycle: ${cycle.join(' -> ')}`)
  }
  for (const [name, policy] of Object.entries(config.mcp.policies)) {
    const fallback = policy.fallback_agent
    if (fallback !== undefined && !Object.hasOwn(policy.agents, fallback)) {
      problems.push(`mcp.policies.${name}.fallback_agent: unknown agent "${fallback}"`)
    }
  }
  for (const [route, keys] of Object.entries(config.routes)) {
    if (keys.policy !== undefined && !Object.hasOwn(config.mcp.policies, keys.policy)) {
      problems.push(`routes.${route}.policy: unknown policy "${keys.policy}"`)
    }
    for (const name of (keys.identities ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '')) {
      if (!names.has(name)) problems.push(`routes.${route}.identities: unknown identity "${name}"`)
    }
    if (keys.identity !== undefined && !names.has(keys.identity)) {
      problems.push(`routes.${route}.identity: unknown identity "${keys.identity}"`)
    }
    if (keys.path !== undefined && keys.path_prefix !== undefined) {
      problems.push(`routes.${route}: give either "path" or "path_prefix", not both`)
    }
  }
  return problems
}

function findSourceCycles(config: Config): string[][] {
  const cycles: string[][] = []
  const reported = new Set<string>()
  for (const start of Object.keys(config.identities)) {
    const seen: string[] = []
    let current: string | undefined = start
    while (current !== undefined && !seen.includes(current)) {
      seen.push(current)
      const identity: Config['identities'][string] | undefined = config.identities[current]
      current = identity?.kind === 'assume_role' ? identity.source : undefined
    }
    if (current === undefined) continue
    const cycle = seen.slice(seen.indexOf(current))
    const key = [...cycle].sort().join(',')
    if (!reported.has(key)) {
      reported.add(key)
      cycles.push([...cycle, current])
    }
  }
  return cycles
}
