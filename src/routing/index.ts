/**
 * The routing layer: from a request's route metadata (gRPC initial metadata, attributes,
 * `xds.route_metadata` text format, static config) to the target it must be signed for.
 */

export {
  resolveSigningTarget,
  resolveRouteTarget,
  targetForRequest,
  DEFAULT_IDENTITY,
  UNKNOWN_ROUTE,
} from './signingTarget.js'
export type { RouteTarget, SigningTarget, SigningTargetInput } from './signingTarget.js'
export { createSigningTargetResolver } from './signingTargetResolver.js'
export type { RequestTargetInput, SigningTargetResolverOptions } from './signingTargetResolver.js'
export type { AttributeValue } from './attributeValue.js'
export { ROUTE_METADATA_ATTRIBUTE, ROUTE_NAME_ATTRIBUTE } from './attributeValue.js'
export { ROUTE_KEYS } from './routeKeys.js'
export type { RouteKey, RouteKeySource, RouteKeySources, RouteValues } from './routeKeys.js'
export { CALL_METADATA_PREFIX } from './keySources.js'
export { ROUTE_METADATA_NAMESPACE, leafAttributeKey } from './attributeExpression.js'
export { GATEWAY_ANNOTATION_PREFIX, GATEWAY_NAMESPACE } from './routeMetadataKeys.js'
export { inferRegionService } from './inferRegionService.js'
export type { InferredRegionService } from './inferRegionService.js'
export { splitRequestPath } from './pathRewrite.js'
export type { PathAndQuery } from './pathRewrite.js'
export { parseRouteMetadataText } from './routeMetadataText.js'
export type { RouteMetadataTextOptions } from './routeMetadataText.js'
export {
  parseTextFormat,
  DEFAULT_MAX_TEXT_BYTES,
  DEFAULT_MAX_TEXT_DEPTH,
  HARD_MAX_TEXT_DEPTH,
} from './textFormat.js'
export type {
  TextField,
  TextFormatLimits,
  TextIdentifier,
  TextMessage,
  TextNumber,
  TextScalar,
  TextString,
} from './textFormat.js'
export type { JsonObject, JsonValue } from './jsonValue.js'
