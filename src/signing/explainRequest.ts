import { createHash } from 'node:crypto'
import { RecordingSignatureV4 } from './explainSignature.js'
import { Sha256 } from './sha256.js'
import { PRODUCT_SIGNER_SETTINGS } from './signerCache.js'
import { productRequest, signatureHeadersOf } from './signRequest.js'
import type { SignatureHeaders, SignRequestInput } from './signRequest.js'
import { runSigner } from './smithyAdapter.js'
import type { SigningCredentials } from './types.js'

/** One product signature with its intermediate values, for debugging a 403. */
export interface RequestExplanation {
  /** The headers {@link signRequest} returns for the same input and credentials. */
  readonly signed: SignatureHeaders
  /** The canonical request, exactly as smithy built and hashed it. */
  readonly canonicalRequest: string
  /** The string to sign (algorithm, `x-amz-date`, credential scope, canonical request hash). */
  readonly stringToSign: string
  /** Lower-case hex SHA-256 of {@link canonicalRequest}: the last line of the string to sign. */
  readonly canonicalRequestSha256: string
  /** The hex signature from `authorization` (a secret-derived value: never log or print it). */
  readonly signature: string
}

/**
 * Signs `input` exactly as {@link signRequest} does — the same checked request, the same
 * minimal header set, the same smithy settings — and also returns the canonical request, the
 * string to sign and the canonical request's SHA-256. For the same input (signing date
 * included) and credentials, `signed` equals what `signRequest` returns.
 *
 * A fresh smithy signer records the two intermediate values (see `RecordingSignatureV4`), so
 * each call costs one complete extra signature and one signer allocation.
 *
 * @throws SignerError as {@link signRequest}
 */
export async function explainRequest(
  input: SignRequestInput,
  credentials: SigningCredentials,
): Promise<RequestExplanation> {
  const signer = new RecordingSignatureV4({
    credentials,
    region: input.region,
    service: input.service,
    sha256: Sha256,
    ...PRODUCT_SIGNER_SETTINGS,
  })
  const headers = await runSigner(signer, credentials, productRequest(input), input)
  const signed = signatureHeadersOf(input, headers)
  const canonicalRequest = signer.canonicalRequest ?? ''
  return {
    signed,
    canonicalRequest,
    stringToSign: signer.stringToSign ?? '',
    canonicalRequestSha256: createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
    signature: /Signature=([0-9a-f]+)$/.exec(signed.authorization)?.[1] ?? '',
  }
}

/**
 * The lower-case hex SHA-256 of the canonical request {@link signRequest} signs for `input`.
 * AWS's `SignatureDoesNotMatch` message shows the canonical request and string to sign it
 * computed (whose last line is this hash), so a debug log line carrying it shows whether AWS
 * received what was signed — without logging anything secret.
 *
 * Cost: it signs a second time (one canonicalization, two SHA-256 hashes, a signing-key
 * derivation of four HMACs plus the final HMAC, and a fresh signer object: tens of microseconds
 * per request). Call it only when debug logging is enabled (`logger.isLevelEnabled('debug')`),
 * never on the normal signing path. Pass the very `input` (signing date included) and
 * credentials object given to `signRequest`: a session token is part of the canonical request.
 *
 * @throws SignerError as {@link signRequest}
 */
export async function canonicalRequestHash(
  input: SignRequestInput,
  credentials: SigningCredentials,
): Promise<string> {
  return (await explainRequest(input, credentials)).canonicalRequestSha256
}
