import { describe, expect, it } from 'vitest'
import { signerFor } from './signerCache.js'

describe('signerFor', () => {
  it('reuses one signer per credentials object', () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }
    expect(signerFor(credentials)).toBe(signerFor(credentials))
  })

  it('gives an equal but distinct credentials object its own signer', () => {
    const first = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }
    const second = { ...first }
    expect(signerFor(first)).not.toBe(signerFor(second))
  })
})
