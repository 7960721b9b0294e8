/**
 * The error for a route key whose value cannot be used.
 */

import { SignerError } from '../errors.js'
import { excerpt } from './excerpt.js'
import type { RouteKey, RouteKeySource } from './routeKeys.js'

/**
 * `ERR_ROUTE_METADATA_INVALID` naming the route, the key and its source. Only a short,
 * sanitized excerpt of the value is quoted (when given), never the attribute text it came from.
 */
export function invalidRouteKey(
  routeName: string,
  key: RouteKey,
  source: RouteKeySource,
  problem: string,
  value?: string,
): SignerError {
  const quoted = value === undefined ? '' : ` ${valueLabel(value)}`
  return new SignerError(
    'ERR_ROUTE_METADATA_INVALID',
    `cannot use route key "${key}" for route "${routeLabel(routeName)}": the value${quoted} ` +
      `from ${source} ${problem}`,
  )
}

/** A route name as quoted in messages. */
export function routeLabel(routeName: string): string {
  return excerpt(routeName, 128)
}

/** A value as quoted in messages. */
export function valueLabel(value: string): string {
  return `"${excerpt(value, 64)}"`
}
