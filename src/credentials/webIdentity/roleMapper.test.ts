import { describe, expect, it } from 'vitest'
import { loadConfig, type RoleRuleConfig, type WebIdentityConfig } from '../../config/index.js'
import { RoleMapper } from './roleMapper.js'

const ROLE = (name: string) => `arn:aws:iam::123456789012:role/${name}`

function rule(name: string, match: RoleRuleConfig['match'], extra: Partial<RoleRuleConfig> = {}): RoleRuleConfig {
  return { role_arn: ROLE(name), match, ...extra }
}

/** The web_identity config `caller` from YAML, through the real loader and schema. */
function identityFrom(yaml: string): WebIdentityConfig {
  const { config } = loadConfig({ text: `identities:\n  caller:\n    kind: web_identity\n${yaml}` })
  const identity = config.identities.caller
  if (identity?.kind !== 'web_identity') throw new Error('expected a web_identity')
  return identity
}

describe('RoleMapper: claim rules', () => {
  it('matches a string claim equal to one of the values', () => {
    const mapper = new RoleMapper([rule('eng', { claim: 'dept', values: ['eng', 'research'] })], undefined)
    expect(mapper.select({ dept: 'research' })).toEqual({ roleArn: ROLE('eng'), rule: 0 })
    expect(mapper.select({ dept: 'sales' })).toBeUndefined()
    expect(mapper.select({})).toBeUndefined()
  })

  it('matches a list claim that contains one of the values', () => {
    const mapper = new RoleMapper([rule('admins', { claim: 'groups', values: ['admins'] })], undefined)
    expect(mapper.select({ groups: ['dev', 'admins'] })?.roleArn).toBe(ROLE('admins'))
    expect(mapper.select({ groups: ['dev'] })).toBeUndefined()
    expect(mapper.select({ groups: [] })).toBeUndefined()
    // A list inside the list is not flattened.
    expect(mapper.select({ groups: [['admins']] })).toBeUndefined()
  })

  it('compares numbers and booleans strictly (no string coercion)', () => {
    const mapper = new RoleMapper(
      [rule('level', { claim: 'level', values: [3] }), rule('flag', { claim: 'admin', values: [true] })],
      undefined,
    )
    expect(mapper.select({ level: 3 })?.roleArn).toBe(ROLE('level'))
    expect(mapper.select({ level: '3' })).toBeUndefined()
    expect(mapper.select({ level: [1, 3] })?.roleArn).toBe(ROLE('level'))
    expect(mapper.select({ admin: true })?.roleArn).toBe(ROLE('flag'))
    expect(mapper.select({ admin: 'true' })).toBeUndefined()
    expect(mapper.select({ admin: 1 })).toBeUndefined()
  })

  it('reads dotted paths and claims whose names contain dots', () => {
    const mapper = new RoleMapper(
      [
        rule('realm', { claim: 'realm_access.roles', values: ['mcp-admin'] }),
        rule('tenant', { claim: 'https://example.com/tenant', values: ['acme'] }),
      ],
      undefined,
    )
    expect(mapper.select({ realm_access: { roles: ['mcp-admin'] } })?.roleArn).toBe(ROLE('realm'))
    expect(mapper.select({ 'https://example.com/tenant': 'acme' })?.roleArn).toBe(ROLE('tenant'))
    expect(mapper.select({ realm_access: { roles: ['viewer'] } })).toBeUndefined()
  })
})

