import * as crypto from 'node:crypto'
import { Hash } from '@smithy/hash-node'

/**
 * Node's SHA-256 (and HMAC-SHA-256 when given a secret) as the hash constructor smithy expects:
 * `new Sha256(secret?)`. Used by the smithy cross-check only.
 */
export const Sha256 = Hash.bind(null, 'sha256')

type OneShotHash = (algorithm: string, data: string | NodeJS.ArrayBufferView, outputEncoding: 'hex') => string

// `crypto.hash` (Node 20.12+) hashes without creating a Hash object: about half the CPU for
// small inputs, and no native handle for the garbage collector to finalize.
const oneShot = (crypto as { hash?: OneShotHash }).hash

/** Lower-case hex SHA-256 of a string (as UTF-8) or of bytes, in one call. */
export const sha256Hex: (data: string | NodeJS.ArrayBufferView) => string =
  oneShot !== undefined
    ? (data) => oneShot('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data as string).digest('hex')
