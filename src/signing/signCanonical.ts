import { createSigner, runSigner, toSmithyRequest } from './smithyAdapter.js'
import type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'

/** The result of {@link signHttpRequest}. */
export interface SignedHttpRequest {
  /**
   * Every header of the signed request, lower-case: the input headers plus `authorization`,
   * `x-amz-date`, `x-amz-security-token` (with a session token) and `x-amz-content-sha256`
   * (with `applyChecksum`). A caller's `authorization`, `x-amz-date` and `date` are dropped
   * first, as smithy does.
   */
  readonly headers: Record<string, string>
}

/**
 * Signs an arbitrary HTTP request with SigV4 (`@smithy/signature-v4`), the general form used by
 * the conformance checks and the explain tool. The product path is {@link signRequest}.
 *
 * Every given header is signed except those smithy never signs (`user-agent`, `connection`,
 * `transfer-encoding`, `expect`, `x-amzn-trace-id`, `proxy-*`, `sec-*`, …). The input is not
 * mutated.
 *
 * @throws SignerError see `runSigner` in `smithyAdapter.ts`
 */
export async function signHttpRequest(
  request: HttpRequestToSign,
  credentials: SigningCredentials,
  options: CanonicalSigningOptions,
): Promise<SignedHttpRequest> {
  const signer = createSigner(credentials, {
    applyChecksum: options.applyChecksum,
    uriEscapePath: options.uriEscapePath ?? true,
  })
  const headers = await runSigner(signer, credentials, toSmithyRequest(request), options)
  return { headers }
}
