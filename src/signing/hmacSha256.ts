import { hash } from 'node:crypto'

/** SHA-256's block size (RFC 2104's B) and digest size, in bytes. */
const BLOCK_BYTES = 64
const DIGEST_BYTES = 32
/** Room for the message after the inner pad before the scratch buffer has to grow. */
const INITIAL_MESSAGE_BYTES = 192

/** Lower-case hex HMAC-SHA-256 of a string (as UTF-8) under a key fixed in advance. */
export type HmacSha256Hex = (message: string) => string

/**
 * HMAC-SHA-256 under one key, for many short messages — the SigV4 signature over each string to
 * sign with a cached signing key. RFC 2104:
 *
 *     HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m))
 *
 * with K' the key zero-padded to the 64-byte block (hashed first when longer). The two padded
 * blocks are computed once per key; a message then costs two one-shot `crypto.hash` calls over
 * buffers this key reuses (safe: everything here is synchronous), where Node's `createHmac`
 * builds an Hmac object with its own native handle and OpenSSL context on every call. Alone, in
 * a loop, both cost the same; in the server, paired bench runs measured the signed path's extra
 * CPU about halved (README, Performance, item 7). `hmacSha256.test.ts` holds it to RFC 4231 and
 * to `createHmac` for random keys and messages.
 */
export function keyedHmacSha256Hex(key: Uint8Array): HmacSha256Hex {
  const block = Buffer.alloc(BLOCK_BYTES)
  block.set(key.length > BLOCK_BYTES ? hash('sha256', key, 'buffer') : key)
  // inner: (K' ⊕ ipad) ‖ message; outer: (K' ⊕ opad) ‖ inner digest.
  let inner = Buffer.allocUnsafe(BLOCK_BYTES + INITIAL_MESSAGE_BYTES)
  const outer = Buffer.allocUnsafe(BLOCK_BYTES + DIGEST_BYTES)
  for (let i = 0; i < BLOCK_BYTES; i++) {
    inner[i] = (block[i] as number) ^ 0x36
    outer[i] = (block[i] as number) ^ 0x5c
  }
  block.fill(0)
  return (message) => {
    const length = Buffer.byteLength(message, 'utf8')
    if (BLOCK_BYTES + length > inner.length) {
      const grown = Buffer.allocUnsafe(BLOCK_BYTES + length)
      inner.copy(grown, 0, 0, BLOCK_BYTES)
      inner = grown
    }
    inner.write(message, BLOCK_BYTES, 'utf8')
    // The inner digest as a 'binary' (latin1, one byte per character) string, written into
    // place: Node allocates a Buffer for a 'buffer' digest, which costs more than this hash.
    outer.write(hash('sha256', inner.subarray(0, BLOCK_BYTES + length), 'binary'), BLOCK_BYTES, 'binary')
    return hash('sha256', outer, 'hex')
  }
}
