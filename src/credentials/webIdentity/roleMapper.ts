import { celEnv, isCelError, parse, plan } from '@bufbuild/cel'
import type { RoleRuleConfig } from '../../config/index.js'
import { readClaim } from './claimPath.js'

/** The role a caller gets, with the scope-down options of the rule that chose it. */
export interface RoleChoice {
  readonly roleArn: string
  readonly sessionPolicy?: string
  readonly policyArns?: readonly string[]
  readonly durationSeconds?: number
  /** Index of the rule that matched, or `fallback`. */
  readonly rule: number | 'fallback'
}

type Matcher = (claims: Readonly<Record<string, unknown>>) => boolean

interface CompiledRule {
  readonly index: number
  readonly priority: number
  readonly matches: Matcher
  readonly choice: RoleChoice
}

/**
 * Picks a role from a caller's claims: every rule is evaluated, the matching rule with the lowest
 * `priority` wins (rules without one count as lowest precedence), ties go to the earlier rule,
 * and without a match the fallback role applies. Rules are compiled once, at construction.
 */
export class RoleMapper {
  private readonly rules: readonly CompiledRule[]

  constructor(
    rules: readonly RoleRuleConfig[],
    private readonly fallbackRoleArn: string | undefined,
    private readonly onEvaluationError: (index: number, message: string) => void = () => undefined,
  ) {
    this.rules = rules.map((rule, index) => ({
      index,
      priority: rule.priority ?? Number.POSITIVE_INFINITY,
      matches: compileMatch(rule.match, (message) => this.onEvaluationError(index, message)),
      choice: {
        roleArn: rule.role_arn,
        rule: index,
        ...(rule.session_policy !== undefined ? { sessionPolicy: rule.session_policy } : {}),
        ...(rule.policy_arns !== undefined ? { policyArns: rule.policy_arns } : {}),
        ...(rule.duration_seconds !== undefined ? { durationSeconds: rule.duration_seconds } : {}),
      },
    }))
  }

  /** The chosen role, or undefined when no rule matches and there is no fallback. */
  select(claims: Readonly<Record<string, unknown>>): RoleChoice | undefined {
    let best: CompiledRule | undefined
    for (const rule of this.rules) {
      if (best !== undefined && rule.priority >= best.priority) continue
      if (rule.matches(claims)) best = rule
    }
    if (best !== undefined) return best.choice
    return this.fallbackRoleArn !== undefined ? { roleArn: this.fallbackRoleArn, rule: 'fallback' } : undefined
  }
}

function compileMatch(match: RoleRuleConfig['match'], onError: (message: string) => void): Matcher {
  if ('claim' in match) {
    const wanted = match.values
    return (claims) => {
      const value = readClaim(claims, match.claim)
      const candidates = Array.isArray(value) ? value : [value]
      return candidates.some((candidate) => wanted.some((w) => w === candidate))
    }
  }
  const program = plan(celEnv(), parse(match.cel))
  return (claims) => {
    // `claims` is bound as a variable, never spliced into the expression text.
    const result = program({ claims: toCel(claims) })
    if (isCelError(result)) {
      onError(result.message)
      return false
    }
    return result === true
  }
}

/** JSON claims as CEL inputs: objects become maps, integers stay doubles (CEL compares both). */
function toCel(value: unknown): never {
  if (Array.isArray(value)) return value.map(toCel) as never
  if (typeof value === 'object' && value !== null) {
    return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)])) as never
  }
  return value as never
}
