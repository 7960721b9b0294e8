/**
 * The per-route keys operators set to describe an AWS-bound route, and where they come from.
 */

/** Every key, in snake_case (the canonical spelling). Unknown keys are ignored. */
export const ROUTE_KEYS = [
  'host',
  'path',
  'path_prefix',
  'path_prefix_replacement',
  'region',
  'service',
  'identity',
  'identities',
  'policy',
] as const

/** One route key. */
export type RouteKey = (typeof ROUTE_KEYS)[number]

/** The values found for a route, by key; absent keys are missing (never `''`). */
export type RouteValues = Partial<Record<RouteKey, string>>

/**
 * Where a key's value came from, for debugging: the four sources in precedence order, then
 * `inferred` (region / service from the host) and `default` (identity).
 */
export type RouteKeySource =
  | 'grpc_metadata'
  | 'attribute'
  | 'route_metadata'
  | 'gateway_annotation'
  | 'static_config'
  | 'inferred'
  | 'default'

/** Which source supplied each key of a resolved target. */
export type RouteKeySources = Partial<Record<RouteKey, RouteKeySource>>

/** The two spellings a key is accepted in, `-` first (`path-prefix`, `path_prefix`). */
export function keySpellings(key: RouteKey): readonly [string, string] {
  return [key.replaceAll('_', '-'), key]
}

/** The key spelled `name` (`-` or `_` between words, lower case), if it is one. */
export function routeKeyOf(name: string): RouteKey | undefined {
  const snake = name.replaceAll('-', '_')
  return (ROUTE_KEYS as readonly string[]).includes(snake) ? (snake as RouteKey) : undefined
}

/** A value trimmed; empty means absent. */
export function cleanValue(value: string): string | undefined {
  const trimmed = value.trim()
  return trimmed === '' ? undefined : trimmed
}
