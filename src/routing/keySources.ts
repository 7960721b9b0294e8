/**
 * Reading route keys from the two sources that carry them individually: gRPC initial metadata
 * of the Process call, leaf attributes, and the static per-route config.
 */

import { leafAttributeKey } from './attributeExpression.js'
import { kindOf, type AttributeValue } from './attributeValue.js'
import { invalidRouteKey } from './routeKeyError.js'
import {
  cleanValue,
  keySpellings,
  ROUTE_KEYS,
  type RouteKey,
  type RouteValues,
} from './routeKeys.js'

/** Prefix of the gRPC metadata names, e.g. `x-mcp-sigv4-path-prefix-replacement`. */
export const CALL_METADATA_PREFIX = 'x-mcp-sigv4-'

/**
 * Keys from gRPC initial metadata (`ExtProcPerRoute.overrides.grpc_initial_metadata`),
 * named `x-mcp-sigv4-<key>` with `-` or `_` between words (lower case, as gRPC delivers them).
 */
export function keysFromCallMetadata(
  metadata: Readonly<Record<string, string | undefined>>,
): RouteValues {
  return lookUpKeys((spelling) => ownValue(metadata, CALL_METADATA_PREFIX + spelling))
}

/**
 * Keys from attributes that select one metadata leaf, such as
 * `xds.route_metadata.filter_metadata['mcp_sigv4']['host']`. A leaf that is not a string
 * (a number or bool, which CEL would send as such) is an invalid value.
 */
export function keysFromLeafAttributes(
  attributes: Readonly<Record<string, AttributeValue | undefined>>,
  routeName: string,
): RouteValues {
  const values: RouteValues = {}
  for (const [name, raw] of Object.entries(attributes)) {
    const key = leafAttributeKey(name)
    if (key === undefined || values[key] !== undefined || raw === null || raw === undefined) {
      continue
    }
    if (typeof raw !== 'string') {
      throw invalidRouteKey(routeName, key, 'attribute', `is ${kindOf(raw)}, expected a string`)
    }
    values[key] = cleanValue(raw)
  }
  return dropAbsent(values)
}

/** Keys from the server's own config, `routes["<xds.route_name>"]`. */
export function keysFromStaticRoutes(
  routes: Readonly<Record<string, Readonly<Record<string, string | undefined>>>> | undefined,
  routeName: string | undefined,
): RouteValues {
  if (routes === undefined || routeName === undefined || !Object.hasOwn(routes, routeName)) {
    return {}
  }
  const entry = routes[routeName] as Readonly<Record<string, string | undefined>>
  return lookUpKeys((spelling) => ownValue(entry, spelling))
}

/** For each key, the first spelling `read` finds a non-empty value for. */
export function lookUpKeys(
  read: (spelling: string, key: RouteKey) => string | undefined,
): RouteValues {
  const values: RouteValues = {}
  for (const key of ROUTE_KEYS) {
    for (const spelling of keySpellings(key)) {
      const value = read(spelling, key)
      if (value !== undefined) {
        values[key] = value
        break
      }
    }
  }
  return values
}

function ownValue(
  record: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  if (!Object.hasOwn(record, name)) return undefined
  const raw = record[name]
  return typeof raw === 'string' ? cleanValue(raw) : undefined
}

function dropAbsent(values: RouteValues): RouteValues {
  for (const key of ROUTE_KEYS) if (values[key] === undefined) delete values[key]
  return values
}