describe('RoleMapper: CEL rules', () => {
  it('evaluates membership and string functions over `claims`', () => {
    const errors: Array<[number, string]> = []
    const mapper = new RoleMapper(
      [
        rule('admins', { cel: '"admins" in claims.groups' }, { priority: 1 }),
        rule('staff', { cel: 'claims.email.endsWith("@example.com")' }, { priority: 2 }),
      ],
      undefined,
      (index, message) => errors.push([index, message]),
    )
    expect(mapper.select({ groups: ['admins'], email: 'a@example.com' })?.roleArn).toBe(ROLE('admins'))
    expect(mapper.select({ groups: ['dev'], email: 'b@example.com' })?.roleArn).toBe(ROLE('staff'))
    expect(mapper.select({ groups: ['dev'], email: 'c@example.org' })).toBeUndefined()
    expect(errors).toEqual([])
  })

  it('reads nested claims, numbers and booleans', () => {
    const mapper = new RoleMapper(
      [
        rule('nested', { cel: 'claims.org.name == "acme" && claims.level >= 3' }),
        rule('flag', { cel: 'claims.admin == true' }),
      ],
      undefined,
    )
    expect(mapper.select({ org: { name: 'acme' }, level: 3 })?.rule).toBe(0)
    expect(mapper.select({ org: { name: 'acme' }, level: 2 })).toBeUndefined()
    expect(mapper.select({ admin: true })?.rule).toBe(1)
  })

  it('does not match when evaluation fails on a missing claim, and reports the error', () => {
    const errors: Array<[number, string]> = []
    const mapper = new RoleMapper(
      [
        rule('staff', { cel: 'claims.email.endsWith("@example.com")' }),
        rule('admins', { cel: '"admins" in claims.groups' }),
      ],
      ROLE('fallback'),
      (index, message) => errors.push([index, message]),
    )
    expect(mapper.select({ groups: ['admins'] })).toEqual({ roleArn: ROLE('admins'), rule: 1 })
    expect(errors).toHaveLength(1)
    expect(errors[0]?.[0]).toBe(0)
    expect(errors[0]?.[1]).toMatch(/email/)
    expect(mapper.select({})).toEqual({ roleArn: ROLE('fallback'), rule: 'fallback' })
    expect(errors.map(([index]) => index)).toEqual([0, 0, 1])
  })

  it('treats a non-boolean result as no match, without an error', () => {
    const errors: unknown[] = []
    const mapper = new RoleMapper([rule('x', { cel: 'claims.sub' })], undefined, (...args) => errors.push(args))
    expect(mapper.select({ sub: 'true' })).toBeUndefined()
    expect(errors).toEqual([])
  })

  it('binds claims as data: a claim that looks like CEL is never evaluated', () => {
    const mapper = new RoleMapper([rule('x', { cel: 'claims.sub == "alice"' })], undefined)
    expect(mapper.select({ sub: '" || true || "' })).toBeUndefined()
    expect(mapper.select({ sub: 'alice' })?.roleArn).toBe(ROLE('x'))
  })
})

