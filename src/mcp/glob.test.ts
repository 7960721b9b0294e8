import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { anyGlob, compileGlob } from './glob.js'

/** The obvious (backtracking) regular-expression reading of a glob, as an oracle. */
function reference(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('[\\s\\S]*')
  return new RegExp(`^${source}$`)
}

describe('compileGlob', () => {
  it('"*" matches everything, the empty name included', () => {
    const all = compileGlob('*')
    for (const name of ['', 'a', 'get_user', 'tools/call', '*', '\n']) expect(all(name)).toBe(true)
  })

  it('matches prefixes and suffixes', () => {
    const get = compileGlob('get_*')
    expect(get('get_user')).toBe(true)
    expect(get('get_')).toBe(true)
    expect(get('xget_user')).toBe(false)
    expect(get('Get_user')).toBe(false)
    const user = compileGlob('*_user')
    expect(user('get_user')).toBe(true)
    expect(user('_user')).toBe(true)
    expect(user('get_users')).toBe(false)
  })

  it('matches pieces in order without overlapping', () => {
    const abc = compileGlob('a*b*c')
    expect(abc('abc')).toBe(true)
    expect(abc('axxbyyc')).toBe(true)
    expect(abc('acb')).toBe(false)
    expect(abc('abcx')).toBe(false)
    expect(compileGlob('ab*ba')('aba')).toBe(false)
    expect(compileGlob('ab*ba')('abba')).toBe(true)
    expect(compileGlob('a**b')('ab')).toBe(true)
  })

  it('treats regular-expression characters literally', () => {
    expect(compileGlob('a.b')('a.b')).toBe(true)
    expect(compileGlob('a.b')('axb')).toBe(false)
    expect(compileGlob('f(x)')('f(x)')).toBe(true)
    expect(compileGlob('f(x)')('fx')).toBe(false)
    expect(compileGlob('a+')('a+')).toBe(true)
    expect(compileGlob('a+')('aa')).toBe(false)
    expect(compileGlob('[ab]?')('[ab]?')).toBe(true)
    expect(compileGlob('[ab]?')('a')).toBe(false)
    expect(compileGlob('^x$|.*')('^x$|.*')).toBe(true)
    expect(compileGlob('^x$|.*')('x')).toBe(false)
  })

  it('is case-sensitive and exact without a star', () => {
    expect(compileGlob('tools/call')('tools/call')).toBe(true)
    expect(compileGlob('tools/call')('Tools/Call')).toBe(false)
    expect(compileGlob('tools/call')('tools/call ')).toBe(false)
  })

  it('the empty pattern matches only the empty name', () => {
    expect(compileGlob('')('')).toBe(true)
    expect(compileGlob('')('a')).toBe(false)
  })

  it('stays fast on patterns that make a regular expression backtrack', () => {
    const matches = compileGlob(`${'a*'.repeat(30)}b`)
    const started = performance.now()
    expect(matches('a'.repeat(10_000))).toBe(false)
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('property: agrees with the regular-expression reading', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '(', '\\'), maxLength: 8 })
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '(', '\\'), maxLength: 12 })
    fc.assert(
      fc.property(text, name, (pattern, candidate) => {
        expect(compileGlob(pattern)(candidate)).toBe(reference(pattern).test(candidate))
      }),
      { numRuns: 3000 },
    )
  })
})

describe('anyGlob', () => {
  it('matches when any pattern matches', () => {
    const matches = anyGlob(['get_*', 'list_users'])
    expect(matches('get_x')).toBe(true)
    expect(matches('list_users')).toBe(true)
    expect(matches('delete_user')).toBe(false)
  })

  it('never matches for an empty list', () => {
    expect(anyGlob([])('')).toBe(false)
    expect(anyGlob([])('x')).toBe(false)
  })
})
