import { createHash, createHmac } from 'node:crypto'
import aws4 from 'aws4'
import { describe, expect, it } from 'vitest'
import { catchError } from '../../test/support/catchError.js'
import {
  EMPTY_SHA256,
  IAM_LIST_USERS_CANONICAL_SHA256,
  IAM_LIST_USERS_PARTS,
  IAM_LIST_USERS_SIGNATURE,
} from '../../test/support/iamListUsersExample.js'
import { isSignerError } from '../errors.js'
import { assembleCanonicalRequest } from './canonicalRequest.js'
import { ALGORITHM, amzDateOf, assertSignable, signCanonicalRequest, type SigningScope } from './sigv4.js'
import type { SigningCredentials } from './types.js'

// The key pair of AWS's SigV4 documentation and test suite (not a real credential).
const CREDENTIALS: SigningCredentials = Object.freeze({
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
})
const IAM_SCOPE: SigningScope = {
  region: 'us-east-1',
  service: 'iam',
  signingDate: new Date('2015-08-30T12:36:00Z'),
}

/** AWS's documented IAM ListUsers example; aws4 reproduces its hash and signature in the test. */
const IAM_CANONICAL = assembleCanonicalRequest(IAM_LIST_USERS_PARTS)

describe('amzDateOf', () => {
  it.each<[string, string]>([
    ['2015-08-30T12:36:00Z', '20150830T123600Z'],
    ['2026-01-02T03:04:05Z', '20260102T030405Z'],
    ['1999-12-31T23:59:59Z', '19991231T235959Z'],
    ['0000-01-01T00:00:00Z', '00000101T000000Z'],
    ['9999-12-31T23:59:59Z', '99991231T235959Z'],
  ])('formats %s as %s', (iso, expected) => {
    expect(amzDateOf(new Date(iso))).toBe(expected)
  })

  it('drops milliseconds without rounding', () => {
    expect(amzDateOf(new Date('2015-08-30T12:36:00.999Z'))).toBe('20150830T123600Z')
    expect(amzDateOf(new Date('2015-08-30T23:59:59.500Z'))).toBe('20150830T235959Z')
  })

  it('formats in UTC whatever the offset the date was written with', () => {
    expect(amzDateOf(new Date('2015-08-30T23:30:00-02:00'))).toBe('20150831T013000Z')
  })

  it.each([
    ['an invalid date', new Date(Number.NaN)],
    ['year 10000', new Date('+010000-01-01T00:00:00Z')],
    ['a negative year', new Date('-000001-12-31T23:59:59Z')],
  ])('rejects %s with ERR_SIGNING_FAILED', (_name, date) => {
    const error = catchError(() => amzDateOf(date))
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
    expect((error as Error).message).toBe('cannot sign request: signing date is invalid')
  })
})

describe('assertSignable', () => {
  it('accepts complete credentials and a full scope', () => {
    expect(assertSignable(CREDENTIALS, IAM_SCOPE)).toBeUndefined()
    expect(assertSignable({ ...CREDENTIALS, sessionToken: 'TOKEN' }, IAM_SCOPE)).toBeUndefined()
  })

  it.each<[string, Partial<SigningScope>]>([
    ['an empty region', { region: '' }],
    ['an empty service', { service: '' }],
  ])('rejects %s with ERR_ROUTE_TARGET_INCOMPLETE', (_name, variant) => {
    const error = catchError(() => assertSignable(CREDENTIALS, { ...IAM_SCOPE, ...variant }))
    expect(isSignerError(error, 'ERR_ROUTE_TARGET_INCOMPLETE')).toBe(true)
    expect((error as Error).message).toBe(
      'cannot sign request: signing region and service must both be non-empty',
    )
  })

  it.each<[string, SigningCredentials]>([
    ['an empty access key id', { accessKeyId: '', secretAccessKey: CREDENTIALS.secretAccessKey }],
    ['an empty secret', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: '' }],
  ])('rejects %s with ERR_SIGNING_FAILED, echoing nothing', (_name, credentials) => {
    const error = catchError(() => assertSignable(credentials, IAM_SCOPE))
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
    expect((error as Error).message).toBe('cannot sign request: credentials are incomplete')
  })

  it('checks the scope before the credentials', () => {
    const error = catchError(() => assertSignable({ accessKeyId: '', secretAccessKey: '' }, {
      ...IAM_SCOPE,
      region: '',
    }))
    expect(isSignerError(error, 'ERR_ROUTE_TARGET_INCOMPLETE')).toBe(true)
  })
})

