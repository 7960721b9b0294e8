import { signHttpRequestExplained } from './signCanonical.js'
import type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'

/** Every intermediate value of one SigV4 signature, for debugging a 403. */
export interface SignatureExplanation {
  /** The signed header set, as `signHttpRequest` returns it. */
  readonly headers: Record<string, string>
  /** The canonical request whose SHA-256 the string to sign carries. */
  readonly canonicalRequest: string
  /** The string to sign (algorithm, date, scope, hashed canonical request). */
  readonly stringToSign: string
  /** The hex signature from the `authorization` header. */
  readonly signature: string
}

/**
 * Signs like `signHttpRequest` and also returns the canonical request and string to sign, so
 * they can be compared with what AWS computed (AWS returns its canonical request in some 403
 * bodies) or with a test vector.
 *
 * @throws SignerError as `signHttpRequest`
 */
export async function explainSignature(
  request: HttpRequestToSign,
  credentials: SigningCredentials,
  options: CanonicalSigningOptions,
): Promise<SignatureExplanation> {
  return signHttpRequestExplained(request, credentials, options)
}
