/**
 * The signing layer: pure functions around `@smithy/signature-v4`.
 *
 * `signRequest` signs the product's minimal header set; `planSignatureHeaders` turns its result
 * into header changes; `explainRequest` and `canonicalRequestHash` re-sign a product request to
 * show its canonical request (the explain command, debug logs); `signHttpRequest` and
 * `explainSignature` sign arbitrary requests for the conformance checks.
 */
export { canonicalRequestHash, explainRequest } from './explainRequest.js'
export type { RequestExplanation } from './explainRequest.js'
export { explainSignature } from './explainSignature.js'
export type { SignatureExplanation } from './explainSignature.js'
export { parseQuery } from './parseQuery.js'
export type { QueryParameters } from './parseQuery.js'
export { planSignatureHeaders } from './signatureHeaderMutation.js'
export type { SignatureHeaderPlan } from './signatureHeaderMutation.js'
export { signHttpRequest } from './signCanonical.js'
export type { SignedHttpRequest } from './signCanonical.js'
export { signRequest } from './signRequest.js'
export type { SignatureHeaders, SignRequestInput } from './signRequest.js'
export type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'
