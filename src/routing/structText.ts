/**
 * `google.protobuf.Struct` / `Value` / `ListValue` in the generic text-format tree → JSON.
 *
 * Struct → object, ListValue → array, number_value → number, string_value → string,
 * bool_value → boolean, null_value (and a Value with no kind set) → null. Fields these
 * messages do not have are ignored. Recursion depth is bounded by the parser's depth cap.
 */

import { setOwn, type JsonObject, type JsonValue } from './jsonValue.js'
import {
  boolField,
  doubleField,
  expectEnumField,
  mapEntry,
  messageField,
  stringField,
} from './textFormatFields.js'
import type { TextMessage } from './textFormat.js'

/** Converts a `Struct` message. Map entries with a repeated key: the last one wins. */
export function structToJson(struct: TextMessage): JsonObject {
  const out: JsonObject = {}
  for (const field of struct.fields) {
    if (field.isExtension || field.name !== 'fields') continue
    const { key, value } = mapEntry(messageField(field))
    setOwn(out, key, value === undefined ? null : valueToJson(messageField(value)))
  }
  return out
}

/** Converts a `Value` message. Of several kinds (a broken oneof), the last one wins. */
export function valueToJson(value: TextMessage): JsonValue {
  let result: JsonValue = null
  for (const field of value.fields) {
    if (field.isExtension) continue
    switch (field.name) {
      case 'null_value':
        expectEnumField(field, 'NULL_VALUE', 0)
        result = null
        break
      case 'number_value':
        result = doubleField(field)
        break
      case 'string_value':
        result = stringField(field)
        break
      case 'bool_value':
        result = boolField(field)
        break
      case 'struct_value':
        result = structToJson(messageField(field))
        break
      case 'list_value':
        result = listToJson(messageField(field))
        break
    }
  }
  return result
}

/** Converts a `ListValue` message. */
export function listToJson(list: TextMessage): JsonValue[] {
  const out: JsonValue[] = []
  for (const field of list.fields) {
    if (!field.isExtension && field.name === 'values') out.push(valueToJson(messageField(field)))
  }
  return out
}
