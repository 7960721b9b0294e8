/**
 * Shape checks of route key values, before they reach the signer.
 */

import { invalidRouteKey } from './routeKeyError.js'
import {
  ROUTE_KEYS,
  type RouteKey,
  type RouteKeySource,
  type RouteKeySources,
  type RouteValues,
} from './routeKeys.js'

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?'
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`)
const IPV6_LITERAL = /^\[[0-9a-f]*:[0-9a-f:.]*\]$/
/** An absolute path: printable ASCII without space, `?` (query) or `#` (fragment). */
const ABSOLUTE_PATH = /^\/[\x21\x22\x24-\x3e\x40-\x7e]*$/

/** AWS region names: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `eusc-de-east-1`, ... */
export const REGION_PATTERN = /^[a-z]{2,}(?:-[a-z]+)+-[0-9]{1,2}$/
/** SigV4 service (signing) names: `aws-mcp`, `bedrock-agentcore`, `execute-api`, `s3`, ... */
export const SERVICE_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/
const IDENTITY_PATTERN = /^[\x21-\x7e]{1,128}$/
/** A comma-separated list of identity names (spaces around commas allowed). */
const IDENTITY_LIST_PATTERN = /^[\x21-\x2b\x2d-\x7e]{1,128}(?:\s*,\s*[\x21-\x2b\x2d-\x7e]{1,128})*$/
const POLICY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

const PATH_PROBLEM = 'must start with "/" and hold no "?", "#", whitespace or non-ASCII character'

const RULES: Readonly<Record<RouteKey, { test: (value: string) => boolean; problem: string }>> = {
  host: { test: isAuthority, problem: 'is not a host name or [IPv6] address with optional :port' },
  path: { test: (v) => ABSOLUTE_PATH.test(v), problem: PATH_PROBLEM },
  path_prefix: { test: (v) => ABSOLUTE_PATH.test(v), problem: PATH_PROBLEM },
  path_prefix_replacement: { test: (v) => ABSOLUTE_PATH.test(v), problem: PATH_PROBLEM },
  region: { test: (v) => REGION_PATTERN.test(v), problem: 'is not an AWS region like us-east-1' },
  service: { test: (v) => SERVICE_PATTERN.test(v), problem: 'is not a SigV4 service name' },
  identity: { test: (v) => IDENTITY_PATTERN.test(v), problem: 'is not 1-128 visible ASCII chars' },
  identities: {
    test: (v) => IDENTITY_LIST_PATTERN.test(v),
    problem: 'is not a comma-separated list of identity names',
  },
  policy: { test: (v) => POLICY_PATTERN.test(v), problem: 'is not a policy name ([A-Za-z0-9_.-], 1-64 chars)' },
}

/** Route values with a host, as `checkRouteValues` returns them. */
export type CheckedRouteValues = RouteValues & { readonly host: string }

/**
 * Checks every value's shape and the path keys' combination; returns the values with the
 * host lower-cased. Throws `ERR_ROUTE_METADATA_INVALID` naming the route, key and source.
 */
export function checkRouteValues(
  routeName: string,
  values: CheckedRouteValues,
  sources: RouteKeySources,
): CheckedRouteValues {
  const checked: CheckedRouteValues = { ...values, host: values.host.toLowerCase() }
  for (const key of ROUTE_KEYS) {
    const value = checked[key]
    if (value !== undefined && !RULES[key].test(value)) {
      throw invalidRouteKey(routeName, key, sourceOf(sources, key), RULES[key].problem, value)
    }
  }
  if (checked.path === undefined) checkPrefixPair(routeName, checked, sources)
  return checked
}

/** `path_prefix` and `path_prefix_replacement` go together, like Envoy's prefix_rewrite. */
function checkPrefixPair(routeName: string, values: RouteValues, sources: RouteKeySources): void {
  if (values.path_prefix !== undefined && values.path_prefix_replacement === undefined) {
    const problem = 'needs path_prefix_replacement too (Envoy prefix_rewrite semantics)'
    throw invalidRouteKey(routeName, 'path_prefix', sourceOf(sources, 'path_prefix'), problem)
  }
  if (values.path_prefix === undefined && values.path_prefix_replacement !== undefined) {
    const key = 'path_prefix_replacement'
    throw invalidRouteKey(routeName, key, sourceOf(sources, key), 'needs path_prefix too')
  }
}

/** True for `host`, `host:port`, `[ipv6]` or `[ipv6]:port` (lower case). */
export function isAuthority(authority: string): boolean {
  let host = authority
  const port = /:([0-9]{1,5})$/.exec(authority)
  if (port !== null) {
    const number = Number(port[1])
    if (number < 1 || number > 65535) return false
    host = authority.slice(0, port.index)
  }
  if (host.startsWith('[')) return IPV6_LITERAL.test(host)
  return host.length <= 254 && HOSTNAME.test(host)
}

function sourceOf(sources: RouteKeySources, key: RouteKey): RouteKeySource {
  return sources[key] ?? 'static_config'
}
