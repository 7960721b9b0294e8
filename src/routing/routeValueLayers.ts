/**
 * Merges route keys from their sources, highest precedence first, per key:
 * gRPC initial metadata > leaf attributes > `xds.route_metadata` (`mcp_sigv4`, then EG
 * annotations) > static config by route name.
 */

import {
  ROUTE_METADATA_ATTRIBUTE,
  ROUTE_NAME_ATTRIBUTE,
  type AttributeValue,
} from './attributeValue.js'
import { keysFromCallMetadata, keysFromLeafAttributes, keysFromStaticRoutes } from './keySources.js'
import { keysFromRouteMetadata } from './routeMetadataKeys.js'
import {
  ROUTE_KEYS,
  type RouteKeySource,
  type RouteKeySources,
  type RouteValues,
} from './routeKeys.js'
import type { TextFormatLimits } from './textFormat.js'

/** The sources of route keys for one request. */
export interface RouteKeyInputs {
  readonly callMetadata: Readonly<Record<string, string | undefined>>
  readonly attributes: Readonly<Record<string, AttributeValue | undefined>>
  readonly staticRoutes?: Readonly<Record<string, Readonly<Record<string, string | undefined>>>>
  readonly textFormatLimits?: TextFormatLimits
}

/** Merged values and, per key, the source that supplied it. */
export interface MergedRouteValues {
  readonly values: RouteValues
  readonly sources: RouteKeySources
}

/** The route's name from `xds.route_name`, or `undefined` when absent or empty. */
export function routeNameAttribute(
  attributes: Readonly<Record<string, AttributeValue | undefined>>,
): string | undefined {
  const value = Object.hasOwn(attributes, ROUTE_NAME_ATTRIBUTE)
    ? attributes[ROUTE_NAME_ATTRIBUTE]
    : undefined
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined
}

/**
 * Reads every source and merges them per key. `routeName` labels errors; static config is
 * consulted only when the request carries `xds.route_name`.
 */
export function collectRouteValues(inputs: RouteKeyInputs, routeName: string): MergedRouteValues {
  const { attributes } = inputs
  const metadataText = Object.hasOwn(attributes, ROUTE_METADATA_ATTRIBUTE)
    ? attributes[ROUTE_METADATA_ATTRIBUTE]
    : undefined
  const fromMetadata = keysFromRouteMetadata(metadataText, routeName, inputs.textFormatLimits)
  const layers: ReadonlyArray<readonly [RouteKeySource, RouteValues]> = [
    ['grpc_metadata', keysFromCallMetadata(inputs.callMetadata)],
    ['attribute', keysFromLeafAttributes(attributes, routeName)],
    ['route_metadata', fromMetadata.plain],
    ['gateway_annotation', fromMetadata.gateway],
    ['static_config', keysFromStaticRoutes(inputs.staticRoutes, routeNameAttribute(attributes))],
  ]
  const values: RouteValues = {}
  const sources: RouteKeySources = {}
  for (const key of ROUTE_KEYS) {
    const layer = layers.find(([, layerValues]) => layerValues[key] !== undefined)
    if (layer === undefined) continue
    values[key] = layer[1][key]
    sources[key] = layer[0]
  }
  return { values, sources }
}
