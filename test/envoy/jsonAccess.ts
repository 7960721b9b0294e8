/**
 * Tiny typed accessors for parsed YAML in tests: each throws with the path when a step is
 * missing, so an assertion failure names what was absent instead of "cannot read undefined".
 */

/** A JSON object as produced by the YAML parser. */
export type JsonRecord = Record<string, unknown>

/** Walks `keys` (object keys or array indexes) from `value`; throws if a step is missing. */
export function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value
  const walked: string[] = []
  for (const key of keys) {
    walked.push(String(key))
    const next =
      typeof key === 'number'
        ? Array.isArray(current) ? current[key] : undefined
        : isRecord(current) ? current[key] : undefined
    if (next === undefined) throw new Error(`cannot find path: ${walked.join('.')}`)
    current = next
  }
  return current
}

/** {@link at}, asserting the result is an object. */
export function recordAt(value: unknown, ...keys: (string | number)[]): JsonRecord {
  const found = at(value, ...keys)
  if (!isRecord(found)) throw new Error(`not an object: ${keys.join('.')}`)
  return found
}

/** {@link at}, asserting the result is an array. */
export function arrayAt(value: unknown, ...keys: (string | number)[]): unknown[] {
  const found = at(value, ...keys)
  if (!Array.isArray(found)) throw new Error(`not an array: ${keys.join('.')}`)
  return found
}

/** {@link at}, asserting the result is a string. */
export function stringAt(value: unknown, ...keys: (string | number)[]): string {
  const found = at(value, ...keys)
  if (typeof found !== 'string') throw new Error(`not a string: ${keys.join('.')}`)
  return found
}

/** True for a non-null, non-array object. */
export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The single element of `items` for which `predicate` holds; throws on zero or several. */
export function only<T>(items: readonly T[], predicate: (item: T) => boolean, what: string): T {
  const found = items.filter(predicate)
  if (found.length !== 1) throw new Error(`expected exactly one ${what}, found ${found.length}`)
  return found[0] as T
}
