/** The kind of a JSON token: punctuation, a string, any other scalar, or the end of the text. */
export type JsonTokenType = '{' | '}' | '[' | ']' | ':' | ',' | 'string' | 'scalar' | 'end'

/** One token of JSON text: its kind and its span `[start, end)` in UTF-16 code units. */
export interface JsonToken {
  readonly type: JsonTokenType
  readonly start: number
  readonly end: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const PUNCTUATION = new Set(['{', '}', '[', ']', ':', ','])

function isWhitespace(code: number): boolean {
  // RFC 8259 §2: the only insignificant whitespace is space, tab, LF and CR.
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

function isScalarEnd(code: number): boolean {
  // , : [ ] { } " end a scalar (true, false, null, a number) as whitespace does.
  return (
    isWhitespace(code) ||
    code === 0x2c ||
    code === 0x3a ||
    code === 0x5b ||
    code === 0x5d ||
    code === 0x7b ||
    code === 0x7d ||
    code === 0x22
  )
}

/**
 * A position-tracking JSON tokenizer. It does not check the grammar (callers run `JSON.parse`
 * first when they need valid JSON) and never recurses, so any nesting depth is safe; on
 * malformed text it still always advances and ends with an `end` token.
 */
export class JsonScanner {
  readonly #text: string
  #pos = 0

  constructor(text: string) {
    this.#text = text
  }

  /** The next token; `end` (repeatedly) once the text is consumed. */
  next(): JsonToken {
    const text = this.#text
    let i = this.#pos
    while (i < text.length && isWhitespace(text.charCodeAt(i))) i++
    if (i >= text.length) return this.#token('end', i, i)
    const char = text[i] as string
    if (PUNCTUATION.has(char)) return this.#token(char as JsonTokenType, i, i + 1)
    if (char === '"') return this.#token('string', i, this.#stringEnd(i))
    let end = i + 1
    while (end < text.length && !isScalarEnd(text.charCodeAt(end))) end++
    return this.#token('scalar', i, end)
  }

  /**
   * Skips the rest of the container whose opening bracket was the last token read and returns
   * the offset just after its closing bracket (or the text length if it never closes). A plain
   * loop over the characters: no tokens, no recursion.
   */
  skipContainer(): number {
    const text = this.#text
    let depth = 1
    let i = this.#pos
    while (i < text.length) {
      const code = text.charCodeAt(i)
      if (code === QUOTE) {
        i = this.#stringEnd(i)
        continue
      }
      i++
      if (code === 0x7b || code === 0x5b) depth++
      else if ((code === 0x7d || code === 0x5d) && --depth === 0) break
    }
    this.#pos = i
    return i
  }

  /**
   * Reads the value that starts with `first` without looking inside it and returns the offset
   * just after it.
   */
  skipValue(first: JsonToken): number {
    return first.type === '{' || first.type === '[' ? this.skipContainer() : first.end
  }

  /** The decoded value of a `string` token (escapes resolved); valid JSON text only. */
  stringValue(token: JsonToken): string {
    const raw = this.#text.slice(token.start, token.end)
    return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1)
  }

  #token(type: JsonTokenType, start: number, end: number): JsonToken {
    this.#pos = end
    return { type, start, end }
  }

  #stringEnd(open: number): number {
    const text = this.#text
    let i = open + 1
    while (i < text.length) {
      const code = text.charCodeAt(i)
      if (code === QUOTE) return i + 1
      i += code === BACKSLASH ? 2 : 1
    }
    return text.length
  }
}
