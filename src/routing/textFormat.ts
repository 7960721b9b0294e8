/**
 * A parser for protobuf text format (what C++ `ShortDebugString()` / `DebugString()` print)
 * that needs no schema: it yields a generic tree of named fields, scalars and messages.
 *
 * Accepted syntax: `name: scalar`, `name { ... }` / `name < ... >` (optional `:` before the
 * message), `name: [a, b]` / `name [ {..}, {..} ]` lists (one field per element, as protobuf
 * treats repeated fields), `[ext.name]` and `[type.googleapis.com/pkg.Msg]` field names, `,`
 * or `;` after any field, `#` comments, adjacent string literals concatenated, and a `-` before
 * numbers and `inf` / `infinity` / `nan`.
 *
 * The parser is iterative (an explicit stack), so hostile nesting cannot exhaust the call
 * stack, and it enforces an input size cap and a nesting depth cap.
 */

import type { SignerError } from '../errors.js'
import { excerpt } from './excerpt.js'
import { textFormatError } from './textFormatError.js'
import { specialFloat, Tokenizer, type Token } from './textFormatTokenizer.js'

/** A string literal: raw bytes, decoded by whoever knows the field is a `string`. */
export interface TextString {
  readonly kind: 'string'
  readonly offset: number
  readonly bytes: Uint8Array
}

/** A number literal, already signed and converted. */
export interface TextNumber {
  readonly kind: 'number'
  readonly offset: number
  readonly value: number
  /** True for float syntax (`.`, exponent, `f` suffix, `inf`, `nan`). */
  readonly isFloat: boolean
}

/** A bare identifier: an enum value, `true` / `false`, `inf`, `nan`. */
export interface TextIdentifier {
  readonly kind: 'identifier'
  readonly offset: number
  readonly text: string
}

/** A scalar value. */
export type TextScalar = TextString | TextNumber | TextIdentifier

/** A message: its fields in source order (repeated fields appear once per element). */
export interface TextMessage {
  readonly kind: 'message'
  readonly offset: number
  readonly fields: TextField[]
}

/** One field occurrence. */
export interface TextField {
  /** The field name; for `[...]` names, the text between the brackets. */
  readonly name: string
  /** True for a bracketed extension or `Any` type URL name. */
  readonly isExtension: boolean
  readonly offset: number
  readonly value: TextScalar | TextMessage
}

/** Bounds on the work of one parse. */
export interface TextFormatLimits {
  /** Largest accepted input, in UTF-8 bytes. Default 256 KiB. */
  readonly maxBytes?: number
  /** Deepest accepted message nesting, the top level being 1. Default 100, clamped to 1000. */
  readonly maxDepth?: number
}

/** Default input cap: 256 KiB. */
export const DEFAULT_MAX_TEXT_BYTES = 256 * 1024
/** Default depth cap: protobuf's own default recursion limit. */
export const DEFAULT_MAX_TEXT_DEPTH = 100
/** Hard ceiling on `maxDepth`: consumers of the tree may recurse once per level. */
export const HARD_MAX_TEXT_DEPTH = 1000

interface MessageFrame {
  readonly kind: 'message'
  readonly node: TextMessage
  /** The closing symbol, or `undefined` for the top level (closed by the end of input). */
  readonly close: '}' | '>' | undefined
}

interface ListFrame {
  readonly kind: 'list'
  readonly parent: TextMessage
  readonly name: FieldName
  /** `first`: after `[`; `element`: after `,`; `after`: after an element. */
  state: 'first' | 'element' | 'after'
}

interface FieldName {
  readonly name: string
  readonly isExtension: boolean
  readonly offset: number
}

/**
 * Parses `text` into its top-level message.
 * Throws `SignerError('ERR_ROUTE_METADATA_INVALID')` on any syntax error or exceeded limit.
 */
export function parseTextFormat(text: string, limits: TextFormatLimits = {}): TextMessage {
  const maxBytes = finiteOr(limits.maxBytes, DEFAULT_MAX_TEXT_BYTES)
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > maxBytes) {
    throw textFormatError(0, `expected at most ${maxBytes} bytes of input, found ${bytes}`)
  }
  const maxDepth = Math.min(finiteOr(limits.maxDepth, DEFAULT_MAX_TEXT_DEPTH), HARD_MAX_TEXT_DEPTH)
  return new Parser(text, maxDepth).parse()
}

/** `value` when it is a finite number (a NaN limit would disable the check), else `fallback`. */
function finiteOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) ? value : fallback
}

class Parser {
  private readonly tokens: Tokenizer
  private readonly stack: Array<MessageFrame | ListFrame> = []
  private depth = 0

  constructor(text: string, private readonly maxDepth: number) {
    this.tokens = new Tokenizer(text)
  }

  parse(): TextMessage {
    const root: TextMessage = { kind: 'message', offset: 0, fields: [] }
    this.depth = 1
    this.stack.push({ kind: 'message', node: root, close: undefined })
    for (;;) {
      const top = this.stack[this.stack.length - 1] as MessageFrame | ListFrame
      if (top.kind === 'list') {
        this.stepList(top)
      } else if (this.stepMessage(top)) {
        return root
      }
    }
  }

