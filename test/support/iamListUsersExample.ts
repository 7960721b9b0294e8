import type { CanonicalRequestParts } from '../../src/signing/canonicalRequest.js'

/** SHA-256 of the empty payload. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * AWS's documented SigV4 example ("Create a signed AWS API request"): IAM ListUsers, signed at
 * 20150830T123600Z in us-east-1 with the documentation's example key pair (not a real credential).
 * The canonical request's parts, and the hash and signature AWS gives for them.
 */
export const IAM_LIST_USERS_PARTS: CanonicalRequestParts = {
  method: 'GET',
  uri: '/',
  query: 'Action=ListUsers&Version=2010-05-08',
  headers: [
    ['content-type', 'application/x-www-form-urlencoded; charset=utf-8'],
    ['host', 'iam.amazonaws.com'],
    ['x-amz-date', '20150830T123600Z'],
  ],
  payloadSha256Hex: EMPTY_SHA256,
}
export const IAM_LIST_USERS_CANONICAL_SHA256 = 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59'
export const IAM_LIST_USERS_SIGNATURE = '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7'
