import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { explainSignature } from './explainSignature.js'
import { signHttpRequest } from './signCanonical.js'
import type { CanonicalSigningOptions, HttpRequestToSign, SigningCredentials } from './types.js'

const CREDENTIALS: SigningCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'TOKEN',
}
const OPTIONS: CanonicalSigningOptions = {
  region: 'us-east-1',
  service: 'service',
  signingDate: new Date('2015-08-30T12:36:00Z'),
  applyChecksum: false,
}
const REQUEST: HttpRequestToSign = {
  method: 'POST',
  hostname: 'example.amazonaws.com',
  path: '/a%3Ab/c',
  query: { z: 'last', a: ['2', '1'], 'sp ace': 'v w' },
  headers: {
    Host: 'example.amazonaws.com',
    'X-Custom': ' a   b ',
    'x-custom': 'c',
    'User-Agent': 'never-signed',
    'X-Amz-Date': '19990101T000000Z',
  },
  body: 'Param1=value1',
}
const BODY_HASH = createHash('sha256').update('Param1=value1').digest('hex')

describe('signHttpRequest and explainSignature', () => {
  it('builds the canonical request with the path encoded once more', async () => {
    const explained = await explainSignature(REQUEST, CREDENTIALS, OPTIONS)
    expect(explained.canonicalRequest).toBe([
      'POST',
      '/a%253Ab/c',
      'a=1&a=2&sp%20ace=v%20w&z=last',
      'host:example.amazonaws.com',
      'x-amz-date:20150830T123600Z',
      'x-amz-security-token:TOKEN',
      'x-custom:a b ,c',
      '',
      'host;x-amz-date;x-amz-security-token;x-custom',
      BODY_HASH,
    ].join('\n'))
    const hashed = createHash('sha256').update(explained.canonicalRequest).digest('hex')
    expect(explained.stringToSign).toBe(
      `AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n${hashed}`,
    )
    expect(explained.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date;x-amz-security-token;x-custom, ' +
        `Signature=${explained.signature}`,
    )
    expect(explained.signature).toMatch(/^[0-9a-f]{64}$/)
  })

  it('returns the same headers as explainSignature', async () => {
    const signed = await signHttpRequest(REQUEST, CREDENTIALS, OPTIONS)
    const explained = await explainSignature(REQUEST, CREDENTIALS, OPTIONS)
    expect(signed.headers).toEqual(explained.headers)
    expect(signed.headers).toMatchObject({
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      'x-amz-security-token': 'TOKEN',
      'user-agent': 'never-signed',
    })
    expect(signed.headers).not.toHaveProperty('x-amz-content-sha256')
  })

  it('adds and signs x-amz-content-sha256 with applyChecksum', async () => {
    const options = { ...OPTIONS, applyChecksum: true }
    const explained = await explainSignature(REQUEST, CREDENTIALS, options)
    expect(explained.headers['x-amz-content-sha256']).toBe(BODY_HASH)
    expect(explained.canonicalRequest).toContain(`\nx-amz-content-sha256:${BODY_HASH}\n`)
  })

  it('leaves the path alone with uriEscapePath false', async () => {
    const options = { ...OPTIONS, uriEscapePath: false }
    const explained = await explainSignature(REQUEST, CREDENTIALS, options)
    expect(explained.canonicalRequest.split('\n')[1]).toBe('/a%3Ab/c')
  })

  it('does not mutate the request', async () => {
    const request = structuredClone(REQUEST)
    await signHttpRequest(request, CREDENTIALS, OPTIONS)
    await explainSignature(request, CREDENTIALS, OPTIONS)
    expect(request).toEqual(REQUEST)
  })

  it('refuses credentials that are not strings, without echoing them', async () => {
    const broken = { accessKeyId: 'AKIDBROKEN', secretAccessKey: 42 } as unknown as SigningCredentials
    const error = await signHttpRequest(REQUEST, broken, OPTIONS).catch((err: unknown) => err)
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
    expect((error as Error).message).toBe('cannot sign request: credentials are incomplete')
  })
})
