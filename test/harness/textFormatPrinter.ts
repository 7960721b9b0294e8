/**
 * Test harness: prints an `envoy.config.core.v3.Metadata` the way C++ protobuf
 * `ShortDebugString()` does, i.e. the text Envoy puts in the `xds.route_metadata` attribute.
 *
 * What it mirrors (protobuf `text_format.cc`, single-line mode):
 * - a scalar field is `name: value `, a message field is `name { ` + fields + `} `, and the
 *   trailing space is trimmed at the end;
 * - map entries (`filter_metadata`, Struct `fields`) print sorted by key (byte order of the
 *   UTF-8 key), each as `key: "…" value { … }`;
 * - `Value` prints its set oneof member, even a default one (`string_value: ""`);
 * - doubles print like `io::SimpleDtoa`: `%.15g`, or `%.17g` when that does not round-trip;
 *   `inf`, `-inf`, `nan`;
 * - strings escape like `CEscape` (`\n \r \t \" \' \\`, other bytes < 0x20 or >= 0x7f as
 *   3-digit octal, so non-ASCII UTF-8 becomes octal bytes), or like `Utf8SafeCEscape` with
 *   `utf8Safe` (bytes >= 0x80 pass through raw).
 * Newer protobuf varies the whitespace of debug strings on purpose; `jitter` imitates that.
 */

import type { JsonObject, JsonValue } from '../../src/routing/jsonValue.js'

/** A Metadata message as plain JS: namespace → Struct. */
export interface MetadataShape {
  readonly filter_metadata: Readonly<Record<string, JsonObject>>
}

/** Options of `printMetadataShortDebugString`. */
export interface PrintOptions {
  /** Keep non-ASCII UTF-8 raw (`Utf8SafeCEscape`) instead of octal bytes (`CEscape`). */
  readonly utf8Safe?: boolean
  /**
   * A random source returning numbers in [0, 1), like `Math.random`. When given, random extra
   * whitespace (spaces, tabs, newlines) is inserted between tokens and around the text.
   */
  readonly jitter?: () => number
}

const JITTER_PIECES = [' ', '  ', '\n', '\t', '\r\n', ' \n  ', '\f', '\v']

/** Prints `metadata` like C++ `Metadata::ShortDebugString()`. */
export function printMetadataShortDebugString(
  metadata: MetadataShape,
  options: PrintOptions = {},
): string {
  const out = new TokenWriter(options.jitter)
  for (const key of sortedKeys(metadata.filter_metadata)) {
    out.open('filter_metadata')
    out.scalar('key', quote(key, options))
    out.open('value')
    printStruct(out, metadata.filter_metadata[key] as JsonObject, options)
    out.close()
    out.close()
  }
  return out.finish()
}

function printStruct(out: TokenWriter, struct: JsonObject, options: PrintOptions): void {
  for (const key of sortedKeys(struct)) {
    out.open('fields')
    out.scalar('key', quote(key, options))
    out.open('value')
    printValue(out, struct[key] as JsonValue, options)
    out.close()
    out.close()
  }
}

function printValue(out: TokenWriter, value: JsonValue, options: PrintOptions): void {
  if (value === null) {
    out.scalar('null_value', 'NULL_VALUE')
  } else if (typeof value === 'number') {
    out.scalar('number_value', simpleDtoa(value))
  } else if (typeof value === 'string') {
    out.scalar('string_value', quote(value, options))
  } else if (typeof value === 'boolean') {
    out.scalar('bool_value', value ? 'true' : 'false')
  } else if (Array.isArray(value)) {
    out.open('list_value')
    for (const item of value) {
      out.open('values')
      printValue(out, item, options)
      out.close()
    }
    out.close()
  } else {
    out.open('struct_value')
    printStruct(out, value, options)
    out.close()
  }
}

/** Collects tokens and the gaps between them; with a random source, gaps get extra space. */
class TokenWriter {
  private readonly parts: string[] = []

  constructor(private readonly rng: (() => number) | undefined) {}

  scalar(name: string, value: string): void {
    this.token(name, this.parts.length === 0 ? '' : ' ')
    this.token(':', '')
    this.token(value, ' ')
  }

  open(name: string): void {
    this.token(name, this.parts.length === 0 ? '' : ' ')
    this.token('{', ' ')
  }

  close(): void {
    this.token('}', ' ')
  }

  finish(): string {
    return this.parts.join('') + this.gap('')
  }

  private token(text: string, gap: string): void {
    this.parts.push(this.gap(gap), text)
  }

  private gap(base: string): string {
    const rng = this.rng
    if (rng === undefined || rng() >= 0.3) return base
    return base + (JITTER_PIECES[Math.floor(rng() * JITTER_PIECES.length)] as string)
  }
}

/** Keys in C++ `std::string` order: by UTF-8 bytes, not by UTF-16 code units. */
function sortedKeys(object: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(object).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

/** A double the way `io::SimpleDtoa` prints it. */
export function simpleDtoa(value: number): string {
  if (Number.isNaN(value)) return 'nan'
  if (value === Infinity) return 'inf'
  if (value === -Infinity) return '-inf'
  if (Object.is(value, -0)) return '-0'
  const short = formatG(value, 15)
  return Number(short) === value ? short : formatG(value, 17)
}

/** C `printf("%.{precision}g", value)` for a finite, non-negative-zero `value`. */
function formatG(value: number, precision: number): string {
  const [mantissa, exponentText] = value.toExponential(precision - 1).split('e')
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= precision) {
    const digits = String(Math.abs(exponent)).padStart(2, '0')
    return `${stripZeros(mantissa as string)}e${exponent < 0 ? '-' : '+'}${digits}`
  }
  return stripZeros(value.toFixed(precision - 1 - exponent))
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text
}

/** A quoted string escaped like `CEscape` (or `Utf8SafeCEscape`). */
export function quote(text: string, options: PrintOptions = {}): string {
  let out = '"'
  for (const char of text) {
    const cp = char.codePointAt(0) as number
    if (cp >= 0x80) {
      out += options.utf8Safe === true ? char : octalBytes(char)
    } else {
      out += escapeAscii(char, cp)
    }
  }
  return `${out}"`
}

const ASCII_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['\n', '\\n'], ['\r', '\\r'], ['\t', '\\t'], ['"', '\\"'], ["'", "\\'"], ['\\', '\\\\'],
])

function escapeAscii(char: string, cp: number): string {
  const escaped = ASCII_ESCAPES.get(char)
  if (escaped !== undefined) return escaped
  return cp < 0x20 || cp === 0x7f ? octalBytes(char) : char
}

function octalBytes(char: string): string {
  let out = ''
  for (const byte of Buffer.from(char, 'utf8')) out += `\\${byte.toString(8).padStart(3, '0')}`
  return out
}
