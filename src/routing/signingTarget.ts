/**
 * The signing target of a request: which authority, path, region, service and identity to
 * sign for, resolved from the route's keys (see `routeValueLayers.ts` for the precedence).
 */

import { SignerError } from '../errors.js'
import { inferRegionService } from './inferRegionService.js'
import { resolveUpstreamPath } from './pathRewrite.js'
import { routeLabel, valueLabel } from './routeKeyError.js'
import type { RouteKeySources } from './routeKeys.js'
import { checkRouteValues, type CheckedRouteValues } from './routeValueChecks.js'
import {
  collectRouteValues,
  routeNameAttribute,
  type RouteKeyInputs,
} from './routeValueLayers.js'

/** Route label used when the request carries no `xds.route_name`. */
export const UNKNOWN_ROUTE = 'unknown'
/** Identity used when the route sets none. */
export const DEFAULT_IDENTITY = 'default'

/** Everything `resolveSigningTarget` reads for one request. */
export interface SigningTargetInput extends RouteKeyInputs {
  /** The request's `:path`, query included. */
  readonly requestPath: string
}

/** Where and as whom to sign one request. */
export interface SigningTarget {
  /** `xds.route_name`, or `unknown`: the route's label for logs and metrics. */
  readonly routeName: string
  /** The authority AWS sees (lower case): hostname or `[ipv6]`, optional `:port`. */
  readonly host: string
  /** Upstream path, without query. */
  readonly path: string
  /** The request's raw query string without `?`; `''` when none. */
  readonly query: string
  readonly region: string
  readonly service: string
  readonly identity: string
  /** Identities a `tools/call` may switch to (route key `identities`); empty: no overrides. */
  readonly allowedIdentities: readonly string[]
  /** The MCP policy of the route (route key `policy`), if any. */
  readonly policy: string | undefined
  /** Which source supplied each key (for debugging). */
  readonly sources: RouteKeySources
}

/**
 * The part of a signing target that depends on the route alone (its keys), not on the request:
 * everything but the upstream path and query. Requests of one route share it.
 */
export interface RouteTarget {
  readonly routeName: string
  /** The checked key values (host lower-cased), for the per-request path rewrite. */
  readonly values: CheckedRouteValues
  readonly identity: string
  readonly allowedIdentities: readonly string[]
  readonly policy: string | undefined
  /**
   * Region and service, or the error that they could not be resolved. Kept rather than thrown
   * so a request reports a path rewrite mismatch first, as when resolved in one go.
   */
  readonly regionService: { readonly region: string; readonly service: string } | SignerError
  readonly sources: RouteKeySources
}

/**
 * Resolves the route-level part of the signing target, or returns `null` when no source sets
 * `host` (the route is passed through). Throws like {@link resolveSigningTarget} for invalid
 * or unreadable keys. The result is frozen: it may be shared by many requests.
 */
export function resolveRouteTarget(input: RouteKeyInputs): RouteTarget | null {
  const routeName = routeNameAttribute(input.attributes) ?? UNKNOWN_ROUTE
  const { values, sources } = collectRouteValues(input, routeName)
  if (values.host === undefined) return null
  const checked = checkRouteValues(routeName, { ...values, host: values.host }, sources)
  const resolvedSources: RouteKeySources = { ...sources }
  let regionService: RouteTarget['regionService']
  try {
    regionService = resolveRegionService(routeName, checked, resolvedSources)
  } catch (err) {
    if (!(err instanceof SignerError)) throw err
    regionService = err
  }
  resolvedSources.identity ??= 'default'
  const allowedIdentities = (checked.identities ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  return Object.freeze({
    routeName,
    values: Object.freeze(checked),
    identity: checked.identity ?? DEFAULT_IDENTITY,
    allowedIdentities: Object.freeze([...new Set(allowedIdentities)]),
    policy: checked.policy,
    regionService,
    sources: Object.freeze(resolvedSources),
  })
}

/**
 * The signing target of one request of a route: the route's target with the upstream path and
 * query resolved from the request's `:path`. Throws `ERR_PATH_REWRITE_MISMATCH` (request outside
 * `path_prefix`), then `ERR_ROUTE_TARGET_INCOMPLETE` (region or service unknown).
 */
export function targetForRequest(route: RouteTarget, requestPath: string): SigningTarget {
  const { path, query } = resolveUpstreamPath(route.routeName, route.values, requestPath)
  if (route.regionService instanceof SignerError) throw route.regionService
  return {
    routeName: route.routeName,
    host: route.values.host,
    path,
    query,
    region: route.regionService.region,
    service: route.regionService.service,
    identity: route.identity,
    allowedIdentities: route.allowedIdentities,
    policy: route.policy,
    sources: route.sources,
  }
}

/**
 * Resolves the signing target, or returns `null` when no source sets `host` (a route that is
 * not AWS-bound: pass the request through untouched).
 * Throws `SignerError` with `ERR_ROUTE_METADATA_INVALID` (unreadable or invalid values),
 * `ERR_PATH_REWRITE_MISMATCH` (request outside `path_prefix`) or
 * `ERR_ROUTE_TARGET_INCOMPLETE` (region or service neither set nor inferable).
 */
export function resolveSigningTarget(input: SigningTargetInput): SigningTarget | null {
  const route = resolveRouteTarget(input)
  return route === null ? null : targetForRequest(route, input.requestPath)
}

/** Region and service as set, else inferred from the host (recorded as `inferred`). */
function resolveRegionService(
  routeName: string,
  values: CheckedRouteValues,
  sources: RouteKeySources,
): { region: string; service: string } {
  const inferred = inferRegionService(values.host)
  const region = values.region ?? inferred.region
  if (region === undefined) throw incomplete(routeName, values.host, 'region')
  const service = values.service ?? inferred.service
  if (service === undefined) throw incomplete(routeName, values.host, 'service')
  sources.region ??= 'inferred'
  sources.service ??= 'inferred'
  return { region, service }
}

function incomplete(routeName: string, host: string, key: 'region' | 'service'): SignerError {
  return new SignerError(
    'ERR_ROUTE_TARGET_INCOMPLETE',
    `cannot resolve signing ${key} for route "${routeLabel(routeName)}": ` +
      `host ${valueLabel(host)} is not of a form it can be inferred from ` +
      '(<service>.<region>.api.aws, <service>.<region>.amazonaws.com, ' +
      '*.bedrock-agentcore.<region>.amazonaws.com); ' +
      `set the route key "${key}"`,
  )
}