describe('RoleMapper: choosing among matching rules', () => {
  const groups = (...g: string[]) => ({ groups: g })

  it('the lowest priority wins whatever the rule order', () => {
    const mapper = new RoleMapper(
      [
        rule('p10', { claim: 'groups', values: ['a'] }, { priority: 10 }),
        rule('p2', { claim: 'groups', values: ['b'] }, { priority: 2 }),
        rule('p5', { claim: 'groups', values: ['c'] }, { priority: 5 }),
      ],
      undefined,
    )
    expect(mapper.select(groups('a', 'b', 'c'))).toEqual({ roleArn: ROLE('p2'), rule: 1 })
    expect(mapper.select(groups('a', 'c'))).toEqual({ roleArn: ROLE('p5'), rule: 2 })
    expect(mapper.select(groups('a'))).toEqual({ roleArn: ROLE('p10'), rule: 0 })
  })

  it('priority 0 beats everything', () => {
    const mapper = new RoleMapper(
      [rule('one', { claim: 'g', values: [1] }, { priority: 1 }), rule('zero', { claim: 'g', values: [1] }, { priority: 0 })],
      undefined,
    )
    expect(mapper.select({ g: 1 })?.roleArn).toBe(ROLE('zero'))
  })

  it('ties go to the earlier rule', () => {
    const mapper = new RoleMapper(
      [
        rule('first', { claim: 'groups', values: ['a'] }, { priority: 3 }),
        rule('second', { claim: 'groups', values: ['a'] }, { priority: 3 }),
      ],
      undefined,
    )
    expect(mapper.select(groups('a'))).toEqual({ roleArn: ROLE('first'), rule: 0 })
    const unset = new RoleMapper(
      [rule('first', { claim: 'groups', values: ['a'] }), rule('second', { claim: 'groups', values: ['a'] })],
      undefined,
    )
    expect(unset.select(groups('a'))?.roleArn).toBe(ROLE('first'))
  })

  it('a rule without priority loses to any rule with one, even a later one', () => {
    const mapper = new RoleMapper(
      [
        rule('unset', { claim: 'groups', values: ['a'] }),
        rule('late', { claim: 'groups', values: ['a'] }, { priority: 1_000_000 }),
      ],
      undefined,
    )
    expect(mapper.select(groups('a'))).toEqual({ roleArn: ROLE('late'), rule: 1 })
    expect(mapper.select(groups('b'))).toBeUndefined()
  })

  // Regression: an unset priority used to count as Number.MAX_SAFE_INTEGER, which the schema also
  // accepts explicitly; the tie then went to the earlier, unprioritized rule.
  it('a rule without priority loses even to an explicit priority of Number.MAX_SAFE_INTEGER', () => {
    const identity = identityFrom(`    roles:
      - role_arn: ${ROLE('unset')}
        match: { claim: groups, values: [a] }
      - role_arn: ${ROLE('max')}
        priority: ${Number.MAX_SAFE_INTEGER}
        match: { claim: groups, values: [a] }
`)
    expect(identity.roles[1]?.priority).toBe(Number.MAX_SAFE_INTEGER)
    const mapper = new RoleMapper(identity.roles, undefined)
    expect(mapper.select(groups('a'))?.roleArn).toBe(ROLE('max'))
  })

  it('a rule that cannot win is not evaluated (no error report for it)', () => {
    const errors: number[] = []
    const mapper = new RoleMapper(
      [
        rule('winner', { claim: 'groups', values: ['a'] }, { priority: 1 }),
        rule('broken', { cel: 'claims.missing == 1' }, { priority: 2 }),
      ],
      undefined,
      (index) => errors.push(index),
    )
    expect(mapper.select(groups('a'))?.roleArn).toBe(ROLE('winner'))
    expect(errors).toEqual([])
    expect(mapper.select(groups('b'))).toBeUndefined()
    expect(errors).toEqual([1])
  })

  it('uses the fallback only when no rule matches; undefined without a fallback', () => {
    const rules = [rule('admins', { claim: 'groups', values: ['admins'] })]
    const withFallback = new RoleMapper(rules, ROLE('readonly'))
    expect(withFallback.select(groups('admins'))).toEqual({ roleArn: ROLE('admins'), rule: 0 })
    expect(withFallback.select(groups('dev'))).toEqual({ roleArn: ROLE('readonly'), rule: 'fallback' })
    expect(new RoleMapper([], ROLE('readonly')).select({})).toEqual({ roleArn: ROLE('readonly'), rule: 'fallback' })
    expect(new RoleMapper(rules, undefined).select(groups('dev'))).toBeUndefined()
  })
})

describe('RoleMapper: rules from the configuration', () => {
  const policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'

  it('carries the scope-down options of the rule that chose the role', () => {
    const identity = identityFrom(`    roles:
      - role_arn: ${ROLE('admins')}
        priority: 1
        match: { claim: groups, values: [admins] }
        session_policy: '${policy}'
        policy_arns: [arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::123456789012:policy/mcp]
        duration_seconds: 900
      - role_arn: ${ROLE('dev')}
        match: { cel: '"dev" in claims.groups' }
    fallback_role_arn: ${ROLE('readonly')}
`)
    const mapper = new RoleMapper(identity.roles, identity.fallback_role_arn)
    expect(mapper.select({ groups: ['dev', 'admins'] })).toEqual({
      roleArn: ROLE('admins'),
      rule: 0,
      sessionPolicy: policy,
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::123456789012:policy/mcp'],
      durationSeconds: 900,
    })
    const dev = mapper.select({ groups: ['dev'] })
    expect(dev).toEqual({ roleArn: ROLE('dev'), rule: 1 })
    expect(dev).not.toHaveProperty('sessionPolicy')
    expect(dev).not.toHaveProperty('policyArns')
    expect(dev).not.toHaveProperty('durationSeconds')
    expect(mapper.select({ groups: [] })).toEqual({ roleArn: ROLE('readonly'), rule: 'fallback' })
  })
})
