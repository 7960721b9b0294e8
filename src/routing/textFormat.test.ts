import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { parseTextFormat, type TextMessage, type TextScalar } from './textFormat.js'

/** A compact view of a tree: fields as [name, value] pairs, strings decoded. */
function view(message: TextMessage): unknown[] {
  return message.fields.map((f) => [f.isExtension ? `[${f.name}]` : f.name, viewValue(f.value)])
}

function viewValue(value: TextScalar | TextMessage): unknown {
  switch (value.kind) {
    case 'message':
      return view(value)
    case 'string':
      return new TextDecoder().decode(value.bytes)
    case 'number':
      return value.value
    case 'identifier':
      return `#${value.text}`
  }
}

function errorOf(text: string, limits = {}): string {
  try {
    parseTextFormat(text, limits)
  } catch (err) {
    expect(isSignerError(err, 'ERR_ROUTE_METADATA_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected a parse error')
}

describe('parseTextFormat structure', () => {
  it('parses the ShortDebugString of a Metadata message', () => {
    const text =
      'filter_metadata { key: "mcp_sigv4" value { fields { key: "host" value ' +
      '{ string_value: "aws-mcp.us-east-1.api.aws" } } } }'
    expect(view(parseTextFormat(text))).toEqual([
      ['filter_metadata', [
        ['key', 'mcp_sigv4'],
        ['value', [
          ['fields', [['key', 'host'], ['value', [['string_value', 'aws-mcp.us-east-1.api.aws']]]]],
        ]],
      ]],
    ])
  })

  it('accepts any whitespace between tokens, and none where C++ prints none', () => {
    const tight = 'a{b:1 c:"x"}'
    const loose = '  a \n\t{\r\n b\f:\v 1\n\n  c  :   "x"  }  \n'
    expect(view(parseTextFormat(loose))).toEqual(view(parseTextFormat(tight)))
    expect(view(parseTextFormat(tight))).toEqual([['a', [['b', 1], ['c', 'x']]]])
  })

  it('skips # comments up to the end of the line', () => {
    const text = '# leading\na: 1 # trailing { not a brace\nb: 2#end'
    expect(view(parseTextFormat(text))).toEqual([['a', 1], ['b', 2]])
  })

  it('accepts { } and < > messages, an optional colon, and , or ; separators', () => {
    const text = 'a: { x: 1 }, b < y: 2; >; c: < >, d {}'
    expect(view(parseTextFormat(text))).toEqual([
      ['a', [['x', 1]]],
      ['b', [['y', 2]]],
      ['c', []],
      ['d', []],
    ])
  })

  it('expands list syntax into one field per element', () => {
    const text = 'n: [1, -2, 3.5] m [ { k: 1 }, < k: 2 > ] e: [] s: ["a", \'b\']'
    expect(view(parseTextFormat(text))).toEqual([
      ['n', 1], ['n', -2], ['n', 3.5],
      ['m', [['k', 1]]], ['m', [['k', 2]]],
      ['s', 'a'], ['s', 'b'],
    ])
  })

  it('reads extension and Any type-URL names in brackets', () => {
    const text =
      'typed_filter_metadata { key: "x" value { [type.googleapis.com/foo.v3.Bar] { n: 1 } } } ' +
      '[pkg.ext]: 5 [ type.my-corp.example/a.v2.B ] < > [x.123.y/z] {}'
    expect(view(parseTextFormat(text))).toEqual([
      ['typed_filter_metadata', [
        ['key', 'x'],
        ['value', [['[type.googleapis.com/foo.v3.Bar]', [['n', 1]]]]],
      ]],
      ['[pkg.ext]', 5],
      ['[type.my-corp.example/a.v2.B]', []],
      ['[x.123.y/z]', []],
    ])
  })

  it('concatenates adjacent string literals of either quote style', () => {
    expect(view(parseTextFormat('s: "ab" \'cd\' # c\n "ef"'))).toEqual([['s', 'abcdef']])
  })

  it('keeps identifiers and enum names as identifiers', () => {
    const text = 'a: NULL_VALUE b: true c: True d: t e: f g: inf h: nan'
    expect(view(parseTextFormat(text))).toEqual([
      ['a', '#NULL_VALUE'], ['b', '#true'], ['c', '#True'], ['d', '#t'],
      ['e', '#f'], ['g', '#inf'], ['h', '#nan'],
    ])
  })

  it('returns an empty message for empty or comment-only text', () => {
    expect(parseTextFormat('').fields).toEqual([])
    expect(parseTextFormat('  # nothing\n').fields).toEqual([])
  })
})

describe('parseTextFormat numbers', () => {
  const cases: Array<[string, number]> = [
    ['0', 0], ['42', 42], ['-7', -7], ['- 7', -7], ['-0', -0], ['1.5', 1.5], ['-1.5', -1.5],
    ['1.', 1], ['.5', 0.5], ['1e30', 1e30], ['1e+30', 1e30], ['1E-5', 1e-5], ['2.5e3', 2500],
    ['0x1F', 31], ['0X10', 16], ['-0x10', -16], ['017', 15], ['1.5f', 1.5], ['2F', 2],
    ['-inf', -Infinity], ['-Infinity', -Infinity], ['9007199254740993', 9007199254740992],
  ]
  it.each(cases)('reads %s as %d', (literal, expected) => {
    const value = parseTextFormat(`n: ${literal}`).fields[0]?.value
    expect(value?.kind).toBe('number')
    expect(Object.is((value as { value: number }).value, expected)).toBe(true)
  })

  it('reads -nan as NaN and marks float syntax', () => {
    const [a, b, c] = parseTextFormat('a: -nan b: 1.0 c: 1').fields.map((f) => f.value)
    expect(a).toMatchObject({ kind: 'number', isFloat: true })
    expect(Number.isNaN((a as { value: number }).value)).toBe(true)
    expect(b).toMatchObject({ kind: 'number', value: 1, isFloat: true })
    expect(c).toMatchObject({ kind: 'number', value: 1, isFloat: false })
  })

  it.each([
    ['n: 1abc', 'expected whitespace or punctuation after number at offset 4'],
    ['n: 0x', 'expected hex digits after 0x at offset 3'],
    ['n: 09', 'expected octal digits after 0 at offset 3'],
    ['n: 1e', 'expected exponent digits in number at offset 5'],
    ['n: -x', 'expected number after "-", found "x" at offset 4'],
    ['n: -"s"', 'expected number after "-", found a string literal at offset 4'],
  ])('rejects %j', (text, message) => {
    expect(errorOf(text)).toBe(`cannot parse route metadata text: ${message}`)
  })
})

describe('parseTextFormat errors', () => {
  it.each([
    [
      'a { b: 1',
      'expected "}" to close the message opened at offset 2, found end of input at offset 8',
    ],
    ['a < b: 1 }', 'expected field name or ">", found "}" at offset 9'],
    ['a: 1 }', 'expected field name, found "}" at offset 5'],
    ['a: 1 b', 'expected ":" or "{" after field name "b", found end of input at offset 6'],
    ['"s": 1', 'expected field name, found a string literal at offset 0'],
    ['12: 1', 'expected field name, found "12" at offset 0'],
    ['a 1', 'expected ":" or "{" after field name "a", found "1" at offset 2'],
    ['a: }', 'expected value, found "}" at offset 3'],
    ['a: [1 2]', 'expected "," or "]" in list, found "2" at offset 6'],
    ['a: [1,]', 'expected value, found "]" at offset 6'],
    ['a: [[1]]', 'expected value, found "[" at offset 4'],
    ['a: [1', 'expected "," or "]" in list, found end of input at offset 5'],
    ['[a.b {] {}', 'expected name or "]" in bracketed field name, found "{" at offset 5'],
    ['[1] {}', 'expected a name inside brackets, found "]" at offset 2'],
    ['[] {}', 'expected a name inside brackets, found "]" at offset 1'],
    ['[a.b', 'expected name or "]" in bracketed field name, found end of input at offset 4'],
    ['a: 1 @', 'unexpected character "@" at offset 5'],
    ['a: "é" \u00a0', 'unexpected character "?" at offset 7'],
    ['a: "abc', 'unterminated string literal at offset 3'],
    ["a: 'abc\"", 'unterminated string literal at offset 3'],
    ['a: "ab\ncd"', 'expected closing quote before end of line in string literal at offset 6'],
  ])('rejects %j', (text, message) => {
    expect(errorOf(text)).toBe(`cannot parse route metadata text: ${message}`)
  })

  it('never echoes more than a short sanitized excerpt of the input', () => {
    const secret = `${'s'.repeat(500)}`
    expect(errorOf(`a: 1 ${secret} 2`)).toBe(
      `cannot parse route metadata text: expected ":" or "{" after field name ` +
        `"${'s'.repeat(32)}...", found "2" at offset 506`,
    )
    expect(errorOf(`a: 1 ${secret}\u0007`)).toBe(
      'cannot parse route metadata text: unexpected character "?" at offset 505',
    )
  })
})

describe('parseTextFormat limits', () => {
  it('rejects input over the byte cap, counting UTF-8 bytes', () => {
    expect(errorOf('a: "ééé"', { maxBytes: 9 })).toBe(
      'cannot parse route metadata text: expected at most 9 bytes of input, found 11 at offset 0',
    )
    expect(parseTextFormat('a: "ééé"', { maxBytes: 11 }).fields).toHaveLength(1)
  })

  it('applies a 256 KiB cap by default', () => {
    const big = `a: "${'x'.repeat(256 * 1024)}"`
    expect(errorOf(big)).toMatch(/at most 262144 bytes of input, found 262149 at offset 0$/)
  })

  it('accepts nesting up to the depth cap and rejects one level more', () => {
    const nested = (levels: number): string => 'a { '.repeat(levels) + '} '.repeat(levels)
    expect(parseTextFormat(nested(3), { maxDepth: 4 }).fields).toHaveLength(1)
    expect(errorOf(nested(4), { maxDepth: 4 })).toBe(
      'cannot parse route metadata text: expected nesting of at most 4 messages at offset 14',
    )
    expect(parseTextFormat(nested(99)).fields).toHaveLength(1)
    expect(errorOf(nested(100))).toMatch(/expected nesting of at most 100 messages at offset 398$/)
  })

  it('falls back to the defaults for non-finite limits', () => {
    const nested = 'a { '.repeat(100) + '} '.repeat(100)
    expect(errorOf(nested, { maxDepth: NaN })).toMatch(/at most 100 messages/)
    const big = `a: "${'x'.repeat(300_000)}"`
    expect(errorOf(big, { maxBytes: NaN })).toMatch(/at most 262144 bytes/)
  })

  it('counts messages inside lists toward the depth', () => {
    expect(errorOf('a [ { b [ { c { } } ] } ]', { maxDepth: 3 })).toMatch(
      /expected nesting of at most 3 messages at offset 14$/,
    )
  })
})
