import { describe, expect, it } from 'vitest'
import { readClaim } from './claimPath.js'

describe('readClaim', () => {
  const claims = {
    sub: 'alice',
    groups: ['admins', 'dev'],
    realm_access: { roles: ['reader'], nested: { deep: 42 } },
    'https://example.com/claims': { tenant: 'acme' },
    'cognito:groups': ['ops'],
    'a.b': { c: 'dotted-then-nested' },
    a: { b: { c: 'nested' }, x: 'only-nested' },
    flag: false,
    zero: 0,
    empty: null,
  }

  it('reads top-level claims', () => {
    expect(readClaim(claims, 'sub')).toBe('alice')
    expect(readClaim(claims, 'groups')).toEqual(['admins', 'dev'])
    expect(readClaim(claims, 'cognito:groups')).toEqual(['ops'])
  })

  it('follows dotted paths into objects', () => {
    expect(readClaim(claims, 'realm_access.roles')).toEqual(['reader'])
    expect(readClaim(claims, 'realm_access.nested.deep')).toBe(42)
  })

  it('finds claims whose own names contain dots, then reads into them', () => {
    expect(readClaim(claims, 'https://example.com/claims')).toEqual({ tenant: 'acme' })
    expect(readClaim(claims, 'https://example.com/claims.tenant')).toBe('acme')
    expect(readClaim({ 'x.y.z': 1 }, 'x.y.z')).toBe(1)
  })

  it('prefers the longest claim name that matches', () => {
    expect(readClaim(claims, 'a.b.c')).toBe('dotted-then-nested')
    expect(readClaim(claims, 'a.x')).toBe('only-nested')
  })

  it('keeps falsy values (false, 0, null) apart from missing ones', () => {
    expect(readClaim(claims, 'flag')).toBe(false)
    expect(readClaim(claims, 'zero')).toBe(0)
    expect(readClaim(claims, 'empty')).toBeNull()
  })

  it('is undefined for missing paths, paths through non-objects and through arrays', () => {
    expect(readClaim(claims, 'missing')).toBeUndefined()
    expect(readClaim(claims, 'realm_access.missing')).toBeUndefined()
    expect(readClaim(claims, 'sub.length')).toBeUndefined()
    expect(readClaim(claims, 'groups.0')).toBeUndefined()
    expect(readClaim(claims, 'empty.x')).toBeUndefined()
  })

  it('never reads inherited properties', () => {
    expect(readClaim(claims, 'constructor')).toBeUndefined()
    expect(readClaim(claims, '__proto__')).toBeUndefined()
    expect(readClaim(claims, 'realm_access.toString')).toBeUndefined()
    expect(readClaim(claims, 'sub.constructor.name')).toBeUndefined()
  })
})
