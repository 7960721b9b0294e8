import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aws4Authorization } from '../../test/support/aws4Reference.js'
import { parseQuery } from './parseQuery.js'
import { signProductRequest, signRequest } from './signRequest.js'
import type { SignRequestInput } from './signRequest.js'
import { smithyAuthorization } from './smithyReference.js'
import type { SigningCredentials } from './types.js'

/**
 * Differential tests: `signRequest` (our SigV4 core) against two independent signers on random
 * product inputs — `@smithy/signature-v4` (the AWS SDK's signer, via `smithyAuthorization`) on
 * everything the product can be asked to sign, and `aws4` on the subset where its semantics
 * are the same (see {@link Profile}).
 */

const SEED = 20150830
const RUNS = 1000

/**
 * Which reference signer the inputs are for.
 *
 * `aws4` differs from SigV4 as smithy and botocore implement it on some inputs, so its profile
 * leaves those out:
 * - a path or query with a character outside `[0-9A-Za-z;,/?:@&=+$\-_.!~*'()#%]` (a space,
 *   non-ASCII, `"<>[\]^`{|}`) makes aws4 rewrite the whole string with
 *   `encodeURI(decodeURI(...))` first, which decodes escapes of unreserved characters (`%41`
 *   becomes `A`) and throws on a malformed escape: only those characters are generated;
 * - aws4 decodes the query with Node's `querystring`, which turns an escape that is not valid
 *   UTF-8 into U+FFFD where `parseQuery` keeps it as literal text: query escapes are complete
 *   UTF-8 sequences (and no lone '%' that could join the next piece into a broken one);
 * - aws4 drops a parameter with an empty key (`=v`), which SigV4 signs, and signs an
 *   `X-Amz-Signature` parameter, which smithy (and `signRequest`) leave out as a presigned URL's
 *   signature cannot sign itself: keys are neither empty nor `X-Amz-Signature` in any case;
 * - aws4 applies S3's rules for service `s3` (no normalization, single encoding, first value
 *   only) and signs service `email` as `ses`: neither is generated.
 */
type Profile = 'smithy' | 'aws4'

const AWS4_SAFE = /^[0-9A-Za-z;,/?:@&=+$\-_.!~*'()#%]*$/

const UNRESERVED = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~']
const unreserved = fc.constantFrom(...UNRESERVED)
const hexByte = fc.integer({ min: 0, max: 255 }).map((n) => n.toString(16).padStart(2, '0'))
/** Any `%XX`, upper- or lower-case, valid UTF-8 or not. */
const anyEscape = fc
  .tuple(hexByte, fc.boolean())
  .map(([hex, upper]) => `%${upper ? hex.toUpperCase() : hex}`)
/** Escapes that real clients send, `%2F` and `%3A` above all. */
const commonEscape = fc.constantFrom(
  '%2F', '%3A', '%2f', '%3a', '%20', '%25', '%2B', '%41', '%7E', '%3D', '%26',
)
/** A grapheme (non-ASCII mostly) outside the given characters. */
const grapheme = (excluded: RegExp): fc.Arbitrary<string> =>
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 2 }).filter((g) => !excluded.test(g))
/** A non-ASCII character as complete UTF-8 escapes, e.g. `%C3%A9`. */
const encodedGrapheme = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
  .map(encodeURIComponent)
/** An escape of an ASCII character: always valid UTF-8. */
const asciiEscape = fc
  .integer({ min: 0, max: 127 })
  .map((n) => `%${n.toString(16).padStart(2, '0').toUpperCase()}`)

const joined = (piece: fc.Arbitrary<string>, maxLength: number): fc.Arbitrary<string> =>
  fc.array(piece, { maxLength }).map((pieces) => pieces.join(''))

function pathSegment(profile: Profile): fc.Arbitrary<string> {
  const pieces = [
    unreserved,
    anyEscape,
    commonEscape,
    fc.constantFrom(...":@!$&'()*+,;="),
    ...(profile === 'smithy' ? [grapheme(/[/?#]/), fc.constant(' ')] : [fc.constant('%')]),
  ]
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('', '.', '..') },
    { weight: 6, arbitrary: joined(fc.oneof(...pieces), 8) },
  )
}

/** A wire path: '/' then segments, maybe a trailing '/'; never '?' or '#'. */
function wirePath(profile: Profile): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(pathSegment(profile), { maxLength: 6 }), fc.boolean())
    .map(([segments, trailing]) => {
      const slash = trailing && segments.length > 0 ? '/' : ''
      return `/${segments.join('/')}${slash}`
    })
}

