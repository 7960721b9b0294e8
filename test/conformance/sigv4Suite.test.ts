/**
 * The AWS SigV4 test suite (botocore's copy, in ../shared/oracles/sigv4-suite): every case must
 * give exactly the expected Authorization, canonical request and string to sign.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { explainSignature } from '../../src/signing/explainSignature.js'
import { signHttpRequest } from '../../src/signing/signCanonical.js'
import type { CanonicalSigningOptions, SigningCredentials } from '../../src/signing/types.js'
import { ORACLES_DIR, oraclePath } from './oracles.js'
import { parseRawRequest } from './rawRequest.js'

const SUITE = oraclePath('sigv4-suite')
const EXPECTED_CASES = 34

// The suite's fixed inputs (SOURCE.md): example keys, us-east-1, service "service", and no
// x-amz-content-sha256 header (applyChecksum false).
const KEYS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
}
const OPTIONS: CanonicalSigningOptions = {
  region: 'us-east-1',
  service: 'service',
  signingDate: new Date('2015-08-30T12:36:00Z'),
  applyChecksum: false,
}

/** Every folder d below the suite that holds `basename(d).req`; group folders are not cases. */
function discoverCases(dir: string): string[] {
  const found = existsSync(join(dir, `${basename(dir)}.req`)) ? [dir] : []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) found.push(...discoverCases(join(dir, entry.name)))
  }
  return found
}

function readCaseFile(dir: string, extension: string): string {
  return readFileSync(join(dir, `${basename(dir)}.${extension}`), 'utf8')
}

/**
 * The session token is signed only where the expected canonical request lists it. In
 * post-sts-header-after the token is added after signing, so it is not in the credentials.
 */
function credentialsFor(creq: string): SigningCredentials {
  const token = /^x-amz-security-token:(.*)$/m.exec(creq)?.[1]
  return token === undefined ? KEYS : { ...KEYS, sessionToken: token }
}

const cases = discoverCases(SUITE).map((dir) => relative(SUITE, dir)).sort()

describe('AWS SigV4 test suite', () => {
  it(`has all ${EXPECTED_CASES} cases`, () => {
    expect(cases).toHaveLength(EXPECTED_CASES)
    expect(cases.filter((name) => name.startsWith('normalize-path/'))).toHaveLength(8)
    expect(cases.filter((name) => name.startsWith('post-sts-token/'))).toHaveLength(2)
  })

  it.each(cases)('%s', async (name) => {
    const dir = join(SUITE, name)
    const request = parseRawRequest(readCaseFile(dir, 'req'))
    const creq = readCaseFile(dir, 'creq')
    const credentials = credentialsFor(creq)

    const signed = await signHttpRequest(request, credentials, OPTIONS)
    expect(signed.headers.authorization).toBe(readCaseFile(dir, 'authz'))

    const explained = await explainSignature(request, credentials, OPTIONS)
    expect(explained.canonicalRequest).toBe(creq)
    expect(explained.stringToSign).toBe(readCaseFile(dir, 'sts'))
    expect(explained.headers).toEqual(signed.headers)
  })

  it('names a missing oracle path in the error', () => {
    expect(() => oraclePath('no-such-oracle')).toThrow(
      `conformance oracle missing: ${join(ORACLES_DIR, 'no-such-oracle')}`,
    )
  })

  it('signs the token only in post-sts-header-before', async () => {
    const before = readCaseFile(join(SUITE, 'post-sts-token/post-sts-header-before'), 'creq')
    const after = readCaseFile(join(SUITE, 'post-sts-token/post-sts-header-after'), 'creq')
    expect(credentialsFor(before).sessionToken).toMatch(/^AQoDYXdzEPT/)
    expect(credentialsFor(after).sessionToken).toBeUndefined()
  })
})
