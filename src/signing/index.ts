/**
 * The signing layer: pure functions that compute SigV4 signatures.
 *
 * `signRequest` signs the product's minimal header set (synchronously; the signing key is
 * derived once per credentials object, day, region and service); `planSignatureHeaders` turns
 * its result into header changes; `explainRequest` and `canonicalRequestHash` show its canonical
 * request (the explain command, debug logs), and `explainRequest` cross-checks it with
 * `@smithy/signature-v4`; `signHttpRequest` and `explainSignature` sign arbitrary requests over
 * the same core for the conformance checks (the AWS SigV4 test suite).
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
export { EMPTY_SHA256_HEX, sha256Hex } from './sha256.js'
export { smithyAuthorization } from './smithyReference.js'
export type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'