function queryPart(profile: Profile, isKey: boolean): fc.Arbitrary<string> {
  const reserved = fc.constantFrom(...`:@!$'()*,;/?${isKey ? '' : '='}`)
  const shared = [unreserved, reserved, commonEscape, encodedGrapheme]
  const pieces =
    profile === 'smithy'
      ? [anyEscape, fc.constantFrom(' ', '+', '%', '%G1'), grapheme(isKey ? /[&#=]/ : /[&#]/)]
      : [asciiEscape, fc.constant('+')]
  return joined(fc.oneof(...shared, ...pieces), 6)
}

/** A raw key aws4 signs as SigV4 does (see {@link Profile}). */
const isAws4Key = (raw: string): boolean =>
  raw !== '' && Object.keys(parseQuery(raw)).every((key) => key.toLowerCase() !== 'x-amz-signature')

/** A key from a small pool (so keys repeat, X-Amz-Signature included) or a random one. */
function queryKey(profile: Profile): fc.Arbitrary<string> {
  const signature = profile === 'smithy' ? ['X-Amz-Signature', 'x-amz-signature'] : []
  const pool = fc.constantFrom('a', 'A', 'a-b', 'a.b', 'b', 'X-Amz-Date', ...signature)
  const random = queryPart(profile, true)
  return fc.oneof(pool, profile === 'aws4' ? random.filter(isAws4Key) : random)
}

/** A raw query ('' or pairs joined by '&'): repeated keys, empty values, pairs without '='. */
function rawQuery(profile: Profile): fc.Arbitrary<string> {
  const pair = fc
    .tuple(queryKey(profile), fc.option(queryPart(profile, false), { nil: undefined }))
    .map(([key, value]) => (value === undefined ? key : `${key}=${value}`))
  const pairOrEmpty = fc.oneof({ weight: 9, arbitrary: pair }, { weight: 1, arbitrary: fc.constant('') })
  const pairs = fc.array(pairOrEmpty, { maxLength: 6 })
  return fc.oneof(fc.constant(''), pairs.map((list) => list.join('&')))
}

const whitespaceRun = joined(fc.constantFrom(' ', '\t', '\r', '\n', '\r\n'), 3)
const contentTypeToken = fc.oneof(
  fc.constantFrom('application/json', 'text/event-stream', 'charset=utf-8', ';', ',', 'a=b'),
  fc.string({ unit: 'binary-ascii', maxLength: 6 }).filter((s) => !/\s/.test(s)),
)
/** Tokens with runs of spaces, tabs, CR and LF before, between and after them. */
const contentType = fc.option(
  fc
    .tuple(fc.array(fc.tuple(whitespaceRun, contentTypeToken), { maxLength: 4 }), whitespaceRun)
    .map(([parts, tail]) => `${parts.map(([space, token]) => space + token).join('')}${tail}`),
  { nil: undefined },
)

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/)
const host = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 65_535 })))
  .map(([labels, port]) => `${labels.join('.')}${port === null ? '' : `:${port}`}`)

const scopeName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/)
const signingDate = fc.date({
  min: new Date('2000-01-01T00:00:00.000Z'),
  max: new Date('2099-12-31T23:59:59.999Z'),
  noInvalidDate: true,
})
const base64ish = (min: number, max: number): fc.Arbitrary<string> =>
  fc.stringMatching(new RegExp(`^[A-Za-z0-9/+=]{${min},${max}}$`))
const credentials: fc.Arbitrary<SigningCredentials> = fc
  .record({
    accessKeyId: fc.stringMatching(/^(?:AKIA|ASIA)[A-Z0-9]{16}$/),
    secretAccessKey: base64ish(40, 40),
    sessionToken: fc.option(fc.oneof(base64ish(1, 120), fc.constant('')), { nil: undefined }),
  })
  .map(({ sessionToken, ...keys }) => (sessionToken === undefined ? keys : { ...keys, sessionToken }))

/**
 * `@smithy/signature-v4` 5.7.5 mis-signs a query key `__proto__`: it collects the encoded pairs
 * in a plain object, where `serialized['__proto__'] = ...` hits the prototype setter, so it signs
 * `[object Object]` instead of `__proto__=...` (aws4 drops the pair altogether, for the same
 * reason). SigV4 signs it like any other key, as `signRequest` does; the generators leave it out.
 */
const hasProtoKey = (query: string): boolean => Object.hasOwn(parseQuery(query), '__proto__')

function productInput(profile: Profile): fc.Arbitrary<SignRequestInput> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
      host,
      path: wirePath(profile),
      query: rawQuery(profile).filter((query) => !hasProtoKey(query)),
      contentType,
      payloadSha256Hex: fc.stringMatching(/^[0-9a-f]{64}$/),
      region: scopeName,
      service: profile === 'aws4' ? scopeName.filter((s) => s !== 's3' && s !== 'email') : scopeName,
      signingDate,
    })
    .map(({ contentType: type, ...input }) => (type === undefined ? input : { ...input, contentType: type }))
}

