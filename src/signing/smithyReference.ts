import { SignatureV4 } from '@smithy/signature-v4'
import { SignerError } from '../errors.js'
import { parseQuery } from './parseQuery.js'
import { Sha256 } from './sha256.js'
import type { SignRequestInput } from './signRequest.js'
import type { SigningCredentials } from './types.js'

/**
 * Signs the product request of `input` with `@smithy/signature-v4` — the AWS SDK's signer, an
 * implementation independent of ours — and returns its `authorization` value. `explain` shows
 * whether it agrees with `signRequest`; tests hold the two to the same output.
 *
 * Smithy settings: `uriEscapePath: true` (every service but S3) and `applyChecksum: false`
 * with `x-amz-content-sha256` given as a header, which smithy then signs as the payload hash.
 *
 * @throws SignerError `ERR_SIGNING_FAILED` when smithy fails
 */
export async function smithyAuthorization(input: SignRequestInput, credentials: SigningCredentials): Promise<string> {
  const signer = new SignatureV4({
    credentials,
    region: input.region,
    service: input.service,
    sha256: Sha256,
    applyChecksum: false,
    uriEscapePath: true,
  })
  const headers: Record<string, string> = { host: input.host, 'x-amz-content-sha256': input.payloadSha256Hex }
  if (input.contentType !== undefined) headers['content-type'] = input.contentType
  try {
    const signed = await signer.sign(
      { method: input.method, protocol: 'https:', hostname: input.host, path: input.path, query: parseQuery(input.query), headers },
      { signingDate: input.signingDate, signingRegion: input.region, signingService: input.service },
    )
    return String(signed.headers.authorization)
  } catch (err) {
    const kind = err instanceof Error ? err.name : typeof err
    throw new SignerError('ERR_SIGNING_FAILED', `cannot sign request with smithy: ${kind}`, { cause: err })
  }
}
