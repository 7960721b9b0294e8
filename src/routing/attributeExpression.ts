/**
 * Recognizes the CEL expressions that select one route metadata leaf, so that an attribute
 * named `xds.route_metadata.filter_metadata['mcp_sigv4']['host']` supplies the key `host`.
 *
 * Envoy keys `ProcessingRequest.attributes` by the expression text exactly as configured
 * (envoy `matching_utils.cc` `evaluateAttributes`), so any spelling the operator chose
 * arrives: quotes `'` or `"`, whitespace around the brackets and dots, or the dotted form
 * `xds.route_metadata.filter_metadata.mcp_sigv4.host`.
 */

import { routeKeyOf, type RouteKey } from './routeKeys.js'

/** The metadata namespace that holds the keys on plain Envoy. */
export const ROUTE_METADATA_NAMESPACE = 'mcp_sigv4'

const LEAF_PREFIX = ['xds', 'route_metadata', 'filter_metadata', ROUTE_METADATA_NAMESPACE]

/** The route key an attribute expression selects, or `undefined` when it selects none. */
export function leafAttributeKey(expression: string): RouteKey | undefined {
  const path = selectionPath(expression)
  if (path === undefined || path.length !== LEAF_PREFIX.length + 1) return undefined
  if (!LEAF_PREFIX.every((segment, i) => path[i] === segment)) return undefined
  return routeKeyOf(path[LEAF_PREFIX.length] as string)
}

/**
 * Splits `a.b['c']["d"]` into its segments; `undefined` when the text is anything else
 * (function calls, operators, escapes in the quoted names).
 */
export function selectionPath(expression: string): string[] | undefined {
  const text = expression.trim()
  if (text.startsWith('.')) return undefined
  const pattern = /\s*(?:(^|\.)\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*\])/y
  const segments: string[] = []
  let match: RegExpExecArray | null
  while ((match = pattern.exec(text)) !== null) {
    segments.push((match[2] ?? match[3] ?? match[4]) as string)
    if (pattern.lastIndex === text.length) return segments
  }
  return undefined
}