describe('signCanonicalRequest', () => {
  it("reproduces AWS's documented IAM ListUsers signature", () => {
    const signed = signCanonicalRequest(IAM_CANONICAL, '20150830T123600Z', IAM_SCOPE, CREDENTIALS)
    expect(signed.canonicalRequestSha256).toBe(IAM_LIST_USERS_CANONICAL_SHA256)
    expect(signed.signature).toBe(IAM_LIST_USERS_SIGNATURE)
    expect(signed.amzDate).toBe('20150830T123600Z')
    expect(signed.stringToSign.split('\n')).toEqual([
      'AWS4-HMAC-SHA256',
      '20150830T123600Z',
      '20150830/us-east-1/iam/aws4_request',
      IAM_LIST_USERS_CANONICAL_SHA256,
    ])
    expect(signed.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, ' +
        `SignedHeaders=content-type;host;x-amz-date, Signature=${IAM_LIST_USERS_SIGNATURE}`,
    )
  })

  it('agrees with aws4 on the documented example', () => {
    const signer = new aws4.RequestSigner(
      {
        method: 'GET',
        host: 'iam.amazonaws.com',
        path: '/?Action=ListUsers&Version=2010-05-08',
        service: 'iam',
        region: 'us-east-1',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
          Host: 'iam.amazonaws.com',
          'X-Amz-Date': '20150830T123600Z',
        },
      },
      { ...CREDENTIALS },
    )
    expect(signer.canonicalString()).toBe(IAM_CANONICAL.text)
    const signed = signCanonicalRequest(IAM_CANONICAL, '20150830T123600Z', IAM_SCOPE, CREDENTIALS)
    expect(signer.stringToSign()).toBe(signed.stringToSign)
    expect(String(signer.sign().headers?.Authorization)).toBe(signed.authorization)
  })

  it('hashes the canonical text as UTF-8 and signs with the derived key', () => {
    const canonical = assembleCanonicalRequest({
      method: 'POST',
      uri: '/%25C3%25A9',
      query: 'k=%E1%88%B4',
      headers: [['host', 'ሴ.example'], ['x-amz-date', '20991231T235959Z']],
      payloadSha256Hex: EMPTY_SHA256,
    })
    const scope: SigningScope = { region: 'eu-west-3', service: 'aws-mcp', signingDate: new Date(0) }
    const signed = signCanonicalRequest(canonical, '20991231T235959Z', scope, CREDENTIALS)
    const hash = createHash('sha256').update(Buffer.from(canonical.text, 'utf8')).digest('hex')
    expect(signed.canonicalRequestSha256).toBe(hash)
    const stringToSign = `${ALGORITHM}\n20991231T235959Z\n20991231/eu-west-3/aws-mcp/aws4_request\n${hash}`
    expect(signed.stringToSign).toBe(stringToSign)
    let key = createHmac('sha256', `AWS4${CREDENTIALS.secretAccessKey}`).update('20991231').digest()
    for (const part of ['eu-west-3', 'aws-mcp', 'aws4_request']) {
      key = createHmac('sha256', key).update(part).digest()
    }
    expect(signed.signature).toBe(createHmac('sha256', key).update(stringToSign).digest('hex'))
    expect(signed.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20991231/eu-west-3/aws-mcp/aws4_request, ' +
        `SignedHeaders=host;x-amz-date, Signature=${signed.signature}`,
    )
  })

  it("dates the scope by amzDate, not by the scope's signingDate", () => {
    const signed = signCanonicalRequest(IAM_CANONICAL, '20150830T123600Z', {
      ...IAM_SCOPE,
      signingDate: new Date('2030-01-01T00:00:00Z'),
    }, CREDENTIALS)
    expect(signed.signature).toBe(IAM_LIST_USERS_SIGNATURE)
  })

  it('changes the signature, and nothing else, with the secret', () => {
    const signed = signCanonicalRequest(IAM_CANONICAL, '20150830T123600Z', IAM_SCOPE, {
      ...CREDENTIALS,
      secretAccessKey: 'another-secret',
    })
    expect(signed.signature).not.toBe(IAM_LIST_USERS_SIGNATURE)
    expect(signed.signature).toMatch(/^[0-9a-f]{64}$/)
    expect(signed.canonicalRequestSha256).toBe(IAM_LIST_USERS_CANONICAL_SHA256)
    expect(signed.authorization.replace(signed.signature, IAM_LIST_USERS_SIGNATURE)).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, ' +
        `SignedHeaders=content-type;host;x-amz-date, Signature=${IAM_LIST_USERS_SIGNATURE}`,
    )
  })
})
