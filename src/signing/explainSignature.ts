import { SignatureV4 } from '@smithy/signature-v4'
import { runSigner, toSmithyRequest } from './smithyAdapter.js'
import { Sha256 } from './sha256.js'
import type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'

/** Every intermediate value of one SigV4 signature, for debugging a 403. */
export interface SignatureExplanation {
  /** The signed header set, as {@link signHttpRequest} returns it. */
  readonly headers: Record<string, string>
  /** The canonical request whose SHA-256 the string to sign carries. */
  readonly canonicalRequest: string
  /** The string to sign (algorithm, date, scope, hashed canonical request). */
  readonly stringToSign: string
  /** The hex signature from the `authorization` header. */
  readonly signature: string
}

type CanonicalRequestArgs = Parameters<SignatureV4['createCanonicalRequest']>
type StringToSignArgs = Parameters<SignatureV4['createStringToSign']>

/**
 * A smithy signer that remembers the canonical request and string to sign it builds.
 *
 * Both are smithy's own protected steps, called by `sign`; overriding them only records their
 * results, so nothing of SigV4 is re-implemented. One instance serves one signature.
 */
export class RecordingSignatureV4 extends SignatureV4 {
  canonicalRequest: string | undefined
  stringToSign: string | undefined

  protected override createCanonicalRequest(...args: CanonicalRequestArgs): string {
    this.canonicalRequest = super.createCanonicalRequest(...args)
    return this.canonicalRequest
  }

  protected override async createStringToSign(...args: StringToSignArgs): Promise<string> {
    this.stringToSign = await super.createStringToSign(...args)
    return this.stringToSign
  }
}

/**
 * Signs like {@link signHttpRequest} and also returns smithy's canonical request and string to
 * sign, so they can be compared with what the server computed (AWS returns its canonical
 * request in some 403 bodies).
 *
 * @throws SignerError as {@link signHttpRequest}
 */
export async function explainSignature(
  request: HttpRequestToSign,
  credentials: SigningCredentials,
  options: CanonicalSigningOptions,
): Promise<SignatureExplanation> {
  const signer = new RecordingSignatureV4({
    credentials,
    region: options.region,
    service: options.service,
    sha256: Sha256,
    applyChecksum: options.applyChecksum,
    uriEscapePath: options.uriEscapePath ?? true,
  })
  const headers = await runSigner(signer, credentials, toSmithyRequest(request), options)
  const signature = /Signature=([0-9a-f]+)$/.exec(headers.authorization ?? '')?.[1] ?? ''
  return {
    headers,
    canonicalRequest: signer.canonicalRequest ?? '',
    stringToSign: signer.stringToSign ?? '',
    signature,
  }
}
