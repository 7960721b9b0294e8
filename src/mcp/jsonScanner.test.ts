import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { JsonScanner } from './jsonScanner.js'
import type { JsonToken } from './jsonScanner.js'

function tokens(text: string): Array<[string, string]> {
  const scanner = new JsonScanner(text)
  const out: Array<[string, string]> = []
  for (let token = scanner.next(); token.type !== 'end'; token = scanner.next()) {
    out.push([token.type, text.slice(token.start, token.end)])
  }
  return out
}

describe('JsonScanner', () => {
  it('splits JSON into tokens with their exact source spans', () => {
    expect(tokens(' {"a\\"b" : [1.0, -2e3,true,null], "c":"x\\\\"}\n')).toEqual([
      ['{', '{'],
      ['string', '"a\\"b"'],
      [':', ':'],
      ['[', '['],
      ['scalar', '1.0'],
      [',', ','],
      ['scalar', '-2e3'],
      [',', ','],
      ['scalar', 'true'],
      [',', ','],
      ['scalar', 'null'],
      [']', ']'],
      [',', ','],
      ['string', '"c"'],
      [':', ':'],
      ['string', '"x\\\\"'],
      ['}', '}'],
    ])
  })

  it('keeps brackets and commas inside strings in the string', () => {
    expect(tokens('"[{,:}]"')).toEqual([['string', '"[{,:}]"']])
  })

  it('returns end repeatedly once the text is consumed', () => {
    const scanner = new JsonScanner('  ')
    expect(scanner.next()).toEqual({ type: 'end', start: 2, end: 2 })
    expect(scanner.next().type).toBe('end')
  })

  it('decodes string tokens, escapes included', () => {
    const scanner = new JsonScanner('"m\\u0065thod\\n"')
    expect(scanner.stringValue(scanner.next())).toBe('method\n')
  })

  it('skips a whole container and reports the offset after it', () => {
    const text = '[[1,{"a":[2]}],"]",3]'
    const scanner = new JsonScanner(text)
    scanner.next()
    const inner = scanner.next()
    expect(scanner.skipValue(inner)).toBe(text.indexOf('],"]"') + 1)
    expect(scanner.next().type).toBe(',')
  })

  it('skips 1,000,000 nested arrays without recursion', () => {
    const depth = 1_000_000
    const scanner = new JsonScanner('['.repeat(depth) + ']'.repeat(depth))
    scanner.next()
    expect(scanner.skipContainer()).toBe(2 * depth)
  })

  it('terminates on malformed text (unterminated string, stray characters, unclosed)', () => {
    expect(tokens('"abc')).toEqual([['string', '"abc']])
    expect(tokens('"abc\\')).toEqual([['string', '"abc\\']])
    expect(tokens('@#')).toEqual([['scalar', '@#']])
    const scanner = new JsonScanner('[[1')
    scanner.next()
    expect(scanner.skipContainer()).toBe(3)
  })

  it('property: tokens of any JSON cover the text outside whitespace, in order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent)
        const scanner = new JsonScanner(text)
        let last = 0
        let token: JsonToken
        for (token = scanner.next(); token.type !== 'end'; token = scanner.next()) {
          expect(text.slice(last, token.start).trim()).toBe('')
          last = token.end
        }
        expect(text.slice(last).trim()).toBe('')
      }),
      { numRuns: 300 },
    )
  })
})
