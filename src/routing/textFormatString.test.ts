import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { scanStringLiteral } from './textFormatString.js'

function bytesOf(literal: string): number[] {
  const scanned = scanStringLiteral(literal, 0)
  expect(scanned.end).toBe(literal.length)
  return scanned.bytes
}

function textOf(literal: string): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytesOf(literal)))
}

function errorOf(literal: string): string {
  try {
    scanStringLiteral(literal, 0)
  } catch (err) {
    expect(isSignerError(err, 'ERR_ROUTE_METADATA_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected an error')
}

describe('scanStringLiteral', () => {
  it('decodes every simple escape', () => {
    expect(bytesOf(String.raw`"\a\b\f\n\r\t\v\\\'\"\?"`)).toEqual([
      0x07, 0x08, 0x0c, 0x0a, 0x0d, 0x09, 0x0b, 0x5c, 0x27, 0x22, 0x3f,
    ])
  })

  it('reads octal escapes of 1 to 3 digits as bytes', () => {
    expect(bytesOf(String.raw`"\0\12\101\1234\377"`)).toEqual([0, 0o12, 0x41, 0o123, 0x34, 0xff])
  })

  it('reads hex escapes of 1 or 2 digits as bytes', () => {
    expect(bytesOf(String.raw`"\x7\x41\xfFf\X4a"`)).toEqual([0x07, 0x41, 0xff, 0x66, 0x4a])
  })

  it('decodes C++ CEscape octal UTF-8 into text', () => {
    expect(textOf(String.raw`"h\303\251llo"`)).toBe('héllo')
    expect(textOf(String.raw`"\360\237\230\200"`)).toBe('😀')
  })

  it('writes \\u and \\U code points as UTF-8, joining surrogate pairs', () => {
    expect(textOf(String.raw`"\u00e9\u20AC\U0001F600\ud83d\ude00"`)).toBe('é€😀😀')
  })

  it('passes raw UTF-8 through, including astral characters', () => {
    expect(textOf('"héllo 😀 中文"')).toBe('héllo 😀 中文')
  })

  it('accepts single quotes, with the other quote unescaped inside', () => {
    expect(textOf(`'say "hi"'`)).toBe('say "hi"')
    expect(textOf(`"it's"`)).toBe("it's")
  })

  it('stops at the closing quote', () => {
    expect(scanStringLiteral('x "ab" tail', 2)).toEqual({ bytes: [0x61, 0x62], end: 6 })
  })

  it.each([
    ['"abc', 'unterminated string literal at offset 0'],
    ['"abc\\', 'unterminated string literal at offset 4'],
    ['"a\nb"', 'expected closing quote before end of line in string literal at offset 2'],
    [
      '"\\q"',
      `expected one of abfnrtv\\'"? or an octal, \\x, \\u or \\U escape after backslash, ` +
        'found "q" at offset 1',
    ],
    ['"\\400"', 'expected an octal escape of at most \\377 at offset 1'],
    ['"\\xg"', 'expected a hex digit after \\x at offset 1'],
    ['"\\u12"', 'expected 4 hex digits after \\u at offset 1'],
    ['"\\U0011000"', 'expected 8 hex digits after \\U at offset 1'],
    ['"\\U00110000"', 'expected a Unicode scalar value (no lone surrogate, <= 10FFFF) at offset 1'],
    ['"\\ud800x"', 'expected a Unicode scalar value (no lone surrogate, <= 10FFFF) at offset 1'],
    ['"\\udc00"', 'expected a Unicode scalar value (no lone surrogate, <= 10FFFF) at offset 1'],
  ])('rejects %j', (literal, message) => {
    expect(errorOf(literal)).toBe(`cannot parse route metadata text: ${message}`)
  })
})
