/**
 * Plain JSON values, the shape of a `google.protobuf.Struct` once converted.
 */

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject

/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue
}

/**
 * Sets `object[key]` as an own enumerable property. Plain assignment would treat the key
 * `__proto__` (legal in a Struct) as a prototype change instead of a field.
 */
export function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  const descriptor = { value, enumerable: true, writable: true, configurable: true }
  Object.defineProperty(object, key, descriptor)
}
