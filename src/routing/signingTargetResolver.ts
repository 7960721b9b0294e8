/**
 * The per-configuration signing target resolver used on the request path. Envoy sends a route's
 * keys with every request (the `xds.route_metadata` text, leaf attributes, gRPC initial
 * metadata), identical for every request of that route, so the route-level part of the target —
 * parsing the text format, merging the sources, checking the values, inferring region and
 * service — is resolved once per distinct set of inputs and remembered (bounded, LRU). Only the
 * upstream path, which depends on the request's `:path`, is resolved per request.
 */

import { LRUCache } from 'lru-cache'
import { leafAttributeKey } from './attributeExpression.js'
import { ROUTE_METADATA_ATTRIBUTE, ROUTE_NAME_ATTRIBUTE } from './attributeValue.js'
import { CALL_METADATA_PREFIX } from './keySources.js'
import {
  resolveRouteTarget,
  targetForRequest,
  type RouteTarget,
  type SigningTarget,
  type SigningTargetInput,
} from './signingTarget.js'
import type { RouteKeyInputs } from './routeValueLayers.js'

/** What the resolver reads per request; static routes and limits are fixed at construction. */
export type RequestTargetInput = Pick<
  SigningTargetInput,
  'callMetadata' | 'attributes' | 'requestPath'
>

export interface SigningTargetResolverOptions {
  readonly staticRoutes?: RouteKeyInputs['staticRoutes']
  readonly textFormatLimits?: RouteKeyInputs['textFormatLimits']
  /** Distinct routes remembered (default 1000); more are resolved again when evicted. */
  readonly maxRoutes?: number
}

/** A cached resolution: `null` is a pass-through route. */
interface Resolved {
  readonly route: RouteTarget | null
}

/** Attribute names that bear on the target, memoized (names come from Envoy's configuration). */
const MAX_ATTRIBUTE_NAMES = 256

/**
 * Builds a resolver equivalent to `resolveSigningTarget` with the given static routes, which
 * resolves each route's keys once. Errors (invalid or unreadable keys) are not remembered: such
 * requests resolve, and fail, every time.
 */
export function createSigningTargetResolver(
  options: SigningTargetResolverOptions = {},
): (input: RequestTargetInput) => SigningTarget | null {
  const routes = new LRUCache<string, Resolved>({ max: options.maxRoutes ?? 1000 })
  const relevantNames = new Map<string, boolean>()
  const isRelevant = (name: string): boolean => {
    let relevant = relevantNames.get(name)
    if (relevant === undefined) {
      relevant =
        name === ROUTE_NAME_ATTRIBUTE ||
        name === ROUTE_METADATA_ATTRIBUTE ||
        leafAttributeKey(name) !== undefined
      if (relevantNames.size < MAX_ATTRIBUTE_NAMES) relevantNames.set(name, relevant)
    }
    return relevant
  }
  return (input) => {
    const key = routeKeyOf(input, isRelevant)
    let resolved = key === undefined ? undefined : routes.get(key)
    if (resolved === undefined) {
      const { staticRoutes, textFormatLimits } = options
      resolved = {
        route: resolveRouteTarget({
          callMetadata: input.callMetadata,
          attributes: input.attributes,
          ...(staticRoutes !== undefined ? { staticRoutes } : {}),
          ...(textFormatLimits !== undefined ? { textFormatLimits } : {}),
        }),
      }
      if (key !== undefined) routes.set(key, resolved)
    }
    return resolved.route === null ? null : targetForRequest(resolved.route, input.requestPath)
  }
}

/**
 * The cache key of a request's route inputs: every attribute that can carry a key or the route
 * name, and every `x-mcp-sigv4-*` call metadata entry, length-prefixed so no two different
 * input sets share a key. `undefined` (do not cache) when a relevant attribute is not a string:
 * such values are rejected anyway, and rarely repeat.
 */
function routeKeyOf(
  input: RequestTargetInput,
  isRelevant: (name: string) => boolean,
): string | undefined {
  let key = ''
  for (const name in input.attributes) {
    if (!Object.hasOwn(input.attributes, name) || !isRelevant(name)) continue
    const value = input.attributes[name]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string') return undefined
    key += `a${name.length}:${name}${value.length}:${value}`
  }
  for (const name in input.callMetadata) {
    if (!Object.hasOwn(input.callMetadata, name) || !name.startsWith(CALL_METADATA_PREFIX)) continue
    const value = input.callMetadata[name]
    if (value === undefined) continue
    key += `m${name.length}:${name}${value.length}:${value}`
  }
  return key
}
