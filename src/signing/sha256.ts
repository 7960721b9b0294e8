import * as crypto from 'node:crypto'
import { Hash } from '@smithy/hash-node'

/**
 * Node's SHA-256 (and HMAC-SHA-256 when given a secret) as the hash constructor smithy expects:
 * `new Sha256(secret?)`. Used by the smithy cross-check only.
 */
export const Sha256 = Hash.bind(null, 'sha256')

/**
 * Lower-case hex SHA-256 of a string (as UTF-8) or of bytes, in one call: `crypto.hash` creates
 * no Hash object — about half the CPU for small inputs, and no native handle for the garbage
 * collector to finalize.
 */
export const sha256Hex = (data: string | NodeJS.ArrayBufferView): string => crypto.hash('sha256', data, 'hex')

/** SHA-256 of the empty payload (GET, DELETE, a request without body). */
export const EMPTY_SHA256_HEX = sha256Hex('')
