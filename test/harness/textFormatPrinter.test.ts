import { describe, expect, it } from 'vitest'
import { printMetadataShortDebugString, quote, simpleDtoa } from './textFormatPrinter.js'

describe('printMetadataShortDebugString', () => {
  it('prints a Metadata the way C++ ShortDebugString does', () => {
    const metadata = { filter_metadata: { mcp_sigv4: { host: 'aws-mcp.us-east-1.api.aws' } } }
    expect(printMetadataShortDebugString(metadata)).toBe(
      'filter_metadata { key: "mcp_sigv4" value { fields { key: "host" value ' +
        '{ string_value: "aws-mcp.us-east-1.api.aws" } } } }',
    )
  })

  it('sorts map entries by key and prints every Value kind', () => {
    const metadata = {
      filter_metadata: {
        zz: {},
        a: { n: 1.5, b: false, z: null, l: [1, 'x', []], o: { k: true }, e: '' },
      },
    }
    expect(printMetadataShortDebugString(metadata)).toBe(
      'filter_metadata { key: "a" value { ' +
        'fields { key: "b" value { bool_value: false } } ' +
        'fields { key: "e" value { string_value: "" } } ' +
        'fields { key: "l" value { list_value { values { number_value: 1 } ' +
        'values { string_value: "x" } values { list_value { } } } } } ' +
        'fields { key: "n" value { number_value: 1.5 } } ' +
        'fields { key: "o" value { struct_value { ' +
        'fields { key: "k" value { bool_value: true } } } } } ' +
        'fields { key: "z" value { null_value: NULL_VALUE } } } } ' +
        'filter_metadata { key: "zz" value { } }',
    )
  })

  it('sorts keys by UTF-8 bytes like std::string, not by UTF-16 units', () => {
    const text = printMetadataShortDebugString(
      { filter_metadata: { n: { '\u{1F600}': 1, '\uFF5E': 2 } } },
      { utf8Safe: true },
    )
    expect(text.indexOf('\uFF5E')).toBeLessThan(text.indexOf('\u{1F600}'))
  })

  it('prints an empty Metadata as an empty string', () => {
    expect(printMetadataShortDebugString({ filter_metadata: {} })).toBe('')
  })

  it('inserts random whitespace between tokens only when jitter is given', () => {
    let i = 0
    const rng = (): number => [0.1, 0.2, 0.9][i++ % 3] as number
    const metadata = { filter_metadata: { a: { k: 'v' } } }
    const plain = printMetadataShortDebugString(metadata)
    const jittered = printMetadataShortDebugString(metadata, { jitter: rng })
    expect(jittered).not.toBe(plain)
    expect(jittered.length).toBeGreaterThan(plain.length)
    expect(jittered.replace(/\s/g, '')).toBe(plain.replace(/\s/g, ''))
  })
})

describe('quote', () => {
  it('escapes like CEscape: named escapes, other control and non-ASCII bytes in octal', () => {
    expect(quote('h\u00e9llo\n\r\t"\'\\\u0001\u007f~ ')).toBe(
      String.raw`"h\303\251llo\n\r\t\"\'\\\001\177~ "`,
    )
    expect(quote('\u{1F600}')).toBe(String.raw`"\360\237\230\200"`)
  })

  it('keeps non-ASCII raw like Utf8SafeCEscape with utf8Safe', () => {
    expect(quote('h\u00e9llo\u{1F600}\u0000\u007f', { utf8Safe: true })).toBe(
      String.raw`"héllo😀\000\177"`,
    )
  })
})

describe('simpleDtoa', () => {
  it.each([
    [0, '0'], [-0, '-0'], [1, '1'], [-2, '-2'], [1.5, '1.5'], [0.1, '0.1'], [100000, '100000'],
    [1e14, '100000000000000'], [1e15, '1e+15'], [1e30, '1e+30'], [1e-4, '0.0001'],
    [1e-5, '1e-05'], [1 / 3, '0.33333333333333331'], [2 ** 53, '9007199254740992'],
    [123456789.123, '123456789.123'], [5e-324, '4.94065645841247e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'], [Infinity, 'inf'],
    [-Infinity, '-inf'], [NaN, 'nan'],
  ])('prints %d as %s', (value, text) => {
    expect(simpleDtoa(value)).toBe(text)
  })
})