/** The failing input in a form that can be pasted into a test. */
function describeCase(input: SignRequestInput, creds: SigningCredentials): string {
  return JSON.stringify({ ...input, signingDate: input.signingDate.toISOString(), credentials: creds })
}

describe('signRequest, differentially', () => {
  it(`agrees with @smithy/signature-v4 on ${RUNS} random product requests`, async () => {
    await fc.assert(
      fc.asyncProperty(productInput('smithy'), credentials, async (input, creds) => {
        const ours = signRequest(input, creds).authorization
        expect(ours, describeCase(input, creds)).toBe(await smithyAuthorization(input, creds))
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it(`agrees with aws4 on ${RUNS} random requests within aws4's semantics`, () => {
    fc.assert(
      fc.property(productInput('aws4'), credentials, (input, creds) => {
        expect(AWS4_SAFE.test(`${input.path}?${input.query}`)).toBe(true)
        const ours = signRequest(input, creds).authorization
        expect(ours, describeCase(input, creds)).toBe(aws4Authorization(input, creds))
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('generates the inputs it claims to (a sample holds every kind)', () => {
    const sample = fc.sample(productInput('smithy'), { seed: SEED, numRuns: RUNS })
    const count = (test: (input: SignRequestInput) => boolean): number => sample.filter(test).length
    expect(count((i) => /%2F/i.test(i.path))).toBeGreaterThan(20)
    expect(count((i) => /%3A/i.test(i.path))).toBeGreaterThan(20)
    expect(count((i) => /\/\.\.?(?:\/|$)/.test(i.path))).toBeGreaterThan(20)
    expect(count((i) => i.path.includes('//'))).toBeGreaterThan(20)
    expect(count((i) => i.path.length > 1 && i.path.endsWith('/'))).toBeGreaterThan(20)
    expect(count((i) => /[^\x00-\x7f]/.test(i.path))).toBeGreaterThan(20)
    expect(count((i) => /[^\x00-\x7f]/.test(i.query))).toBeGreaterThan(20)
    expect(count((i) => /[ +]/.test(i.query))).toBeGreaterThan(20)
    expect(count((i) => Object.values(parseQuery(i.query)).some(Array.isArray))).toBeGreaterThan(20)
    expect(count((i) => Object.values(parseQuery(i.query)).includes(''))).toBeGreaterThan(20)
    expect(count((i) => /x-amz-signature/i.test(i.query))).toBeGreaterThan(20)
    expect(count((i) => i.query === '')).toBeGreaterThan(20)
    expect(count((i) => i.contentType !== undefined && /[\t\r\n]| {2}|^ | $/.test(i.contentType)))
      .toBeGreaterThan(20)
    expect(count((i) => i.host.includes(':'))).toBeGreaterThan(20)
    const canonicalPaths = sample.map((i) => signProductRequest(i, {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
    }).canonicalRequest.text.split('\n')[1] as string)
    expect(canonicalPaths.filter((p) => p.includes('%25')).length).toBeGreaterThan(20)

    const aws4Sample = fc.sample(productInput('aws4'), { seed: SEED, numRuns: RUNS })
    const aws4Count = (test: (input: SignRequestInput) => boolean): number => aws4Sample.filter(test).length
    expect(aws4Count((i) => /%2F/i.test(i.path) && /\/\.\.?(?:\/|$)|\/\//.test(i.path))).toBeGreaterThan(20)
    expect(aws4Count((i) => /%[89A-F][0-9A-F]/i.test(i.query) && i.query.includes('+'))).toBeGreaterThan(20)
    expect(aws4Count((i) => Object.values(parseQuery(i.query)).some(Array.isArray))).toBeGreaterThan(20)
    expect(aws4Count((i) => i.contentType !== undefined && /[\t\r\n]/.test(i.contentType))).toBeGreaterThan(20)
  })

  it('leaves out a __proto__ query key because smithy mis-signs it (see hasProtoKey)', async () => {
    // If this fails after a smithy upgrade, smithy was fixed: drop the hasProtoKey filter.
    const creds: SigningCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }
    const input: SignRequestInput = {
      method: 'GET',
      host: 'example.amazonaws.com',
      path: '/',
      query: '__proto__=1&a=2',
      payloadSha256Hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      region: 'us-east-1',
      service: 'aws-mcp',
      signingDate: new Date('2015-08-30T12:36:00Z'),
    }
    const product = signProductRequest(input, creds)
    expect(product.canonicalRequest.text.split('\n')[2]).toBe('__proto__=1&a=2')
    expect(await smithyAuthorization(input, creds)).not.toBe(product.headers.authorization)
  })
})
