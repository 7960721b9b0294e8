import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WebIdentityConfig } from '../../config/index.js'
import { SignerError } from '../../errors.js'
import { TokenVerifier } from './tokenVerifier.js'

type VerifyConfig = NonNullable<WebIdentityConfig['verify']>

const ISSUER = 'https://issuer.example'
const AUDIENCE = 'mcp-gateway'
/** The tests' clock: tokens are minted relative to it, and the verifier is given it. */
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0)
const SEC = Math.floor(NOW / 1000)

interface Key {
  readonly kid: string
  readonly alg: 'ES256' | 'RS256'
  readonly privateKey: CryptoKey
  readonly jwk: JWK
}

async function makeKey(kid: string, alg: 'ES256' | 'RS256'): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair(alg)
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, jwk }
}

interface Mint {
  iss?: string
  aud?: string | string[]
  sub?: string
  exp?: number
  nbf?: number
  kid?: string
  claims?: Record<string, unknown>
}

async function mint(key: Key, options: Mint = {}): Promise<string> {
  const jwt = new SignJWT({ groups: ['admins'], ...options.claims })
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setSubject(options.sub ?? 'alice')
    .setIssuedAt(SEC - 60)
    .setExpirationTime(options.exp ?? SEC + 3600)
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf)
  return jwt.sign(key.privateKey)
}

function verifyConfig(overrides: Partial<VerifyConfig>): VerifyConfig {
  return { issuer: ISSUER, audiences: [AUDIENCE], clock_tolerance_seconds: 30, cache_seconds: 300, ...overrides }
}

async function rejectionOf(promise: Promise<unknown>): Promise<SignerError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof SignerError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

function errorOf(fn: () => unknown): SignerError {
  try {
    fn()
  } catch (err) {
    if (err instanceof SignerError) return err
    throw err
  }
  throw new Error('expected a SignerError')
}

/** A JWKS endpoint on 127.0.0.1 whose answer the test can change. */
interface JwksServer {
  url: string
  requests: number
  answer: { status: number; body: string }
  close(): Promise<void>
}

async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state: JwksServer = {
    url: '',
    requests: 0,
    answer: { status: 200, body: JSON.stringify({ keys }) },
    close: async () => undefined,
  }
  const server: Server = createServer((_req, res) => {
    state.requests++
    res.writeHead(state.answer.status, { 'content-type': 'application/json' })
    res.end(state.answer.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return state
}

let es: Key
let rs: Key
let impostor: Key
let dir: string
let jwksFile: string
let jwks: JwksServer

beforeAll(async () => {
  es = await makeKey('es-1', 'ES256')
  rs = await makeKey('rs-1', 'RS256')
  // Same kid as `es`, other key material: its signatures must not verify.
  impostor = await makeKey('es-1', 'ES256')
  dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-jwks-'))
  jwksFile = join(dir, 'jwks.json')
  writeFileSync(jwksFile, JSON.stringify({ keys: [es.jwk, rs.jwk] }))
  jwks = await startJwksServer([es.jwk, rs.jwk])
})

afterAll(async () => {
  await jwks.close()
  rmSync(dir, { recursive: true, force: true })
})

const readFile = (path: string) => readFileSync(path, 'utf8')

const sources: Array<[string, () => Partial<VerifyConfig>]> = [
  ['a static JWKS file', () => ({ jwks_file: jwksFile })],
  ['a remote JWKS URL', () => ({ jwks_url: jwks.url })],
]

describe.each(sources)('TokenVerifier with %s', (_name, source) => {
  function verifier(overrides: Partial<VerifyConfig> = {}, now = NOW): TokenVerifier {
    return new TokenVerifier(verifyConfig({ ...source(), ...overrides }), { now: () => now, readFile })
  }

  it('returns the verified claims, issuer, subject and expiry of a valid token (ES256 and RS256)', async () => {
    const v = verifier()
    expect(v.verifiesLocally).toBe(true)
    for (const key of [es, rs]) {
      const result = await v.verify(await mint(key, { sub: `sub-${key.alg}`, claims: { email: 'a@example.com' } }))
      expect(result.verified).toBe(true)
      expect(result.issuer).toBe(ISSUER)
      expect(result.subject).toBe(`sub-${key.alg}`)
      expect(result.expiresAt).toBe((SEC + 3600) * 1000)
      expect(result.claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, sub: `sub-${key.alg}`, groups: ['admins'], email: 'a@example.com' })
    }
  })

  it('accepts any of several audiences, and a token with several audiences', async () => {
    const v = verifier({ audiences: ['other', AUDIENCE] })
    expect((await v.verify(await mint(es))).subject).toBe('alice')
    expect((await v.verify(await mint(es, { aud: ['x', 'other'] }))).verified).toBe(true)
  })

  it('rejects each failed check as ERR_TOKEN_INVALID with its own message that never contains the token', async () => {
    const cases: Array<[string, Promise<string>, TokenVerifier, string]> = [
      ['wrong issuer', mint(es, { iss: 'https://evil.example' }), verifier(), 'claim "iss" is not accepted'],
      ['wrong audience', mint(es, { aud: 'someone-else' }), verifier(), 'claim "aud" is not accepted'],
      ['expired', mint(es, { exp: SEC - 31 }), verifier(), 'the token has expired'],
      ['not yet valid', mint(es, { nbf: SEC + 3600 }), verifier(), 'claim "nbf" is not accepted'],
      ['bad signature', mint(impostor), verifier(), 'the signature does not verify'],
      ['unknown kid', mint(es, { kid: 'nope' }), verifier(), 'no key in the key set matches the token'],
      ['disallowed algorithm', mint(rs), verifier({ algorithms: ['ES256'] }), 'the token is malformed or uses a disallowed algorithm'],
    ]
    const messages = new Set<string>()
    for (const [what, tokenPromise, v, expected] of cases) {
      const token = await tokenPromise
      const err = await rejectionOf(v.verify(token))
      expect(err.code, what).toBe('ERR_TOKEN_INVALID')
      expect(err.message, what).toMatch(/^cannot authenticate the caller: /)
      expect(err.message, what).toContain(expected)
      for (const part of token.split('.')) expect(err.message, what).not.toContain(part)
      messages.add(err.message)
    }
    expect(messages.size).toBe(cases.length)
  })

  it('applies the clock tolerance to exp, with the injected clock', async () => {
    const token = await mint(es, { exp: SEC - 20 })
    expect((await verifier().verify(token)).subject).toBe('alice')
    const strict = await rejectionOf(verifier({ clock_tolerance_seconds: 0 }).verify(token))
    expect(strict.message).toBe('cannot authenticate the caller: the token has expired')
    const later = await rejectionOf(verifier({}, NOW + 60_000).verify(token))
    expect(later.code).toBe('ERR_TOKEN_INVALID')
  })

  it('rejects garbage as ERR_TOKEN_INVALID', async () => {
    const err = await rejectionOf(verifier().verify('abc.def.ghi'))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).toBe('cannot authenticate the caller: the token is malformed or uses a disallowed algorithm')
  })
})

