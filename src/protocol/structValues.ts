import type { StructMessage, StructValueMessage } from './messages.js'

/** A plain JSON value. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue }

/**
 * Turns a decoded `google.protobuf.Struct` into plain values. proto-loader gives its `Value`s
 * camelCase names (`stringValue`) even with `keepCase`; snake_case is accepted as well so
 * messages built by other tools read the same.
 */
export function structToPlain(struct: StructMessage | undefined, depth = 0): Record<string, PlainValue> {
  const result: Record<string, PlainValue> = {}
  for (const [key, value] of Object.entries(struct?.fields ?? {})) {
    result[key] = valueToPlain(value, depth + 1)
  }
  return result
}

function valueToPlain(value: StructValueMessage | undefined, depth: number): PlainValue {
  if (value === undefined || value === null || depth > 64) return null
  const v = value as StructValueMessage & Record<string, unknown>
  const pick = (camel: string, snake: string): unknown => v[camel] ?? v[snake]
  const str = pick('stringValue', 'string_value')
  if (typeof str === 'string') return str
  const num = pick('numberValue', 'number_value')
  if (typeof num === 'number') return num
  const bool = pick('boolValue', 'bool_value')
  if (typeof bool === 'boolean') return bool
  const struct = pick('structValue', 'struct_value')
  if (typeof struct === 'object' && struct !== null) return structToPlain(struct as StructMessage, depth)
  const list = pick('listValue', 'list_value') as { values?: StructValueMessage[] } | undefined
  if (typeof list === 'object' && list !== null) return (list.values ?? []).map((x) => valueToPlain(x, depth + 1))
  return null
}

/** Forwarded dynamic metadata (`metadata_context.filter_metadata`) as plain values, by namespace. */
export function metadataToPlain(namespaces: Record<string, StructMessage> | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  for (const [namespace, struct] of Object.entries(namespaces ?? {})) result[namespace] = structToPlain(struct)
  return result
}
