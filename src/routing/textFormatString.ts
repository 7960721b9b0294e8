/**
 * String literals of protobuf text format: quotes, escapes and the bytes they stand for.
 *
 * Octal and hex escapes denote raw bytes (C++ `CEscape` prints every non-ASCII byte as octal,
 * so `"h\303\251llo"` is the UTF-8 of `héllo`); `\u` / `\U` denote code points written as UTF-8;
 * raw characters are taken as their UTF-8 encoding. The caller decodes the bytes when it needs
 * a string, so a `bytes` field elsewhere in the text never fails the whole parse.
 */

import { excerpt } from './excerpt.js'
import { textFormatError } from './textFormatError.js'

const SIMPLE_ESCAPES: ReadonlyMap<string, number> = new Map([
  ['a', 0x07], ['b', 0x08], ['f', 0x0c], ['n', 0x0a], ['r', 0x0d], ['t', 0x09], ['v', 0x0b],
  ['\\', 0x5c], ["'", 0x27], ['"', 0x22], ['?', 0x3f],
])

const encoder = new TextEncoder()

/** One scanned string literal: its bytes and the offset just after its closing quote. */
export interface ScannedString {
  readonly bytes: number[]
  readonly end: number
}

/**
 * Scans the string literal whose opening quote (`'` or `"`) is at `start`.
 * Like the C++ tokenizer, a literal may not span lines.
 */
export function scanStringLiteral(text: string, start: number): ScannedString {
  const quote = text[start]
  const bytes: number[] = []
  let runStart = start + 1
  let i = runStart
  for (;;) {
    if (i >= text.length) throw textFormatError(start, 'unterminated string literal')
    const ch = text[i]
    if (ch === quote || ch === '\\') {
      appendAll(bytes, encoder.encode(text.slice(runStart, i)))
      if (ch === quote) return { bytes, end: i + 1 }
      i = scanEscape(text, i, bytes)
      runStart = i
    } else if (ch === '\n') {
      throw textFormatError(i, 'expected closing quote before end of line in string literal')
    } else {
      i++
    }
  }
}

/** Appends `src` to `dst` without spreading (a spread of a huge array overflows the stack). */
function appendAll(dst: number[], src: ArrayLike<number>): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i] as number)
}

/** Decodes the escape whose backslash is at `at` into `bytes`; returns the offset after it. */
function scanEscape(text: string, at: number, bytes: number[]): number {
  const c = text[at + 1]
  if (c === undefined) throw textFormatError(at, 'unterminated string literal')
  const simple = SIMPLE_ESCAPES.get(c)
  if (simple !== undefined) {
    bytes.push(simple)
    return at + 2
  }
  if (c >= '0' && c <= '7') return scanOctal(text, at, bytes)
  if (c === 'x' || c === 'X') return scanHex(text, at, bytes)
  if (c === 'u') return scanUnicode(text, at, 4, bytes)
  if (c === 'U') return scanUnicode(text, at, 8, bytes)
  throw textFormatError(
    at,
    `expected one of abfnrtv\\'"? or an octal, \\x, \\u or \\U escape after backslash, ` +
      `found "${excerpt(c, 1)}"`,
  )
}

/** `\N`, `\NN`, `\NNN`: one byte, so at most `\377`. */
function scanOctal(text: string, at: number, bytes: number[]): number {
  let end = at + 1
  while (end < at + 4 && isOctalDigit(text[end])) end++
  const value = Number.parseInt(text.slice(at + 1, end), 8)
  if (value > 0xff) throw textFormatError(at, 'expected an octal escape of at most \\377')
  bytes.push(value)
  return end
}

/** `\xH` or `\xHH`: one byte. */
function scanHex(text: string, at: number, bytes: number[]): number {
  let end = at + 2
  while (end < at + 4 && isHexDigit(text[end])) end++
  if (end === at + 2) throw textFormatError(at, 'expected a hex digit after \\x')
  bytes.push(Number.parseInt(text.slice(at + 2, end), 16))
  return end
}

/** `\uXXXX` (a surrogate pair as two escapes) or `\UXXXXXXXX`: one code point as UTF-8. */
function scanUnicode(text: string, at: number, digits: number, bytes: number[]): number {
  let end = at + 2 + digits
  let cp = readHex(text, at + 2, digits)
  if (cp === undefined) {
    throw textFormatError(at, `expected ${digits} hex digits after \\${text[at + 1]}`)
  }
  if (cp >= 0xd800 && cp <= 0xdbff && text.startsWith('\\u', end)) {
    const low = readHex(text, end + 2, 4)
    if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
      end += 6
    }
  }
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    throw textFormatError(at, 'expected a Unicode scalar value (no lone surrogate, <= 10FFFF)')
  }
  appendAll(bytes, encoder.encode(String.fromCodePoint(cp)))
  return end
}

function readHex(text: string, from: number, digits: number): number | undefined {
  for (let i = from; i < from + digits; i++) if (!isHexDigit(text[i])) return undefined
  return Number.parseInt(text.slice(from, from + digits), 16)
}

function isOctalDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '7'
}

function isHexDigit(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c)
}