describe('TokenVerifier with a remote JWKS', () => {
  it('fetches the key set once for many verifications', async () => {
    const server = await startJwksServer([es.jwk])
    try {
      const v = new TokenVerifier(verifyConfig({ jwks_url: server.url }), { now: () => NOW, readFile })
      const token = await mint(es)
      const results = await Promise.all(Array.from({ length: 20 }, () => v.verify(token)))
      expect(results.every((r) => r.verified && r.subject === 'alice')).toBe(true)
      expect(server.requests).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('reports a JWKS URL that is down as ERR_CREDENTIALS_UNAVAILABLE', async () => {
    const server = await startJwksServer([es.jwk])
    const url = server.url
    await server.close()
    const v = new TokenVerifier(verifyConfig({ jwks_url: url }), { now: () => NOW, readFile })
    const token = await mint(es)
    const err = await rejectionOf(v.verify(token))
    expect(err.code).toBe('ERR_CREDENTIALS_UNAVAILABLE')
    expect(err.message).toBe('cannot verify the caller token: the key set is unavailable')
    expect(err.message).not.toContain(token)
  })

  // Regression: jose reports a non-200 JWKS answer (and unparseable JSON) as a plain JOSEError,
  // which used to become ERR_TOKEN_INVALID: during an IdP outage every caller was told its token
  // was invalid.
  it('reports a JWKS endpoint answering HTTP 503 as ERR_CREDENTIALS_UNAVAILABLE', async () => {
    const server = await startJwksServer([es.jwk])
    server.answer = { status: 503, body: 'unavailable' }
    try {
      const v = new TokenVerifier(verifyConfig({ jwks_url: server.url }), { now: () => NOW, readFile })
      const err = await rejectionOf(v.verify(await mint(es)))
      expect(server.requests).toBe(1)
      expect(err.code).toBe('ERR_CREDENTIALS_UNAVAILABLE')
    } finally {
      await server.close()
    }
  })

  it('reports a JWKS endpoint answering non-JSON as ERR_CREDENTIALS_UNAVAILABLE', async () => {
    const server = await startJwksServer([es.jwk])
    server.answer = { status: 200, body: '<html>maintenance</html>' }
    try {
      const v = new TokenVerifier(verifyConfig({ jwks_url: server.url }), { now: () => NOW, readFile })
      const err = await rejectionOf(v.verify(await mint(es)))
      expect(err.code).toBe('ERR_CREDENTIALS_UNAVAILABLE')
    } finally {
      await server.close()
    }
  })
})

describe('TokenVerifier.decode (no local verification)', () => {
  const plain = new TokenVerifier(undefined, { now: () => NOW, readFile: () => { throw new Error('no file expected') } })

  it('does not verify locally', () => {
    expect(plain.verifiesLocally).toBe(false)
  })

  it('returns unverified claims of a well-formed token, whatever its signature', async () => {
    const token = await mint(impostor, { sub: 'bob', iss: 'https://anyone.example' })
    const result = plain.decode(token)
    expect(result.verified).toBe(false)
    expect(result.subject).toBe('bob')
    expect(result.issuer).toBe('https://anyone.example')
    expect(result.expiresAt).toBe((SEC + 3600) * 1000)
    expect(result.claims.groups).toEqual(['admins'])
    // verify() without a verify config only decodes.
    expect(await plain.verify(token)).toEqual(result)
  })

  it('rejects malformed tokens as ERR_TOKEN_INVALID', () => {
    for (const bad of ['abc.def.ghi', 'a.b', '', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('[1]').toString('base64url')}.`]) {
      const err = errorOf(() => plain.decode(bad))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
      expect(err.message).toBe('cannot authenticate the caller: the token cannot be decoded')
    }
  })

  it('rejects expired tokens (30 s default tolerance) as ERR_TOKEN_INVALID', async () => {
    const expired = await mint(es, { exp: SEC - 31 })
    const err = errorOf(() => plain.decode(expired))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).toBe('cannot authenticate the caller: the token has expired')
    expect(plain.decode(await mint(es, { exp: SEC - 29 })).subject).toBe('alice')
  })

  it('accepts a token without exp and without sub', () => {
    const header = Buffer.from('{"alg":"none"}').toString('base64url')
    const body = Buffer.from('{"iss":"x"}').toString('base64url')
    const result = plain.decode(`${header}.${body}.`)
    expect(result).toEqual({ claims: { iss: 'x' }, verified: false, issuer: 'x' })
  })
})
