import { Hash } from '@smithy/hash-node'

/**
 * Node's SHA-256 (and HMAC-SHA-256 when given a secret) as the hash constructor smithy expects:
 * `new Sha256(secret?)`.
 */
export const Sha256 = Hash.bind(null, 'sha256')
