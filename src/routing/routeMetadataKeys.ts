/**
 * Reading route keys from the `xds.route_metadata` attribute (protobuf text format of the
 * route's `Metadata`), in its two forms:
 * - plain Envoy: `filter_metadata["mcp_sigv4"]`, keys `host`, `path_prefix`, ...;
 * - Envoy Gateway: `filter_metadata["envoy-gateway"].resources[].annotations`, where EG copies
 *   the HTTPRoute annotations `gateway.envoyproxy.io/<name>` with the prefix stripped
 *   (gateway `internal/gatewayapi/route.go` `buildResourceMetadata`), so the keys read
 *   `mcp-sigv4-host`, `mcp-sigv4-path-prefix`, ...
 */

import { SignerError } from '../errors.js'
import { ROUTE_METADATA_NAMESPACE } from './attributeExpression.js'
import { kindOf, type AttributeValue } from './attributeValue.js'
import type { JsonObject, JsonValue } from './jsonValue.js'
import { lookUpKeys } from './keySources.js'
import { invalidRouteKey, routeLabel } from './routeKeyError.js'
import {
  cleanValue,
  type RouteKey,
  type RouteKeySource,
  type RouteValues,
} from './routeKeys.js'
import { parseRouteMetadataText } from './routeMetadataText.js'
import type { TextFormatLimits } from './textFormat.js'
import { TextFormatError } from './textFormatError.js'

/** Envoy Gateway's metadata namespace. */
export const GATEWAY_NAMESPACE = 'envoy-gateway'
/** Prefix of the annotation names as they appear in EG's route metadata. */
export const GATEWAY_ANNOTATION_PREFIX = 'mcp-sigv4-'

/** Keys from the plain namespace and from EG annotations, kept apart (plain wins). */
export interface RouteMetadataKeys {
  readonly plain: RouteValues
  readonly gateway: RouteValues
}

/**
 * Reads both forms from the attribute value (absent or `null`: no keys).
 * Throws `ERR_ROUTE_METADATA_INVALID` for a non-string value or malformed text.
 */
export function keysFromRouteMetadata(
  value: AttributeValue | undefined,
  routeName: string,
  limits: TextFormatLimits = {},
): RouteMetadataKeys {
  if (value === undefined || value === null) return { plain: {}, gateway: {} }
  if (typeof value !== 'string') {
    throw new SignerError(
      'ERR_ROUTE_METADATA_INVALID',
      `cannot read route metadata of route "${routeLabel(routeName)}": attribute ` +
        `xds.route_metadata is ${kindOf(value)}, expected protobuf text format`,
    )
  }
  const namespaces = parseForRoute(value, routeName, limits)
  return {
    plain: plainKeys(namespaces[ROUTE_METADATA_NAMESPACE], routeName),
    gateway: gatewayKeys(namespaces[GATEWAY_NAMESPACE], routeName),
  }
}

function parseForRoute(
  text: string,
  routeName: string,
  limits: TextFormatLimits,
): Record<string, JsonObject> {
  try {
    return parseRouteMetadataText(text, {
      ...limits,
      namespaces: [ROUTE_METADATA_NAMESPACE, GATEWAY_NAMESPACE],
    })
  } catch (err) {
    if (!(err instanceof TextFormatError)) throw err
    throw new SignerError(
      'ERR_ROUTE_METADATA_INVALID',
      `cannot parse route metadata of route "${routeLabel(routeName)}": ${err.detail} ` +
        `at offset ${err.offset}`,
      { cause: err },
    )
  }
}

function plainKeys(namespace: JsonObject | undefined, routeName: string): RouteValues {
  if (namespace === undefined) return {}
  return lookUpKeys((spelling, key) =>
    stringMember(namespace, spelling, { routeName, key, source: 'route_metadata' }),
  )
}

/** Keys from each EG resource's annotations; the first resource holding a key wins. */
function gatewayKeys(namespace: JsonObject | undefined, routeName: string): RouteValues {
  const resources = namespace === undefined ? undefined : member(namespace, 'resources')
  if (!Array.isArray(resources)) return {}
  const values: RouteValues = {}
  for (const resource of resources) {
    const annotations = isObject(resource) ? member(resource, 'annotations') : undefined
    if (!isObject(annotations)) continue
    const found = lookUpKeys((spelling, key) =>
      stringMember(annotations, GATEWAY_ANNOTATION_PREFIX + spelling, {
        routeName,
        key,
        source: 'gateway_annotation',
      }),
    )
    for (const [key, v] of Object.entries(found)) values[key as keyof RouteValues] ??= v
  }
  return values
}

interface KeyContext {
  readonly routeName: string
  readonly key: RouteKey
  readonly source: RouteKeySource
}

/** A string member, trimmed; `null` or missing is absent; another type is invalid. */
function stringMember(object: JsonObject, name: string, context: KeyContext): string | undefined {
  const value = member(object, name)
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') {
    const { routeName, key, source } = context
    throw invalidRouteKey(routeName, key, source, `is ${kindOf(value)}, expected a string`)
  }
  return cleanValue(value)
}

function member(object: JsonObject, name: string): JsonValue | undefined {
  return Object.hasOwn(object, name) ? object[name] : undefined
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
