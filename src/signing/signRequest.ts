import { SignerError } from '../errors.js'
import { parseQuery } from './parseQuery.js'
import { signerFor } from './signerCache.js'
import { runSigner } from './smithyAdapter.js'
import type { SmithyRequest } from './smithyAdapter.js'
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

const SHA256_HEX = /^[0-9a-f]{64}$/

function assertWireInput(input: SignRequestInput): void {
  if (!SHA256_HEX.test(input.payloadSha256Hex)) {
    throw new SignerError(
      'ERR_SIGNING_FAILED',
      'cannot sign request: payload hash is not 64 lower-case hex digits',
    )
  }
  if (!input.path.startsWith('/') || /[?#]/.test(input.path)) {
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
 * Builds the minimal header set that is signed. Only headers Envoy forwards unchanged belong
 * here: `content-length`, `transfer-encoding` and `connection` can change hop by hop (Envoy
 * may re-frame the body), and `x-forwarded-*`, `x-request-id`, `x-envoy-*` and `user-agent`
 * are added or rewritten by proxies after us. Signing any of them risks a 403.
 * `x-amz-date` and `x-amz-security-token` are added by smithy.
 */
function minimalHeaders(input: SignRequestInput): Record<string, string> {
  const headers: Record<string, string> = {
    host: input.host,
    // Present as a header, smithy takes the payload hash from it and never sees a body.
    'x-amz-content-sha256': input.payloadSha256Hex,
  }
  if (input.contentType !== undefined) headers['content-type'] = input.contentType
  return headers
}

/**
 * The smithy request {@link signRequest} signs for `input`, after checking it: the wire path
 * and parsed query, and exactly the minimal header set. Shared with `explainRequest` so the
 * explanation is of the very request the server signs.
 *
 * @throws SignerError `ERR_SIGNING_FAILED` for malformed input
 */
export function productRequest(input: SignRequestInput): SmithyRequest {
  assertWireInput(input)
  return {
    method: input.method,
    protocol: 'https:',
    // Smithy never reads hostname while signing; the signed authority is the host header.
    hostname: input.host,
    // The wire path goes in unchanged. With uriEscapePath=true smithy URI-encodes it once more
    // (`%3A` becomes `%253A` in the canonical request), which is what AWS expects for every
    // service except S3: the canonical URI is the encoded form of the already-encoded path.
    // botocore does the same (see the MCP vector in shared/oracles/mcp-sigv4).
    path: input.path,
    query: parseQuery(input.query),
    headers: minimalHeaders(input),
  }
}

/** The {@link SignatureHeaders} of smithy's signed header set for `input`. */
export function signatureHeadersOf(
  input: SignRequestInput,
  signed: Readonly<Record<string, string>>,
): SignatureHeaders {
  const result: SignatureHeaders = {
    authorization: signed.authorization ?? '',
    amzDate: signed['x-amz-date'] ?? '',
    contentSha256: input.payloadSha256Hex,
  }
  const token = signed['x-amz-security-token']
  return token === undefined ? result : { ...result, securityToken: token }
}

/**
 * Signs one upstream request with SigV4 and returns the headers to set on it.
 *
 * Signed headers are exactly `host`, `x-amz-date`, `x-amz-content-sha256`, plus
 * `x-amz-security-token` with a session token and `content-type` when given. The body is never
 * passed: its hash is. The input is not mutated, and one smithy signer is reused per
 * credentials object.
 *
 * @throws SignerError `ERR_ROUTE_TARGET_INCOMPLETE` for an empty region or service;
 *   `ERR_SIGNING_FAILED` for malformed input, incomplete credentials or a signer failure
 */
export async function signRequest(
  input: SignRequestInput,
  credentials: SigningCredentials,
): Promise<SignatureHeaders> {
  const request = productRequest(input)
  const signed = await runSigner(signerFor(credentials), credentials, request, input)
  return signatureHeadersOf(input, signed)
}
