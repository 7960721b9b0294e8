/**
 * The independent `aws4` package, set up to sign exactly the product's minimal header set, so
 * tests can hold `signRequest` (and what `explain` prints) to an implementation that is not ours.
 */
import aws4 from 'aws4'
import type { SignRequestInput, SigningCredentials } from '../../src/signing/index.js'

/** `x-amz-date` of a date, formatted here rather than by the signer under test. */
function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '')
}

/**
 * An `aws4` signer for the request `signRequest` signs for `input`:
 * - no `body` is passed, so aws4 adds neither `Content-Type`
 *   (`application/x-www-form-urlencoded` by default) nor `Content-Length`;
 * - `X-Amz-Content-Sha256` is passed as a header, which aws4 uses as the payload hash instead of
 *   hashing the (absent) body, and signs like any other header;
 * - `X-Amz-Date` is passed, which aws4 uses as the signing time instead of the clock;
 * - aws4 adds `X-Amz-Security-Token` itself when the credentials carry a session token;
 * - the query goes into `path` after '?'; aws4 parses it with Node's `querystring` ('+' is a
 *   space, repeated keys become arrays) and encodes the path segments once more.
 */
export function aws4SignerFor(input: SignRequestInput, credentials: SigningCredentials): aws4.RequestSigner {
  const headers: Record<string, string> = {
    Host: input.host,
    'X-Amz-Date': amzDate(input.signingDate),
    'X-Amz-Content-Sha256': input.payloadSha256Hex,
  }
  if (input.contentType !== undefined) headers['Content-Type'] = input.contentType
  return new aws4.RequestSigner(
    {
      method: input.method,
      host: input.host,
      path: input.query === '' ? input.path : `${input.path}?${input.query}`,
      service: input.service,
      region: input.region,
      headers,
    },
    { ...credentials },
  )
}

/** The `authorization` value `aws4` computes for `input` (see {@link aws4SignerFor}). */
export function aws4Authorization(input: SignRequestInput, credentials: SigningCredentials): string {
  return String(aws4SignerFor(input, credentials).sign().headers?.Authorization)
}