  /** Handles one field or the end of a message; returns true when the top level is done. */
  private stepMessage(frame: MessageFrame): boolean {
    const token = this.tokens.peek()
    if (token.type === 'end') {
      if (frame.close === undefined) return true
      const opened = frame.node.offset
      throw unexpected(token, `"${frame.close}" to close the message opened at offset ${opened}`)
    }
    if (frame.close !== undefined && this.tokens.trySymbol(frame.close)) {
      this.closeValue()
      return false
    }
    const name = this.readFieldName(frame.close)
    const hasColon = this.tokens.trySymbol(':')
    const next = this.tokens.peek()
    if (isSymbol(next, '{') || isSymbol(next, '<')) {
      this.openMessage(frame.node, name)
    } else if (this.tokens.trySymbol('[')) {
      this.stack.push({ kind: 'list', parent: frame.node, name, state: 'first' })
    } else if (hasColon) {
      addField(frame.node, name, this.readScalar())
      this.skipSeparator()
    } else {
      throw unexpected(next, `":" or "{" after field name "${excerpt(name.name)}"`)
    }
    return false
  }

  /** Handles one list element, a `,` or the closing `]`. */
  private stepList(frame: ListFrame): void {
    if (frame.state !== 'element' && this.tokens.trySymbol(']')) {
      this.stack.pop()
      this.skipSeparator()
      return
    }
    if (frame.state === 'after') {
      if (!this.tokens.trySymbol(',')) throw unexpected(this.tokens.peek(), '"," or "]" in list')
      frame.state = 'element'
      return
    }
    const next = this.tokens.peek()
    frame.state = 'after'
    if (isSymbol(next, '{') || isSymbol(next, '<')) {
      this.openMessage(frame.parent, frame.name)
    } else {
      addField(frame.parent, frame.name, this.readScalar())
    }
  }

  private openMessage(parent: TextMessage, name: FieldName): void {
    const open = this.tokens.next()
    if (this.depth >= this.maxDepth) {
      throw textFormatError(open.offset, `expected nesting of at most ${this.maxDepth} messages`)
    }
    const node: TextMessage = { kind: 'message', offset: open.offset, fields: [] }
    addField(parent, name, node)
    this.depth++
    this.stack.push({ kind: 'message', node, close: open.text === '{' ? '}' : '>' })
  }

  /** Pops a closed message; what follows depends on whether it sat in a list. */
  private closeValue(): void {
    this.stack.pop()
    this.depth--
    const top = this.stack[this.stack.length - 1]
    if (top?.kind === 'message') this.skipSeparator()
  }

  private skipSeparator(): void {
    if (!this.tokens.trySymbol(',')) this.tokens.trySymbol(';')
  }

  private readFieldName(close: string | undefined): FieldName {
    const token = this.tokens.next()
    if (token.type === 'identifier') {
      return { name: token.text, isExtension: false, offset: token.offset }
    }
    if (!isSymbol(token, '[')) {
      throw unexpected(token, close === undefined ? 'field name' : `field name or "${close}"`)
    }
    return { name: this.readBracketedName(), isExtension: true, offset: token.offset }
  }

  /**
   * The inside of `[pkg.ext]` or `[type.googleapis.com/pkg.Msg]`, up to `]`. Type URL
   * prefixes are domain names, so `-` and digit labels are accepted too.
   */
  private readBracketedName(): string {
    let name = ''
    for (;;) {
      const part = this.tokens.next()
      if (isSymbol(part, ']')) {
        if (/[A-Za-z_]/.test(name)) return name
        throw unexpected(part, 'a name inside brackets')
      }
      const isNameSymbol = part.type === 'symbol' && NAME_PART_SYMBOLS.has(part.text)
      if (!NAME_PART_TYPES.has(part.type) && !isNameSymbol) {
        throw unexpected(part, 'name or "]" in bracketed field name')
      }
      name += part.text
    }
  }

  private readScalar(): TextScalar {
    const token = this.tokens.next()
    if (token.type === 'string') return this.readStrings(token)
    if (token.type === 'integer' || token.type === 'float') return numberOf(token, 1)
    if (token.type === 'identifier') {
      return { kind: 'identifier', offset: token.offset, text: token.text }
    }
    if (!isSymbol(token, '-')) throw unexpected(token, 'value')
    const operand = this.tokens.next()
    if (operand.type === 'integer' || operand.type === 'float') return numberOf(operand, -1, token)
    const special = operand.type === 'identifier' ? specialFloat(operand.text) : undefined
    if (special !== undefined) {
      return { kind: 'number', offset: token.offset, value: -special, isFloat: true }
    }
    throw unexpected(operand, 'number after "-"')
  }

  /** Concatenates adjacent string literals, as C++ does. */
  private readStrings(first: Token): TextString {
    const bytes = first.bytes as number[]
    while (this.tokens.peek().type === 'string') {
      const more = this.tokens.next().bytes as number[]
      for (const b of more) bytes.push(b)
    }
    return { kind: 'string', offset: first.offset, bytes: Uint8Array.from(bytes) }
  }
}

const NAME_PART_TYPES: ReadonlySet<string> = new Set(['identifier', 'integer', 'float'])
const NAME_PART_SYMBOLS: ReadonlySet<string> = new Set(['.', '/', '-'])

function numberOf(token: Token, sign: 1 | -1, minus?: Token): TextNumber {
  const value = sign * (token.value as number)
  return { kind: 'number', offset: (minus ?? token).offset, value, isFloat: token.type === 'float' }
}

function addField(parent: TextMessage, name: FieldName, value: TextScalar | TextMessage): void {
  parent.fields.push({ name: name.name, isExtension: name.isExtension, offset: name.offset, value })
}

function isSymbol(token: Token, symbol: string): boolean {
  return token.type === 'symbol' && token.text === symbol
}

function unexpected(token: Token, expected: string): SignerError {
  return textFormatError(token.offset, `expected ${expected}, found ${describe(token)}`)
}

function describe(token: Token): string {
  if (token.type === 'end') return 'end of input'
  if (token.type === 'string') return 'a string literal'
  return `"${excerpt(token.text, 16)}"`
}
