import { describe, expect, it } from 'vitest'
import { parseQuery } from './parseQuery.js'

describe('parseQuery', () => {
  it.each<[string, Record<string, string | string[]>]>([
    ['', {}],
    ['a=1', { a: '1' }],
    ['a=1&b=2', { a: '1', b: '2' }],
    ['a=1&b=2&a=3&a=4', { a: ['1', '3', '4'], b: '2' }],
    ['flag', { flag: '' }],
    ['flag=', { flag: '' }],
    ['flag&flag=x', { flag: ['', 'x'] }],
    ['=v', { '': 'v' }],
    ['a=b=c', { a: 'b=c' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['&', {}],
  ])('splits %j into pairs', (raw, expected) => {
    expect(parseQuery(raw)).toEqual(expected)
  })

  it.each<[string, Record<string, string>]>([
    ['q=x+y', { q: 'x y' }],
    ['a+b=c+d', { 'a b': 'c d' }],
    ['q=x%2By', { q: 'x+y' }],
    ['q=x%20y', { q: 'x y' }],
    ['a%20b=c%20d', { 'a b': 'c d' }],
    ['k=%E1%88%B4', { k: 'ሴ' }],
    ['%E1%88%B4=bar', { 'ሴ': 'bar' }],
    ['k=ሴ', { k: 'ሴ' }],
    ['k=%3a%2F', { k: ':/' }],
    ['k=%26%3D', { k: '&=' }],
  ])('decodes %j', (raw, expected) => {
    expect(parseQuery(raw)).toEqual(expected)
  })

  it.each<[string, Record<string, string>]>([
    ['k=100%', { k: '100%' }],
    ['k=%zz', { k: '%zz' }],
    ['k=%4', { k: '%4' }],
    ['k=%E1%88', { k: '%E1%88' }],
    ['k=%FF', { k: '%FF' }],
    ['k=%41%FF%42', { k: 'A%FFB' }],
    ['k=%FF%E1%88%B4', { k: '%FFሴ' }],
    ['k=%C3%A9%C3', { k: 'é%C3' }],
    ['k=%%41', { k: '%A' }],
    ['k=100%+sure', { k: '100% sure' }],
  ])('keeps malformed escapes in %j as raw text', (raw, expected) => {
    expect(parseQuery(raw)).toEqual(expected)
  })

  it('keeps key order of first appearance', () => {
    expect(Object.keys(parseQuery('z=1&a=2&m=3&a=4'))).toEqual(['z', 'a', 'm'])
  })

  it('treats __proto__ as an ordinary key', () => {
    const query = parseQuery('__proto__=x&constructor=y')
    expect(Object.getPrototypeOf(query)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(query, '__proto__')?.value).toBe('x')
    expect(Object.getOwnPropertyDescriptor(query, 'constructor')?.value).toBe('y')
  })
})
