import { SignerError } from '../errors.js'
import {
  assembleCanonicalRequest,
  canonicalHeaders,
  canonicalQuery,
  canonicalUri,
  joinHeadersByName,
} from './canonicalRequest.js'
import { amzDateOf, assertSignable, signCanonicalRequest } from './sigv4.js'
import { EMPTY_SHA256_HEX, sha256Hex } from './sha256.js'
import type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'

/** The result of {@link signHttpRequest}. */
export interface SignedHttpRequest {
  /**
   * Every header of the signed request, lower-case: the input headers plus `authorization`,
   * `x-amz-date`, `x-amz-security-token` (with a session token) and `x-amz-content-sha256`
   * (with `applyChecksum`). A caller's `authorization`, `x-amz-date` and `date` are dropped
   * first.
   */
  readonly headers: Record<string, string>
}

/** Every intermediate value of one general signature (see {@link signHttpRequestExplained}). */
export interface ExplainedHttpSignature extends SignedHttpRequest {
  readonly canonicalRequest: string
  readonly stringToSign: string
  readonly signature: string
}

/** Replaced by the signature, never signed as sent. */
const GENERATED = new Set(['authorization', 'x-amz-date', 'date'])

/**
 * Headers the AWS SDKs never sign because proxies may add, drop or rewrite them (the same list
 * as the JavaScript SDK's signer), plus `proxy-*` and `sec-*`.
 */
const UNSIGNABLE = new Set([
  'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards',
  'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
])
const isSignable = (name: string): boolean => !UNSIGNABLE.has(name) && !/^(?:proxy|sec)-/.test(name)

function payloadHashOf(headers: Readonly<Record<string, string>>, body: string | Uint8Array | undefined): string {
  const given = headers['x-amz-content-sha256']
  if (given !== undefined) return given
  return body === undefined ? EMPTY_SHA256_HEX : sha256Hex(body)
}

/**
 * Signs an arbitrary HTTP request and returns every intermediate value. Headers equal up to
 * case are joined with ','; the product path is `signRequest`.
 *
 * @throws SignerError `ERR_ROUTE_TARGET_INCOMPLETE` for an empty region or service,
 *   `ERR_SIGNING_FAILED` for an invalid date or incomplete credentials
 */
export function signHttpRequestExplained(
  request: HttpRequestToSign,
  credentials: SigningCredentials,
  options: CanonicalSigningOptions,
): ExplainedHttpSignature {
  if (typeof credentials.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: credentials are incomplete')
  }
  assertSignable(credentials, options)
  const amzDate = amzDateOf(options.signingDate)
  const headers: Record<string, string> = {}
  for (const [name, value] of joinHeadersByName(request.headers)) {
    if (!GENERATED.has(name)) headers[name] = value
  }
  headers['x-amz-date'] = amzDate
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') {
    headers['x-amz-security-token'] = credentials.sessionToken
  }
  const payloadSha256Hex = payloadHashOf(headers, request.body)
  if (options.applyChecksum) headers['x-amz-content-sha256'] ??= payloadSha256Hex
  const signable = canonicalHeaders(headers).filter(([name]) => isSignable(name))
  const canonical = assembleCanonicalRequest({
    method: request.method,
    uri: options.uriEscapePath === false ? request.path : canonicalUri(request.path),
    query: canonicalQuery(copyQuery(request.query)),
    headers: signable,
    payloadSha256Hex,
  })
  const signature = signCanonicalRequest(canonical, amzDate, options, credentials)
  return {
    headers: { ...headers, authorization: signature.authorization },
    canonicalRequest: canonical.text,
    stringToSign: signature.stringToSign,
    signature: signature.signature,
  }
}

function copyQuery(query: HttpRequestToSign['query']): Record<string, string | string[]> {
  const copy: Record<string, string | string[]> = {}
  for (const [key, value] of Object.entries(query)) copy[key] = typeof value === 'string' ? value : [...value]
  return copy
}

/**
 * Signs an arbitrary HTTP request with SigV4, the general form used by the conformance checks
 * (the AWS SigV4 test suite) over the same core as the product path `signRequest`.
 *
 * Every given header is signed except those the AWS SDKs never sign (`user-agent`,
 * `connection`, `transfer-encoding`, `expect`, `x-amzn-trace-id`, `proxy-*`, `sec-*`, …). The
 * input is not mutated.
 *
 * @throws SignerError as {@link signHttpRequestExplained}
 */
export async function signHttpRequest(
  request: HttpRequestToSign,
  credentials: SigningCredentials,
  options: CanonicalSigningOptions,
): Promise<SignedHttpRequest> {
  return { headers: signHttpRequestExplained(request, credentials, options).headers }
}
