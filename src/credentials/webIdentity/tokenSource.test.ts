import { describe, expect, it } from 'vitest'
import type { WebIdentityConfig } from '../../config/index.js'
import { SignerError } from '../../errors.js'
import type { CallerContext } from '../callerContext.js'
import { MAX_TOKEN_BYTES, extractToken, tokenHeaderOf } from './tokenSource.js'

type TokenConfig = WebIdentityConfig['token']

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'
const NAMESPACE = 'envoy.filters.http.jwt_authn'

function token(config: Partial<TokenConfig> = {}): TokenConfig {
  return { from: 'authorization', metadata_namespace: NAMESPACE, ...config }
}

function caller(headers: Record<string, string>, metadata: Record<string, unknown> = {}): CallerContext {
  return { header: (name) => headers[name], metadata }
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

describe('extractToken: Authorization header', () => {
  it('reads a Bearer token', () => {
    expect(extractToken(token(), caller({ authorization: `Bearer ${JWT}` }))).toEqual({ token: JWT, header: 'authorization' })
  })

  it('accepts the scheme in any case and extra spaces around and after it', () => {
    for (const value of [`bearer ${JWT}`, `BEARER ${JWT}`, `BeArEr    ${JWT}`, `  Bearer ${JWT}  `, `Bearer\t${JWT}`]) {
      expect(extractToken(token(), caller({ authorization: value })).token).toBe(JWT)
    }
  })

  it('reports a missing or blank header as ERR_TOKEN_MISSING naming the header', () => {
    for (const headers of [{}, { authorization: '' }, { authorization: '   ' }] as Array<Record<string, string>>) {
      const err = errorOf(() => extractToken(token(), caller(headers)))
      expect(err.code).toBe('ERR_TOKEN_MISSING')
      expect(err.message).toBe('cannot authenticate the caller: no token in the authorization header')
    }
  })

  it('reports another scheme or a bare token in Authorization as ERR_TOKEN_MISSING', () => {
    for (const value of ['Basic dXNlcjpwYXNz', `AWS4-HMAC-SHA256 Credential=${JWT}`, JWT, 'Bearer', `Bearer ${JWT} extra`]) {
      const err = errorOf(() => extractToken(token(), caller({ authorization: value })))
      expect(err.code).toBe('ERR_TOKEN_MISSING')
      expect(err.message).toBe('cannot authenticate the caller: the authorization header is not a Bearer token')
      expect(err.message).not.toContain(JWT)
    }
  })

  it('ignores a configured header name when reading from Authorization', () => {
    const config = token({ header: 'x-id-token' })
    expect(tokenHeaderOf(config)).toBe('authorization')
    expect(extractToken(config, caller({ authorization: `Bearer ${JWT}`, 'x-id-token': 'x.y.z' })).token).toBe(JWT)
  })
})

describe('extractToken: custom header', () => {
  const config = token({ from: 'header', header: 'x-id-token' })

  it('reads the token with or without the Bearer scheme', () => {
    expect(tokenHeaderOf(config)).toBe('x-id-token')
    expect(extractToken(config, caller({ 'x-id-token': JWT }))).toEqual({ token: JWT, header: 'x-id-token' })
    expect(extractToken(config, caller({ 'x-id-token': `  ${JWT}  ` })).token).toBe(JWT)
    expect(extractToken(config, caller({ 'x-id-token': `bearer ${JWT}` })).token).toBe(JWT)
  })

  it('does not fall back to Authorization', () => {
    const err = errorOf(() => extractToken(config, caller({ authorization: `Bearer ${JWT}` })))
    expect(err.code).toBe('ERR_TOKEN_MISSING')
    expect(err.message).toBe('cannot authenticate the caller: no token in the x-id-token header')
  })

  it('reports a value with another scheme as ERR_TOKEN_MISSING', () => {
    const err = errorOf(() => extractToken(config, caller({ 'x-id-token': `Token ${JWT}` })))
    expect(err.code).toBe('ERR_TOKEN_MISSING')
    expect(err.message).toBe('cannot authenticate the caller: the x-id-token header is not a Bearer token')
  })
})

describe('extractToken: token shape', () => {
  it('rejects what is not a compact JWT as ERR_TOKEN_INVALID without echoing it', () => {
    for (const bad of ['not-a-jwt', 'a.b', 'a.b.c.d', 'a+b.c.d', 'a.b/c.d', 'a..c', '.b.c', 'ä.b.c']) {
      const err = errorOf(() => extractToken(token(), caller({ authorization: `Bearer ${bad}` })))
      expect(err.code).toBe('ERR_TOKEN_INVALID')
      expect(err.message).toBe('cannot authenticate the caller: the token is not a compact JWT')
    }
  })

  it('accepts an empty signature part (alg none is left to the verifier and STS)', () => {
    expect(extractToken(token(), caller({ authorization: 'Bearer abc.def.' })).token).toBe('abc.def.')
  })

  it('accepts a token of exactly MAX_TOKEN_BYTES and rejects one byte more', () => {
    const head = 'eyJhbGciOiJFUzI1NiJ9.'
    const sig = '.sig'
    const exact = `${head}${'a'.repeat(MAX_TOKEN_BYTES - head.length - sig.length)}${sig}`
    expect(exact).toHaveLength(MAX_TOKEN_BYTES)
    expect(extractToken(token(), caller({ authorization: `Bearer ${exact}` })).token).toBe(exact)
    const over = `${head}${'a'.repeat(MAX_TOKEN_BYTES - head.length - sig.length + 1)}${sig}`
    const err = errorOf(() => extractToken(token(), caller({ authorization: `Bearer ${over}` })))
    expect(err.code).toBe('ERR_TOKEN_INVALID')
    expect(err.message).not.toContain('aaaa')
  })
})

describe('extractToken: jwt_authn payload', () => {
  const payload = { iss: 'https://issuer.example', sub: 'alice', groups: ['admins'] }

  it('reads the token and the payload from metadata[namespace][payload_key]', () => {
    const config = token({ from: 'jwt_authn', payload_key: 'jwt_payload' })
    const extracted = extractToken(
      config,
      caller({ authorization: `Bearer ${JWT}` }, { [NAMESPACE]: { jwt_payload: payload, other: { sub: 'mallory' } } }),
    )
    expect(extracted).toEqual({ token: JWT, header: 'authorization', envoyClaims: payload })
  })

  it('honours a custom namespace and token header', () => {
    const config = token({ from: 'jwt_authn', header: 'x-jwt', metadata_namespace: 'my.ns', payload_key: 'p' })
    expect(tokenHeaderOf(config)).toBe('x-jwt')
    const extracted = extractToken(config, caller({ 'x-jwt': JWT }, { 'my.ns': { p: payload } }))
    expect(extracted.header).toBe('x-jwt')
    expect(extracted.envoyClaims).toEqual(payload)
  })

  it('reports a missing payload as ERR_TOKEN_MISSING naming forwarding_namespaces', () => {
    const config = token({ from: 'jwt_authn', payload_key: 'jwt_payload' })
    const metadatas: Array<Record<string, unknown>> = [
      {},
      { [NAMESPACE]: {} },
      { [NAMESPACE]: { jwt_payload: 'not-an-object' } },
      { [NAMESPACE]: { jwt_payload: ['a'] } },
      { [NAMESPACE]: { jwt_payload: null } },
      { [NAMESPACE]: 'scalar' },
      { other: { jwt_payload: payload } },
    ]
    for (const metadata of metadatas) {
      const err = errorOf(() => extractToken(config, caller({ authorization: `Bearer ${JWT}` }, metadata)))
      expect(err.code).toBe('ERR_TOKEN_MISSING')
      expect(err.message).toContain('forwarding_namespaces')
      expect(err.message).toContain('"jwt_payload"')
      expect(err.message).toContain(`"${NAMESPACE}"`)
    }
  })

  it('still needs the token in the header', () => {
    const config = token({ from: 'jwt_authn', payload_key: 'jwt_payload' })
    const err = errorOf(() => extractToken(config, caller({}, { [NAMESPACE]: { jwt_payload: payload } })))
    expect(err.code).toBe('ERR_TOKEN_MISSING')
    expect(err.message).toContain('authorization header')
  })
})
