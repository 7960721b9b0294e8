/**
 * The tokenizer of protobuf text format, modelled on the C++ `io::Tokenizer` rules.
 *
 * Whitespace (space, tab, CR, LF, VT, FF) and `#` comments may appear between any two tokens.
 * Tokens: identifiers, integers (decimal, `0x` hex, leading-`0` octal), floats (`1.`, `.5`,
 * exponents, an `f` suffix), string literals, and one-character symbols. A minus sign is a
 * symbol of its own; the parser joins it to the number that follows.
 */

import { excerpt } from './excerpt.js'
import { textFormatError } from './textFormatError.js'
import { scanStringLiteral } from './textFormatString.js'

/** Kinds of token. `end` marks the end of the input. */
export type TokenType = 'identifier' | 'integer' | 'float' | 'string' | 'symbol' | 'end'

/** One token with its offset (UTF-16 code units) in the text. */
export interface Token {
  readonly type: TokenType
  /** Source text of identifiers, numbers and symbols; `''` for strings and the end. */
  readonly text: string
  readonly offset: number
  /** The bytes of a string literal. */
  readonly bytes?: number[]
  /** The value of a number. */
  readonly value?: number
}

const SPECIAL_FLOATS: ReadonlyMap<string, number> = new Map([
  ['inf', Infinity],
  ['infinity', Infinity],
  ['nan', NaN],
])

/** The value of the float identifiers `inf`, `infinity`, `nan` (any case), else `undefined`. */
export function specialFloat(identifier: string): number | undefined {
  return SPECIAL_FLOATS.get(identifier.toLowerCase())
}

const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '.', '/'])
const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f'])

/** Pull tokenizer over one text, with one token of look-ahead. */
export class Tokenizer {
  private pos = 0
  private peeked: Token | undefined

  constructor(private readonly text: string) {}

  /** The next token, without consuming it. */
  peek(): Token {
    this.peeked ??= this.read()
    return this.peeked
  }

  /** Consumes and returns the next token. */
  next(): Token {
    const token = this.peek()
    this.peeked = undefined
    return token
  }

  /** Consumes the next token when it is the symbol `symbol`. */
  trySymbol(symbol: string): boolean {
    const token = this.peek()
    if (token.type !== 'symbol' || token.text !== symbol) return false
    this.peeked = undefined
    return true
  }

  private read(): Token {
    this.skipTrivia()
    const start = this.pos
    const c = this.text[start]
    if (c === undefined) return { type: 'end', text: '', offset: start }
    if (isIdentifierStart(c)) return this.readIdentifier(start)
    if (isDigit(c) || (c === '.' && isDigit(this.text[start + 1]))) return this.readNumber(start)
    if (c === '"' || c === "'") {
      const scanned = scanStringLiteral(this.text, start)
      this.pos = scanned.end
      return { type: 'string', text: '', offset: start, bytes: scanned.bytes }
    }
    if (SYMBOLS.has(c)) {
      this.pos = start + 1
      return { type: 'symbol', text: c, offset: start }
    }
    throw textFormatError(start, `unexpected character "${excerpt(c, 1)}"`)
  }

  private skipTrivia(): void {
    const text = this.text
    while (this.pos < text.length) {
      const c = text[this.pos] as string
      if (WHITESPACE.has(c)) {
        this.pos++
      } else if (c === '#') {
        const eol = text.indexOf('\n', this.pos)
        this.pos = eol < 0 ? text.length : eol + 1
      } else {
        return
      }
    }
  }

  private readIdentifier(start: number): Token {
    let end = start + 1
    while (end < this.text.length && isIdentifierPart(this.text[end])) end++
    this.pos = end
    return { type: 'identifier', text: this.text.slice(start, end), offset: start }
  }

  private readNumber(start: number): Token {
    const text = this.text
    const second = text[start + 1]
    let token: Token
    if (text[start] === '0' && (second === 'x' || second === 'X')) {
      const end = this.skipWhile(start + 2, isHexDigit)
      if (end === start + 2) throw textFormatError(start, 'expected hex digits after 0x')
      token = integer(text, start, end, Number.parseInt(text.slice(start + 2, end), 16))
    } else if (text[start] === '0' && isDigit(second)) {
      const end = this.skipWhile(start + 1, isDigit)
      const digits = text.slice(start + 1, end)
      if (/[89]/.test(digits)) throw textFormatError(start, 'expected octal digits after 0')
      token = integer(text, start, end, Number.parseInt(digits, 8))
    } else {
      token = this.readDecimal(start)
    }
    this.pos = start + token.text.length
    if (isIdentifierPart(text[this.pos])) {
      throw textFormatError(this.pos, 'expected whitespace or punctuation after number')
    }
    return token
  }

  /** Decimal integer or float: `digits [. digits] [e [+-] digits] [f]`. */
  private readDecimal(start: number): Token {
    const text = this.text
    let end = this.skipWhile(start, isDigit)
    let isFloat = false
    if (text[end] === '.') {
      isFloat = true
      end = this.skipWhile(end + 1, isDigit)
    }
    if (text[end] === 'e' || text[end] === 'E') {
      isFloat = true
      let digitsStart = end + 1
      if (text[digitsStart] === '+' || text[digitsStart] === '-') digitsStart++
      end = this.skipWhile(digitsStart, isDigit)
      if (end === digitsStart) throw textFormatError(end, 'expected exponent digits in number')
    }
    const body = text.slice(start, end)
    if (text[end] === 'f' || text[end] === 'F') {
      return { type: 'float', text: text.slice(start, end + 1), offset: start, value: Number(body) }
    }
    return { type: isFloat ? 'float' : 'integer', text: body, offset: start, value: Number(body) }
  }

  private skipWhile(from: number, test: (c: string | undefined) => boolean): number {
    let end = from
    while (end < this.text.length && test(this.text[end])) end++
    return end
  }
}

function integer(text: string, start: number, end: number, value: number): Token {
  return { type: 'integer', text: text.slice(start, end), offset: start, value }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9'
}

function isHexDigit(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c)
}

function isIdentifierStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_'
}

function isIdentifierPart(c: string | undefined): boolean {
  return c !== undefined && (isIdentifierStart(c) || isDigit(c))
}
