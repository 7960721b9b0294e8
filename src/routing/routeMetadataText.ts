/**
 * Route metadata as Envoy sends it for the attribute `xds.route_metadata`: the protobuf text
 * format of `envoy.config.core.v3.Metadata` (CEL prints messages with `ShortDebugString()`;
 * envoy `source/extensions/filters/common/expr/evaluator.cc` `print()`).
 */

import { setOwn, type JsonObject } from './jsonValue.js'
import { structToJson } from './structText.js'
import { mapEntry, messageField } from './textFormatFields.js'
import { parseTextFormat, type TextFormatLimits } from './textFormat.js'

/** Options of `parseRouteMetadataText`. */
export interface RouteMetadataTextOptions extends TextFormatLimits {
  /**
   * When set, only these `filter_metadata` namespaces are converted; the others are checked
   * for syntax only, so odd content in another filter's namespace cannot fail a route.
   */
  readonly namespaces?: readonly string[]
}

/**
 * Parses the text format of a `Metadata` message into its `filter_metadata` map: namespace →
 * Struct as JSON. `typed_filter_metadata` and unknown fields are ignored; a namespace listed
 * twice keeps its last entry (protobuf map semantics).
 * Throws `SignerError('ERR_ROUTE_METADATA_INVALID')` when the text is malformed.
 */
export function parseRouteMetadataText(
  text: string,
  options: RouteMetadataTextOptions = {},
): Record<string, JsonObject> {
  const root = parseTextFormat(text, options)
  const out: Record<string, JsonObject> = {}
  for (const field of root.fields) {
    if (field.isExtension || field.name !== 'filter_metadata') continue
    const { key, value } = mapEntry(messageField(field))
    if (options.namespaces !== undefined && !options.namespaces.includes(key)) continue
    setOwn(out, key, value === undefined ? {} : structToJson(messageField(value)))
  }
  return out
}
