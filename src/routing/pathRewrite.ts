/**
 * The upstream path AWS will see: the route's `path`, or the request path after the route's
 * prefix rewrite, or the request path itself. The query string is always the request's.
 *
 * An HCM-level ext_proc sees the request before the router applies `prefix_rewrite` /
 * `regex_rewrite` (envoy `router.cc` `finalizeRequestHeaders`), so the signer must apply the
 * same rewrite itself to sign the path the upstream receives.
 */

import { SignerError } from '../errors.js'
import { excerpt } from './excerpt.js'
import { routeLabel } from './routeKeyError.js'
import type { RouteValues } from './routeKeys.js'

/** Path (no query) and raw query (no `?`) of a request or upstream target. */
export interface PathAndQuery {
  readonly path: string
  readonly query: string
}

/** Splits a `:path` into path and query, dropping any `#fragment`; an empty path is `/`. */
export function splitRequestPath(requestPath: string): PathAndQuery {
  const hash = requestPath.indexOf('#')
  const target = hash < 0 ? requestPath : requestPath.slice(0, hash)
  const question = target.indexOf('?')
  const path = question < 0 ? target : target.slice(0, question)
  return { path: path === '' ? '/' : path, query: question < 0 ? '' : target.slice(question + 1) }
}

/**
 * Resolves the upstream path. With `path_prefix`, the request path must start with it (case
 * sensitive) and the prefix is replaced, exactly as Envoy's `prefix_rewrite` does; otherwise
 * throws `ERR_PATH_REWRITE_MISMATCH` naming the route and the prefix.
 */
export function resolveUpstreamPath(
  routeName: string,
  values: RouteValues,
  requestPath: string,
): PathAndQuery {
  const request = splitRequestPath(requestPath)
  if (values.path !== undefined) return { path: values.path, query: request.query }
  const prefix = values.path_prefix
  const replacement = values.path_prefix_replacement
  if (prefix === undefined || replacement === undefined) return request
  if (!request.path.startsWith(prefix)) {
    throw new SignerError(
      'ERR_PATH_REWRITE_MISMATCH',
      `cannot rewrite path for route "${routeLabel(routeName)}": request path ` +
        `"${excerpt(request.path, 64)}" does not start with path_prefix "${excerpt(prefix, 64)}"`,
    )
  }
  return { path: replacement + request.path.slice(prefix.length), query: request.query }
}
