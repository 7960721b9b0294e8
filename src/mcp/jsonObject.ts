/** A JSON object as `JSON.parse` returns it. */
export type JsonObject = Record<string, unknown>

/** True for plain JSON objects: not null, not an array. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The own member `key` of `object` (never an inherited property such as `constructor`). */
export function ownMember(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined
}
