import { createHash } from 'node:crypto'
import aws4 from 'aws4'
import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { canonicalRequestHash, explainRequest } from './explainRequest.js'
import { signRequest } from './signRequest.js'
import type { SignRequestInput } from './signRequest.js'
import type { SigningCredentials } from './types.js'

// The AWS SigV4 test suite's example key pair (not a real credential).
const LONG_TERM: SigningCredentials = Object.freeze({
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
})
const TEMPORARY: SigningCredentials = Object.freeze({
  ...LONG_TERM,
  sessionToken: 'TOKEN/abc+def==',
})

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex')

const input: SignRequestInput = {
  method: 'POST',
  host: 'bedrock-agentcore.us-west-2.amazonaws.com',
  path: '/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmcp' +
    '/invocations',
  query: 'qualifier=DEFAULT',
  contentType: 'application/json',
  payloadSha256Hex: sha256Hex('{"jsonrpc":"2.0","id":1,"method":"ping"}'),
  region: 'us-west-2',
  service: 'bedrock-agentcore',
  signingDate: new Date('2015-08-30T12:36:00Z'),
}

/** aws4's canonical request for the minimal header set (see signRequest.test.ts). */
function aws4CanonicalRequest(credentials: SigningCredentials): string {
  const headers: Record<string, string> = {
    Host: input.host,
    'X-Amz-Date': '20150830T123600Z',
    'X-Amz-Content-Sha256': input.payloadSha256Hex,
    'Content-Type': input.contentType as string,
  }
  const signer = new aws4.RequestSigner(
    {
      method: input.method,
      host: input.host,
      path: `${input.path}?${input.query}`,
      service: input.service,
      region: input.region,
      headers,
    },
    { ...credentials },
  )
  return signer.canonicalString()
}

describe('explainRequest', () => {
  it.each([
    ['long-term', LONG_TERM],
    ['temporary', TEMPORARY],
  ])('returns the headers signRequest returns (%s credentials)', async (_name, credentials) => {
    const explained = await explainRequest(input, credentials)
    expect(explained.signed).toEqual(await signRequest(input, credentials))
    expect(explained.signed.authorization.endsWith(`Signature=${explained.signature}`)).toBe(true)
    expect(explained.signature).toMatch(/^[0-9a-f]{64}$/)
  })

  it('returns the canonical request aws4 builds, its hash and the string to sign', async () => {
    const explained = await explainRequest(input, TEMPORARY)
    expect(explained.canonicalRequest).toBe(aws4CanonicalRequest(TEMPORARY))
    expect(explained.canonicalRequest).toContain('x-amz-security-token:TOKEN/abc+def==\n')
    expect(explained.canonicalRequestSha256).toBe(sha256Hex(explained.canonicalRequest))
    expect(explained.stringToSign.split('\n')).toEqual([
      'AWS4-HMAC-SHA256',
      '20150830T123600Z',
      '20150830/us-west-2/bedrock-agentcore/aws4_request',
      explained.canonicalRequestSha256,
    ])
  })

  it('rejects malformed input as signRequest does', async () => {
    const bad = { ...input, path: '/mcp?x=1' }
    await expect(explainRequest(bad, LONG_TERM)).rejects.toSatisfy((err: unknown) =>
      isSignerError(err, 'ERR_SIGNING_FAILED'))
  })
})

describe('canonicalRequestHash', () => {
  it('is the SHA-256 of the canonical request, which depends on the session token', async () => {
    const withToken = await canonicalRequestHash(input, TEMPORARY)
    const without = await canonicalRequestHash(input, LONG_TERM)
    expect(withToken).toBe(sha256Hex(aws4CanonicalRequest(TEMPORARY)))
    expect(without).toBe(sha256Hex(aws4CanonicalRequest(LONG_TERM)))
    expect(withToken).not.toBe(without)
  })
})
