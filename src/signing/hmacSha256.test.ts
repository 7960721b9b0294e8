import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { keyedHmacSha256Hex } from './hmacSha256.js'

const nodeHmac = (key: Uint8Array, message: string): string =>
  createHmac('sha256', key).update(message, 'utf8').digest('hex')

describe('keyedHmacSha256Hex', () => {
  it('gives the HMAC-SHA-256 test vectors of RFC 4231 (cases 1, 2 and 6)', () => {
    // Case 1: 20 bytes of 0x0b, "Hi There".
    expect(keyedHmacSha256Hex(Buffer.alloc(20, 0x0b))('Hi There')).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    )
    // Case 2: key "Jefe".
    expect(keyedHmacSha256Hex(Buffer.from('Jefe'))('what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
    // Case 6: a 131-byte key (longer than the block: hashed first).
    expect(
      keyedHmacSha256Hex(Buffer.alloc(131, 0xaa))('Test Using Larger Than Block-Size Key - Hash Key First'),
    ).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54')
  })

  it('agrees with createHmac for random keys and messages (also multi-byte, long and repeated)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.array(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 120 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (key, messages) => {
          const hmac = keyedHmacSha256Hex(key)
          for (const message of messages) expect(hmac(message)).toBe(nodeHmac(key, message))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('keeps the key intact while its scratch buffer grows and shrinks back to short messages', () => {
    const key = Buffer.from('c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9', 'hex')
    const hmac = keyedHmacSha256Hex(key)
    for (const message of ['short', 'x'.repeat(5000), '', 'é'.repeat(1000), 'short', '\ud800 lone surrogate']) {
      expect(hmac(message)).toBe(nodeHmac(key, message))
    }
  })

  it('does not depend on the caller changing the key buffer afterwards', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef')
    const hmac = keyedHmacSha256Hex(key)
    const expected = nodeHmac(key, 'message')
    key.fill(0)
    expect(hmac('message')).toBe(expected)
  })
})
