import { SignerError } from '../errors.js'
import { canonicalHeaderValue, canonicalQuery, canonicalUri, type CanonicalRequest } from './canonicalRequest.js'
import { parseQuery } from './parseQuery.js'
import { amzDateOf, assertSignable, signCanonicalRequest, type Sigv4Signature } from './sigv4.js'
import type { SigningCredentials } from './types.js'

/** What {@link signRequest} needs to know about one upstream request. */
export interface SignRequestInput {
  readonly method: string
  /** The upstream authority (`host[:port]`) exactly as it will be sent. */
  readonly host: string
  /** The upstream path as sent on the wire: percent-encoding kept, no query. */
  readonly path: string
  /** The raw query string without '?'; '' when there is none. */
  readonly query: string
  /** The `content-type` header as forwarded, if the request has one. */
  readonly contentType?: string
  /** Lower-case hex SHA-256 of the exact body bytes forwarded upstream. */
  readonly payloadSha256Hex: string
  readonly region: string
  readonly service: string
  readonly signingDate: Date
}

/** The header values a signed request must carry. */
export interface SignatureHeaders {
  readonly authorization: string
  /** `x-amz-date`, e.g. `20150830T123600Z`. */
  readonly amzDate: string
  /** `x-amz-content-sha256`: the payload hash that was signed. */
  readonly contentSha256: string
  /** `x-amz-security-token`, present exactly when the credentials have a session token. */
  readonly securityToken?: string
}

/** A product signature with its canonical request, for `explainRequest` and debug logs. */
export interface ProductSignature {
  readonly headers: SignatureHeaders
  readonly canonicalRequest: CanonicalRequest
  readonly signature: Sigv4Signature
}

const SHA256_HEX = /^[0-9a-f]{64}$/
const PATH_WITHOUT_QUERY = /^\/[^?#]*$/

function assertWireInput(input: SignRequestInput): void {
  if (!SHA256_HEX.test(input.payloadSha256Hex)) {
    throw new SignerError(
      'ERR_SIGNING_FAILED',
      'cannot sign request: payload hash is not 64 lower-case hex digits',
    )
  }
  if (!PATH_WITHOUT_QUERY.test(input.path)) {
    throw new SignerError(
      'ERR_SIGNING_FAILED',
      'cannot sign request: path must start with "/" and carry no query or fragment',
    )
  }
  if (input.host === '' || input.method === '') {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: host and method are required')
  }
}

/**
 * `SignedHeaders` of the minimal header set, by whether `content-type` and a session token are
 * present. Only headers Envoy forwards unchanged belong here: `content-length`,
 * `transfer-encoding` and `connection` can change hop by hop (Envoy may re-frame the body), and
 * `x-forwarded-*`, `x-request-id`, `x-envoy-*` and `user-agent` are added or rewritten by proxies
 * after us. Signing any of them risks a 403.
 */
const SIGNED_HEADERS = {
  plain: 'host;x-amz-content-sha256;x-amz-date',
  withToken: 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token',
  withContentType: 'content-type;host;x-amz-content-sha256;x-amz-date',
  withBoth: 'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token',
} as const

/**
 * The canonical request of the minimal header set, written out directly (names in canonical
 * order: content-type, host, x-amz-content-sha256, x-amz-date, x-amz-security-token).
 */
function minimalCanonicalRequest(
  input: SignRequestInput,
  amzDate: string,
  credentials: SigningCredentials,
  token: string | undefined,
): CanonicalRequest {
  const contentType = input.contentType
  const signedHeaders =
    contentType === undefined
      ? token === undefined ? SIGNED_HEADERS.plain : SIGNED_HEADERS.withToken
      : token === undefined ? SIGNED_HEADERS.withContentType : SIGNED_HEADERS.withBoth
  const contentTypeLine = contentType === undefined ? '' : `content-type:${canonicalHeaderValue(contentType)}\n`
  const tokenLine = token === undefined ? '' : securityTokenLine(credentials, token)
  const query = input.query === '' ? '' : canonicalQuery(parseQuery(input.query))
  const hash = input.payloadSha256Hex
  const text =
    `${input.method}\n${canonicalUri(input.path)}\n${query}\n${contentTypeLine}` +
    `host:${canonicalHeaderValue(input.host)}\nx-amz-content-sha256:${hash}\nx-amz-date:${amzDate}\n` +
    `${tokenLine}\n${signedHeaders}\n${hash}`
  return { text, signedHeaders }
}

/** The canonical `x-amz-security-token` line of each credentials object, with the token it is of. */
const tokenLines = new WeakMap<SigningCredentials, { readonly token: string; readonly line: string }>()

/**
 * The canonical `x-amz-security-token` line, once per credentials object: a session token is
 * commonly several hundred to over a thousand characters (STS promises no size), and scanning
 * it for whitespace on every request took about a tenth of a signature.
 */
function securityTokenLine(credentials: SigningCredentials, token: string): string {
  const cached = tokenLines.get(credentials)
  if (cached !== undefined && cached.token === token) return cached.line
  const line = `x-amz-security-token:${canonicalHeaderValue(token)}\n`
  tokenLines.set(credentials, { token, line })
  return line
}

/**
 * Signs `input` and returns the headers with the canonical request and every intermediate
 * value. {@link signRequest} is this without the extras.
 *
 * @throws SignerError as {@link signRequest}
 */
export function signProductRequest(input: SignRequestInput, credentials: SigningCredentials): ProductSignature {
  assertWireInput(input)
  assertSignable(credentials, input)
  const amzDate = amzDateOf(input.signingDate)
  // An empty session token means long-term keys, as the AWS SDKs read it.
  const token = credentials.sessionToken === undefined || credentials.sessionToken === '' ? undefined : credentials.sessionToken
  const canonicalRequest = minimalCanonicalRequest(input, amzDate, credentials, token)
  const signature = signCanonicalRequest(canonicalRequest, amzDate, input, credentials)
  const headers: SignatureHeaders = {
    authorization: signature.authorization,
    amzDate,
    contentSha256: input.payloadSha256Hex,
    ...(token !== undefined ? { securityToken: token } : {}),
  }
  return { headers, canonicalRequest, signature }
}

/**
 * Signs one upstream request with SigV4 and returns the headers to set on it. Synchronous: the
 * signing key is derived once per credentials object, day, region and service, so a request
 * costs one SHA-256 of the canonical request and one HMAC.
 *
 * Signed headers are exactly `host`, `x-amz-date`, `x-amz-content-sha256`, plus
 * `x-amz-security-token` with a session token and `content-type` when given. The body is never
 * passed: its hash is. The canonical URI is the wire path encoded once more (every service but
 * S3; `%3A` becomes `%253A`, as botocore and smithy do), the query is decoded leniently
 * (`parseQuery`) and encoded canonically. The input is not mutated.
 *
 * The same canonical request as `@smithy/signature-v4` with `uriEscapePath: true` and
 * `applyChecksum: false` over these headers; the tests hold both, and `aws4`, to that.
 *
 * @throws SignerError `ERR_ROUTE_TARGET_INCOMPLETE` for an empty region or service;
 *   `ERR_SIGNING_FAILED` for malformed input, an invalid date or incomplete credentials
 */
export function signRequest(input: SignRequestInput, credentials: SigningCredentials): SignatureHeaders {
  return signProductRequest(input, credentials).headers
}
