import { signProductRequest } from './signRequest.js'
import type { SignatureHeaders, SignRequestInput } from './signRequest.js'
import { smithyAuthorization } from './smithyReference.js'
import type { SigningCredentials } from './types.js'

/** One product signature with its intermediate values, for debugging a 403. */
export interface RequestExplanation {
  /** The headers `signRequest` returns for the same input and credentials. */
  readonly signed: SignatureHeaders
  /** The canonical request, exactly as hashed for the string to sign. */
  readonly canonicalRequest: string
  /** The string to sign (algorithm, `x-amz-date`, credential scope, canonical request hash). */
  readonly stringToSign: string
  /** Lower-case hex SHA-256 of {@link canonicalRequest}: the last line of the string to sign. */
  readonly canonicalRequestSha256: string
  /** The hex signature from `authorization` (a secret-derived value: never log or print it). */
  readonly signature: string
  /** Whether `@smithy/signature-v4`, signing the same request independently, agrees. */
  readonly smithyAgrees: boolean
}

/**
 * Signs `input` exactly as `signRequest` does and also returns the canonical request, the
 * string to sign and the canonical request's SHA-256 — and signs it once more with
 * `@smithy/signature-v4` to say whether an independent implementation agrees. For the same
 * input (signing date included) and credentials, `signed` equals what `signRequest` returns.
 *
 * @throws SignerError as `signRequest`
 */
export async function explainRequest(
  input: SignRequestInput,
  credentials: SigningCredentials,
): Promise<RequestExplanation> {
  const product = signProductRequest(input, credentials)
  const reference = await smithyAuthorization(input, credentials)
  return {
    signed: product.headers,
    canonicalRequest: product.canonicalRequest.text,
    stringToSign: product.signature.stringToSign,
    canonicalRequestSha256: product.signature.canonicalRequestSha256,
    signature: product.signature.signature,
    smithyAgrees: reference === product.headers.authorization,
  }
}

/**
 * The lower-case hex SHA-256 of the canonical request `signRequest` signs for `input`. AWS's
 * `SignatureDoesNotMatch` message shows the canonical request and string to sign it computed
 * (whose last line is this hash), so a debug log line carrying it shows whether AWS received
 * what was signed — without logging anything secret. It signs a second time (a few
 * microseconds): call it only when debug logging is enabled. Pass the very `input` (signing
 * date included) and credentials object given to `signRequest`.
 *
 * @throws SignerError as `signRequest`
 */
export function canonicalRequestHash(input: SignRequestInput, credentials: SigningCredentials): string {
  return signProductRequest(input, credentials).signature.canonicalRequestSha256
}
