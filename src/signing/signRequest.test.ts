import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { aws4Authorization } from '../../test/support/aws4Reference.js'
import { catchError } from '../../test/support/catchError.js'
import { isSignerError } from '../errors.js'
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
const SIGNING_DATE = new Date('2015-08-30T12:36:00Z')
const AMZ_DATE = '20150830T123600Z'

const sha256Hex = (body: string): string => createHash('sha256').update(body, 'utf8').digest('hex')
const MCP_BODY = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}'

const base: SignRequestInput = {
  method: 'POST',
  host: 'bedrock-agentcore.us-west-2.amazonaws.com',
  path: '/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fmcp' +
    '/invocations',
  query: 'qualifier=DEFAULT',
  contentType: 'application/json',
  payloadSha256Hex: sha256Hex(MCP_BODY),
  region: 'us-west-2',
  service: 'bedrock-agentcore',
  signingDate: SIGNING_DATE,
}

function signedHeaderList(authorization: string): string[] {
  return /SignedHeaders=([^,]+),/.exec(authorization)?.[1]?.split(';') ?? []
}

const cases: Array<[string, SignRequestInput, SigningCredentials]> = [
  ['POST with a JSON body and content-type', base, LONG_TERM],
  ['GET with an empty body and a session token', {
    ...base,
    method: 'GET',
    path: '/mcp',
    query: '',
    contentType: undefined,
    payloadSha256Hex: sha256Hex(''),
  }, TEMPORARY],
  ['%3A in the path, repeated keys and spaces in the query', {
    ...base,
    path: '/runtimes/arn%3Aaws%3Abedrock/invocations',
    query: 'b=2&a=x+y&a=%20z&a%20b=c%20d&flag',
  }, TEMPORARY],
  ['a host with a port', {
    ...base,
    host: 'mcp.internal.example.com:8443',
    path: '/v1/mcp',
    query: '',
  }, LONG_TERM],
  ['dot segments and a doubled slash in the path', {
    ...base,
    path: '/a/./b//c/../mcp',
    query: '',
  }, LONG_TERM],
]

describe('signRequest', () => {
  it.each(cases)('agrees with aws4: %s', async (_name, input, credentials) => {
    const signed = await signRequest(input, credentials)
    expect(signed.authorization).toBe(aws4Authorization(input, credentials))
    const scope = `20150830/${input.region}/${input.service}/aws4_request`
    expect(signed.authorization.startsWith(`AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, `))
      .toBe(true)
    expect(signed.amzDate).toBe(AMZ_DATE)
    expect(signed.contentSha256).toBe(input.payloadSha256Hex)
    expect(signed.securityToken).toBe(credentials.sessionToken)
  })

  it('signs exactly host, x-amz-date, x-amz-content-sha256 and content-type', async () => {
    const signed = await signRequest(base, LONG_TERM)
    expect(signedHeaderList(signed.authorization)).toEqual([
      'content-type',
      'host',
      'x-amz-content-sha256',
      'x-amz-date',
    ])
    expect(signed).not.toHaveProperty('securityToken')
  })

  it('adds x-amz-security-token to the signed set only with a session token', async () => {
    const signed = await signRequest({ ...base, contentType: undefined }, TEMPORARY)
    expect(signedHeaderList(signed.authorization)).toEqual([
      'host',
      'x-amz-content-sha256',
      'x-amz-date',
      'x-amz-security-token',
    ])
    expect(signed.securityToken).toBe('TOKEN/abc+def==')
  })

  it('treats an empty session token as none', async () => {
    const signed = await signRequest(base, { ...LONG_TERM, sessionToken: '' })
    expect(signed.securityToken).toBeUndefined()
    expect(signed.authorization).toBe((await signRequest(base, LONG_TERM)).authorization)
  })

  it('does not mutate its input or the credentials', async () => {
    const input = Object.freeze({ ...base, signingDate: new Date(SIGNING_DATE) })
    const before = structuredClone(input)
    const credentials = Object.freeze({ ...TEMPORARY })
    await signRequest(input, credentials)
    expect(input).toEqual(before)
    expect(credentials).toEqual(TEMPORARY)
  })

  it('gives the same result for a reused and a fresh credentials object', async () => {
    const first = await signRequest(base, LONG_TERM)
    const again = await signRequest(base, LONG_TERM)
    const fresh = await signRequest(base, { ...LONG_TERM })
    expect(again).toEqual(first)
    expect(fresh).toEqual(first)
    const otherKey = await signRequest(base, { ...LONG_TERM, secretAccessKey: 'other' })
    expect(otherKey.authorization).not.toBe(first.authorization)
  })

  it('signs with the current token of a credentials object whose token changed', async () => {
    // The canonical token line is kept per credentials object; a changed token must not reuse it.
    const credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } = {
      ...LONG_TERM,
      sessionToken: 'FIRST  token',
    }
    const first = await signRequest(base, credentials)
    credentials.sessionToken = 'SECOND token'
    const second = await signRequest(base, credentials)
    expect(second.securityToken).toBe('SECOND token')
    expect(second.authorization).not.toBe(first.authorization)
    expect(first.authorization).toBe(aws4Authorization(base, { ...LONG_TERM, sessionToken: 'FIRST  token' }))
    expect(second.authorization).toBe(aws4Authorization(base, { ...LONG_TERM, sessionToken: 'SECOND token' }))
  })

  it('changes the signature when a signed part changes', async () => {
    const reference = (await signRequest(base, LONG_TERM)).authorization
    const variants: Array<Partial<SignRequestInput>> = [
      { host: 'other.amazonaws.com' },
      { path: '/other' },
      { query: 'qualifier=OTHER' },
      { contentType: 'text/plain' },
      { payloadSha256Hex: sha256Hex('other') },
      { signingDate: new Date('2015-08-30T12:36:01Z') },
    ]
    for (const variant of variants) {
      const signed = await signRequest({ ...base, ...variant }, LONG_TERM)
      expect(signed.authorization, JSON.stringify(variant)).not.toBe(reference)
    }
  })

  it.each<[string, Partial<SignRequestInput>, string]>([
    ['an empty region', { region: '' }, 'ERR_ROUTE_TARGET_INCOMPLETE'],
    ['an empty service', { service: '' }, 'ERR_ROUTE_TARGET_INCOMPLETE'],
    ['an upper-case hash', { payloadSha256Hex: sha256Hex('').toUpperCase() }, 'ERR_SIGNING_FAILED'],
    ['UNSIGNED-PAYLOAD', { payloadSha256Hex: 'UNSIGNED-PAYLOAD' }, 'ERR_SIGNING_FAILED'],
    ['a path with a query', { path: '/mcp?x=1' }, 'ERR_SIGNING_FAILED'],
    ['a relative path', { path: 'mcp' }, 'ERR_SIGNING_FAILED'],
    ['an empty host', { host: '' }, 'ERR_SIGNING_FAILED'],
    ['an invalid date', { signingDate: new Date(Number.NaN) }, 'ERR_SIGNING_FAILED'],
  ])('rejects %s', async (_name, variant, code) => {
    const error = catchError(() => signRequest({ ...base, ...variant }, LONG_TERM))
    expect(isSignerError(error, code as 'ERR_SIGNING_FAILED')).toBe(true)
    expect(String((error as Error).message)).toMatch(/^cannot sign request: /)
  })

  it('rejects incomplete credentials without echoing them', async () => {
    const error = catchError(() => signRequest(base, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: '' }))
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
    expect((error as Error).message).not.toContain('AKIDEXAMPLE')
  })
})
