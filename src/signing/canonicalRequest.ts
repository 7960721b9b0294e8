import { SignerError } from '../errors.js'
import type { QueryParameters } from './parseQuery.js'

/**
 * The pieces of a SigV4 canonical request (AWS "Create a canonical request"), each already in
 * canonical form. `headers` are lower-case names in ascending order with canonical values, one
 * entry per name.
 */
export interface CanonicalRequestParts {
  readonly method: string
  readonly uri: string
  readonly query: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly payloadSha256Hex: string
}

/** A canonical request and the `SignedHeaders` list it names. */
export interface CanonicalRequest {
  readonly text: string
  readonly signedHeaders: string
}

/** Characters RFC 3986 leaves unreserved, plus '/' between segments: nothing to encode. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~/]*$/
/** Empty, '.' and '..' segments, which the canonical URI drops or resolves. */
const DOT_OR_EMPTY_SEGMENT = /\/\/|\/\.\.?(?:\/|$)/
/** What encodeURIComponent leaves alone but RFC 3986 reserves. */
const SUB_DELIMS_LEFT_BY_ENCODE_URI = /[!'()*]/g
/** What a canonical header value may not contain as is. */
const NON_CANONICAL_VALUE = /[\r\n\t]| {2}|^ | $/

/**
 * Percent-encodes everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`), with
 * upper-case hex digits, over the UTF-8 bytes: SigV4's `UriEncode`.
 *
 * @throws SignerError `ERR_SIGNING_FAILED` for a string that is not valid UTF-16 (a lone
 *   surrogate has no UTF-8 form)
 */
export function uriEncode(value: string): string {
  let encoded: string
  try {
    encoded = encodeURIComponent(value)
  } catch {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: a path or query part is not valid Unicode')
  }
  return encoded.replace(SUB_DELIMS_LEFT_BY_ENCODE_URI, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * The canonical URI of a path for every service but S3: empty, '.' and '..' segments are
 * resolved, then each segment is URI-encoded once more (the wire path is already encoded, so
 * `%3A` becomes `%253A`). A leading slash stays, and a trailing one stays unless nothing else
 * remains. The same rules as smithy's `uriEscapePath: true` and botocore.
 */
export function canonicalUri(path: string): string {
  if (PLAIN_PATH.test(path) && !DOT_OR_EMPTY_SEGMENT.test(path)) return path === '' ? '/' : path
  const segments: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  const leading = path.startsWith('/') ? '/' : ''
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : ''
  const normalized = `${leading}${segments.map(uriEncode).join('/')}${trailing}`
  return normalized === '' ? '/' : normalized
}

/**
 * The canonical query string: every key and value URI-encoded, pairs sorted by encoded key and
 * then value, joined with '&'. `X-Amz-Signature` (any case) is left out, as a presigned URL's
 * signature cannot sign itself.
 */
export function canonicalQuery(params: QueryParameters): string {
  const pairs: string[] = []
  for (const key of Object.keys(params)) {
    if (key.toLowerCase() === 'x-amz-signature') continue
    const encodedKey = uriEncode(key)
    const value = params[key] as string | string[]
    for (const item of typeof value === 'string' ? [value] : value) pairs.push(`${encodedKey}=${uriEncode(item)}`)
  }
  return pairs.sort(compareQueryPairs).join('&')
}

/** Orders `key=value` pairs by key first (so `a=2` precedes `a-b=1`), then by value. */
function compareQueryPairs(left: string, right: string): number {
  const leftKey = left.slice(0, left.indexOf('='))
  const rightKey = right.slice(0, right.indexOf('='))
  if (leftKey !== rightKey) return leftKey < rightKey ? -1 : 1
  return left < right ? -1 : left > right ? 1 : 0
}

/**
 * A header value in canonical form: line breaks become spaces, runs of spaces and tabs become
 * one space, and a leading or trailing space is removed.
 */
export function canonicalHeaderValue(value: string): string {
  if (!NON_CANONICAL_VALUE.test(value)) return value
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')
}

/**
 * A header record by lower-case name: values of names equal up to case joined with ',' in key
 * order, as given (not yet canonical).
 */
export function joinHeadersByName(headers: Readonly<Record<string, string>>): Map<string, string> {
  const byName = new Map<string, string>()
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    const previous = byName.get(lower)
    byName.set(lower, previous === undefined ? value : `${previous},${value}`)
  }
  return byName
}

/**
 * Canonical headers of an arbitrary header record: names lower-cased, values of names equal up
 * to case joined with ',' in key order ({@link joinHeadersByName}), then each value in canonical
 * form, sorted by name.
 */
export function canonicalHeaders(headers: Readonly<Record<string, string>>): Array<[string, string]> {
  return [...joinHeadersByName(headers)]
    .map(([name, value]): [string, string] => [name, canonicalHeaderValue(value)])
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
}

/** Joins the parts into the canonical request text and its `SignedHeaders` list. */
export function assembleCanonicalRequest(parts: CanonicalRequestParts): CanonicalRequest {
  let headerBlock = ''
  let signedHeaders = ''
  for (const [name, value] of parts.headers) {
    headerBlock += `${name}:${value}\n`
    signedHeaders += signedHeaders === '' ? name : `;${name}`
  }
  return {
    text: `${parts.method}\n${parts.uri}\n${parts.query}\n${headerBlock}\n${signedHeaders}\n${parts.payloadSha256Hex}`,
    signedHeaders,
  }
}
