import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { deriveSigningKey, SCOPE_TERMINATOR, signingKeyFor } from './signingKey.js'
import type { SigningCredentials } from './types.js'

// The key pair of AWS's SigV4 documentation and test suite (not a real credential).
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
/** The signing key AWS's "Examples of how to derive a signing key" gives for SECRET. */
const DOCUMENTED_KEY_HEX = 'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9'

/** The derivation written out step by step, independent of the code under test. */
function manualKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(shortDate).digest()
  const kRegion = createHmac('sha256', kDate).update(region).digest()
  const kService = createHmac('sha256', kRegion).update(service).digest()
  return createHmac('sha256', kService).update('aws4_request').digest()
}

const credentials = (): SigningCredentials => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET })

describe('deriveSigningKey', () => {
  it("gives AWS's documented key for 20150830/us-east-1/iam", () => {
    expect(manualKey(SECRET, '20150830', 'us-east-1', 'iam').toString('hex')).toBe(DOCUMENTED_KEY_HEX)
    const key = deriveSigningKey(SECRET, '20150830', 'us-east-1', 'iam')
    expect(key).toBeInstanceOf(Buffer)
    expect(key.length).toBe(32)
    expect(key.toString('hex')).toBe(DOCUMENTED_KEY_HEX)
  })

  it.each<[string, string, string, string]>([
    ['other secret', '20150830', 'us-east-1', 'iam'],
    [SECRET, '20150831', 'us-east-1', 'iam'],
    [SECRET, '20150830', 'us-west-2', 'iam'],
    [SECRET, '20150830', 'us-east-1', 'bedrock-agentcore'],
    ['sécret/ሴ', '20991231', 'eu-central-1', 'aws-mcp'],
  ])('chains HMAC-SHA256 over every part (%s, %s, %s, %s)', (secret, date, region, service) => {
    const key = deriveSigningKey(secret, date, region, service)
    expect(key.toString('hex')).toBe(manualKey(secret, date, region, service).toString('hex'))
    expect(key.toString('hex')).not.toBe(DOCUMENTED_KEY_HEX)
  })

  it('ends the scope with aws4_request', () => {
    expect(SCOPE_TERMINATOR).toBe('aws4_request')
  })
})

describe('signingKeyFor', () => {
  it('derives the same key as deriveSigningKey', () => {
    const key = signingKeyFor(credentials(), '20150830', 'us-east-1', 'iam')
    expect(key.bytes.toString('hex')).toBe(DOCUMENTED_KEY_HEX)
  })

  it('signs with the derived key: HMAC-SHA256 of the string to sign, in hex', () => {
    const key = signingKeyFor(credentials(), '20150830', 'us-east-1', 'iam')
    const stringToSign = 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nabc'
    const expected = createHmac('sha256', Buffer.from(DOCUMENTED_KEY_HEX, 'hex')).update(stringToSign).digest('hex')
    expect(key.signatureOf(stringToSign)).toBe(expected)
    expect(key.signatureOf(`${stringToSign}d`)).not.toBe(expected)
    expect(key.signatureOf(stringToSign)).toBe(expected)
  })

  it('returns the same key object for the same credentials object, day and scope', () => {
    const creds = credentials()
    const first = signingKeyFor(creds, '20150830', 'us-east-1', 'iam')
    const again = signingKeyFor(creds, '20150830', 'us-east-1', 'iam')
    expect(again).toBe(first)
  })

  it('keeps one key per region and service within a day', () => {
    const creds = credentials()
    const iam = signingKeyFor(creds, '20150830', 'us-east-1', 'iam')
    const west = signingKeyFor(creds, '20150830', 'us-west-2', 'iam')
    const mcp = signingKeyFor(creds, '20150830', 'us-east-1', 'aws-mcp')
    expect(west).not.toBe(iam)
    expect(mcp).not.toBe(iam)
    expect(west.bytes.toString('hex')).toBe(manualKey(SECRET, '20150830', 'us-west-2', 'iam').toString('hex'))
    expect(mcp.bytes.toString('hex')).toBe(manualKey(SECRET, '20150830', 'us-east-1', 'aws-mcp').toString('hex'))
    expect(signingKeyFor(creds, '20150830', 'us-east-1', 'iam')).toBe(iam)
    expect(signingKeyFor(creds, '20150830', 'us-west-2', 'iam')).toBe(west)
    expect(signingKeyFor(creds, '20150830', 'us-east-1', 'aws-mcp')).toBe(mcp)
  })

  it('never mixes up scopes whose joined text would be equal', () => {
    const creds = credentials()
    const first = signingKeyFor(creds, '20150830', 'us-east-1/x', 'y')
    const second = signingKeyFor(creds, '20150830', 'us-east-1', 'x/y')
    expect(first.bytes.toString('hex')).toBe(manualKey(SECRET, '20150830', 'us-east-1/x', 'y').toString('hex'))
    expect(second.bytes.toString('hex')).toBe(manualKey(SECRET, '20150830', 'us-east-1', 'x/y').toString('hex'))
    expect(second.bytes.equals(first.bytes)).toBe(false)
  })

  it('derives a new key for a new day and drops the old day', () => {
    const creds = credentials()
    const monday = signingKeyFor(creds, '20150830', 'us-east-1', 'iam')
    const tuesday = signingKeyFor(creds, '20150831', 'us-east-1', 'iam')
    expect(tuesday).not.toBe(monday)
    expect(tuesday.bytes.toString('hex')).toBe(manualKey(SECRET, '20150831', 'us-east-1', 'iam').toString('hex'))
    expect(signingKeyFor(creds, '20150831', 'us-east-1', 'iam')).toBe(tuesday)
    // The earlier day was dropped: asking for it again derives it afresh (equal, not the same).
    const mondayAgain = signingKeyFor(creds, '20150830', 'us-east-1', 'iam')
    expect(mondayAgain).not.toBe(monday)
    expect(mondayAgain.bytes.toString('hex')).toBe(DOCUMENTED_KEY_HEX)
  })

  it('derives its own key for another credentials object, even with equal values', () => {
    const first = credentials()
    const twin = credentials()
    const other: SigningCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'other-secret' }
    const key = signingKeyFor(first, '20150830', 'us-east-1', 'iam')
    const twinKey = signingKeyFor(twin, '20150830', 'us-east-1', 'iam')
    const otherKey = signingKeyFor(other, '20150830', 'us-east-1', 'iam')
    expect(twinKey).not.toBe(key)
    expect(twinKey.bytes.toString('hex')).toBe(DOCUMENTED_KEY_HEX)
    expect(otherKey.bytes.toString('hex')).toBe(
      manualKey('other-secret', '20150830', 'us-east-1', 'iam').toString('hex'),
    )
    expect(signingKeyFor(first, '20150830', 'us-east-1', 'iam')).toBe(key)
  })
})
