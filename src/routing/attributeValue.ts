/**
 * Attribute values as the protocol layer hands them over: `ProcessingRequest.attributes`
 * entries already unwrapped from `google.protobuf.Value` into plain JS values.
 */

/** One unwrapped attribute value. */
export type AttributeValue = string | number | boolean | null | object

/** Attribute names the routing layer reads (besides route metadata leaf expressions). */
export const ROUTE_NAME_ATTRIBUTE = 'xds.route_name'
/** The attribute holding the whole route metadata as protobuf text format. */
export const ROUTE_METADATA_ATTRIBUTE = 'xds.route_metadata'

/** A JS value's kind as named in messages. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
