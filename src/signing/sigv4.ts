import { SignerError } from '../errors.js'
import type { CanonicalRequest } from './canonicalRequest.js'
import { sha256Hex } from './sha256.js'
import { SCOPE_TERMINATOR, signingKeyFor } from './signingKey.js'
import type { SigningCredentials } from './types.js'

/** The algorithm name that opens the string to sign and the `authorization` value. */
export const ALGORITHM = 'AWS4-HMAC-SHA256'

/** Where and when a request is signed. */
export interface SigningScope {
  readonly region: string
  readonly service: string
  readonly signingDate: Date
}

/** One signature and every intermediate value of it. */
export interface Sigv4Signature {
  /** The `authorization` header value. */
  readonly authorization: string
  /** `x-amz-date` as signed, e.g. `20150830T123600Z`. */
  readonly amzDate: string
  /** Algorithm, `x-amz-date`, credential scope and the canonical request's hash. */
  readonly stringToSign: string
  /** Lower-case hex SHA-256 of the canonical request (AWS shows it in `SignatureDoesNotMatch`). */
  readonly canonicalRequestSha256: string
  /** Lower-case hex signature (secret-derived: never log it). */
  readonly signature: string
}

// Requests of the same second share one formatted date.
let lastSecond = Number.NaN
let lastAmzDate = ''

/**
 * `x-amz-date` for a signing date: ISO 8601 basic format in UTC, whole seconds
 * (`YYYYMMDD'T'HHMMSS'Z'`).
 *
 * @throws SignerError `ERR_SIGNING_FAILED` for an invalid date or one outside years 0000–9999
 */
export function amzDateOf(date: Date): string {
  const second = Math.floor(date.getTime() / 1000)
  if (second === lastSecond) return lastAmzDate
  const year = date.getUTCFullYear()
  if (Number.isNaN(second) || year < 0 || year > 9999) {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: signing date is invalid')
  }
  const iso = date.toISOString()
  lastAmzDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`
  lastSecond = second
  return lastAmzDate
}


/**
 * Checks what every signature needs.
 *
 * @throws SignerError `ERR_ROUTE_TARGET_INCOMPLETE` for an empty region or service,
 *   `ERR_SIGNING_FAILED` for incomplete credentials
 */
export function assertSignable(credentials: SigningCredentials, scope: SigningScope): void {
  if (scope.region === '' || scope.service === '') {
    throw new SignerError(
      'ERR_ROUTE_TARGET_INCOMPLETE',
      'cannot sign request: signing region and service must both be non-empty',
    )
  }
  if (credentials.accessKeyId === '' || credentials.secretAccessKey === '') {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: credentials are incomplete')
  }
}

/**
 * Signs a canonical request: hashes it into the string to sign and signs that with the
 * (cached) signing key of the credentials, day, region and service. `amzDate` must be the
 * `x-amz-date` value the canonical request carries.
 */
export function signCanonicalRequest(
  canonical: CanonicalRequest,
  amzDate: string,
  scope: SigningScope,
  credentials: SigningCredentials,
): Sigv4Signature {
  const shortDate = amzDate.slice(0, 8)
  const credentialScope = `${shortDate}/${scope.region}/${scope.service}/${SCOPE_TERMINATOR}`
  const canonicalRequestSha256 = sha256Hex(canonical.text)
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${credentialScope}\n${canonicalRequestSha256}`
  const key = signingKeyFor(credentials, shortDate, scope.region, scope.service)
  const signature = key.signatureOf(stringToSign)
  return {
    authorization:
      `${ALGORITHM} Credential=${credentials.accessKeyId}/${credentialScope}, ` +
      `SignedHeaders=${canonical.signedHeaders}, Signature=${signature}`,
    amzDate,
    stringToSign,
    canonicalRequestSha256,
    signature,
  }
}
