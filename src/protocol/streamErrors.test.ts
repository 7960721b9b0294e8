import { describe, expect, it } from 'vitest'
import { SignerError, isSignerError } from '../errors.js'
import { asSignerError, bodyTooLarge, clientCaused } from './streamErrors.js'

describe('stream errors', () => {
  it('keeps a SignerError as it is', () => {
    const original = new SignerError('ERR_STS_FAILED', 'cannot fetch credentials: throttled')
    expect(asSignerError(original, 'ERR_SIGNING_FAILED', 'cannot sign')).toBe(original)
  })

  it('wraps anything else with the code and only the error class in the message', () => {
    const wrapped = asSignerError(new TypeError('secret detail AKIAEXAMPLE'), 'ERR_SIGNING_FAILED', 'cannot sign the request')
    expect(isSignerError(wrapped, 'ERR_SIGNING_FAILED')).toBe(true)
    expect(wrapped.message).toBe('cannot sign the request: unexpected TypeError')
    expect(asSignerError('a string', 'ERR_JSON_RPC_PARSE', 'cannot read').message).toBe('cannot read: unexpected failure')
  })

  it('classes 4xx codes as the client\'s and 5xx codes as ours', () => {
    expect(clientCaused('ERR_BODY_TOO_LARGE')).toBe(true)
    expect(clientCaused('ERR_STS_FAILED')).toBe(false)
    expect(bodyTooLarge(1024)).toMatchObject({
      code: 'ERR_BODY_TOO_LARGE',
      message: 'cannot sign the request: the body exceeds max_body_bytes (1024 bytes)',
    })
  })
})
