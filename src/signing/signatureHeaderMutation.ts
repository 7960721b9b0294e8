import type { SignatureHeaders } from './signRequest.js'

/** Header changes that put a signature on the request Envoy forwards. */
export interface SignatureHeaderPlan {
  /** Headers to set, overwriting any existing value: lower-case name and value. */
  readonly set: Array<[string, string]>
  /** Lower-case names of client headers to remove, without duplicates. */
  readonly remove: string[]
}

const AMZ_PREFIX = 'x-amz-'

/** The names set without and with a session token (built once, not per request). */
const SET_NAMES = new Set(['authorization', 'x-amz-date', 'x-amz-content-sha256'])
const SET_NAMES_WITH_TOKEN = new Set([...SET_NAMES, 'x-amz-security-token'])

/**
 * Plans the header mutation for a signature.
 *
 * Sets `authorization`, `x-amz-date`, `x-amz-content-sha256` and, with a session token,
 * `x-amz-security-token`. Removes every other `x-amz-*` header the client sent (a stale
 * `x-amz-security-token` when our credentials have none, `x-amz-target`, …): AWS expects the
 * `x-amz-*` headers of a request to be signed, and the signature covers only ours.
 *
 * Names that are set are never also removed. Envoy applies `remove_headers` before
 * `set_headers`, and a set without `append` replaces every existing value of that name, so a
 * client's `authorization` or `x-amz-date` is overwritten already; listing it twice would only
 * make the mutation longer.
 *
 * @param clientHeaderNames - header names of the request as Envoy sent it (any case)
 * @param signed - the result of {@link signRequest}
 * @param alsoRemove - other client headers to remove (given the lower-case name), e.g. a
 *   caller's token header
 */
export function planSignatureHeaders(
  clientHeaderNames: Iterable<string>,
  signed: SignatureHeaders,
  alsoRemove?: (lowerCaseName: string) => boolean,
): SignatureHeaderPlan {
  const set: Array<[string, string]> = [
    ['authorization', signed.authorization],
    ['x-amz-date', signed.amzDate],
    ['x-amz-content-sha256', signed.contentSha256],
  ]
  if (signed.securityToken !== undefined) set.push(['x-amz-security-token', signed.securityToken])
  const setNames = signed.securityToken !== undefined ? SET_NAMES_WITH_TOKEN : SET_NAMES
  // Usually nothing is removed: no set or array is allocated for that case.
  let remove: Set<string> | undefined
  for (const name of clientHeaderNames) {
    const lower = name.toLowerCase()
    const amz = lower.startsWith(AMZ_PREFIX)
    if ((amz && !setNames.has(lower)) || (!amz && alsoRemove?.(lower) === true)) (remove ??= new Set()).add(lower)
  }
  return { set, remove: remove === undefined ? [] : [...remove] }
}
