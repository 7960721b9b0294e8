/**
 * Typed reads of fields of the generic text-format tree, for interpreters that know the schema.
 */

import { textFormatError } from './textFormatError.js'
import type { TextField, TextMessage } from './textFormat.js'
import { specialFloat } from './textFormatTokenizer.js'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

const TRUE_WORDS = new Set(['true', 'True', 't'])
const FALSE_WORDS = new Set(['false', 'False', 'f'])

/** The field's message value; a scalar there is an error. */
export function messageField(field: TextField): TextMessage {
  if (field.value.kind === 'message') return field.value
  throw textFormatError(field.offset, `expected a message for field "${field.name}"`)
}

/** The field's string value decoded as UTF-8 (protobuf `string` fields must be UTF-8). */
export function stringField(field: TextField): string {
  const value = field.value
  if (value.kind !== 'string') {
    throw textFormatError(field.offset, `expected a string for field "${field.name}"`)
  }
  try {
    return utf8.decode(value.bytes)
  } catch {
    throw textFormatError(value.offset, `expected valid UTF-8 in field "${field.name}"`)
  }
}

/** The field's `double` value: a number literal, or `inf` / `infinity` / `nan`. */
export function doubleField(field: TextField): number {
  const value = field.value
  if (value.kind === 'number') return value.value
  if (value.kind === 'identifier') {
    const special = specialFloat(value.text)
    if (special !== undefined) return special
  }
  throw textFormatError(field.offset, `expected a number for field "${field.name}"`)
}

/** The field's `bool` value: `true` / `True` / `t` / `1` or `false` / `False` / `f` / `0`. */
export function boolField(field: TextField): boolean {
  const value = field.value
  if (value.kind === 'identifier' && TRUE_WORDS.has(value.text)) return true
  if (value.kind === 'identifier' && FALSE_WORDS.has(value.text)) return false
  if (value.kind === 'number' && !value.isFloat && (value.value === 0 || value.value === 1)) {
    return value.value === 1
  }
  throw textFormatError(field.offset, `expected true or false for field "${field.name}"`)
}

/** Checks an enum field holds `name` (or `number`), as a name or a plain integer. */
export function expectEnumField(field: TextField, name: string, number: number): void {
  const value = field.value
  if (value.kind === 'identifier' && value.text === name) return
  if (value.kind === 'number' && !value.isFloat && Object.is(value.value, number)) return
  throw textFormatError(field.offset, `expected ${name} for field "${field.name}"`)
}

/** The `key` and `value` fields of a map entry message (absent ones stay `undefined`). */
export function mapEntry(entry: TextMessage): { key: string; value: TextField | undefined } {
  let key = ''
  let value: TextField | undefined
  for (const field of entry.fields) {
    if (field.isExtension) continue
    if (field.name === 'key') key = stringField(field)
    else if (field.name === 'value') value = field
  }
  return { key, value }
}
