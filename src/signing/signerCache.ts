import type { SignatureV4 } from '@smithy/signature-v4'
import { createSigner, type SignerSettings } from './smithyAdapter.js'
import type { SigningCredentials } from './types.js'

// Keyed by object identity: a credentials object is immutable and stands for one
// (key, secret, token) triple, so its signer can be reused. The WeakMap holds nothing callers
// can observe, and an entry goes away with its credentials object (e.g. after a refresh).
const signers = new WeakMap<SigningCredentials, SignatureV4>()

/**
 * Settings of the product signer: `applyChecksum: false`, because {@link signRequest} always
 * supplies `x-amz-content-sha256` itself (smithy then neither hashes a body nor adds the
 * header); `uriEscapePath: true`, which AWS requires for every service except S3.
 */
export const PRODUCT_SIGNER_SETTINGS: SignerSettings = Object.freeze({
  applyChecksum: false,
  uriEscapePath: true,
})

/**
 * Returns the product signer for a credentials object, creating it on first use.
 *
 * Settings: {@link PRODUCT_SIGNER_SETTINGS}.
 */
export function signerFor(credentials: SigningCredentials): SignatureV4 {
  let signer = signers.get(credentials)
  if (signer === undefined) {
    signer = createSigner(credentials, PRODUCT_SIGNER_SETTINGS)
    signers.set(credentials, signer)
  }
  return signer
}
