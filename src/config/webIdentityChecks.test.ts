import { generateKeyPair, exportJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { CredentialCache, IdentityResolver } from '../credentials/index.js'
import { ConfigInvalidError } from './configError.js'
import { loadConfig } from './loadConfig.js'
import { configSchema } from './schema.js'
import { checkWebIdentities } from './webIdentityChecks.js'

const ROLE = 'arn:aws:iam::123456789012:role/mcp'
const ISSUER = 'https://idp.example'

/** A readFile over an in-memory set of files; missing ones fail like fs does. */
function files(contents: Record<string, string>) {
  const reads: string[] = []
  const readFile = (path: string): string => {
    reads.push(path)
    const text = contents[path]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' })
    return text
  }
  return { readFile, reads }
}

const GOOD_JWKS = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] })

/** Problems of `identities` (a raw, pre-schema object) from the web_identity checks alone. */
function check(identities: Record<string, unknown>, contents: Record<string, string> = {}): string[] {
  const config = configSchema.parse({ identities })
  return checkWebIdentities(config, files(contents).readFile)
}

function web(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'web_identity', fallback_role_arn: ROLE, ...fields }
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.problems
    throw err
  }
  throw new Error('expected ConfigInvalidError')
}

describe('checkWebIdentities', () => {
  it('accepts complete web_identity identities and ignores the other kinds', () => {
    const { readFile, reads } = files({ '/etc/jwks.json': GOOD_JWKS })
    const config = configSchema.parse({
      identities: {
        plain: web(),
        header: web({ token: { from: 'header', header: 'x-id-token' } }),
        envoy: web({ token: { from: 'jwt_authn', payload_key: 'jwt_payload' } }),
        remote: web({ verify: { issuer: ISSUER, jwks_url: 'https://idp.example/jwks' } }),
        local: web({ verify: { issuer: ISSUER, jwks_file: '/etc/jwks.json' } }),
        rules: { kind: 'web_identity', roles: [{ role_arn: ROLE, match: { cel: '"a" in claims.groups' } }] },
        chain: { kind: 'default_chain' },
        ops: { kind: 'assume_role', role_arn: ROLE },
      },
    })
    expect(checkWebIdentities(config, readFile)).toEqual([])
    expect(reads).toEqual(['/etc/jwks.json'])
  })

  it('requires token.header when token.from is "header"', () => {
    expect(check({ web: web({ token: { from: 'header' } }) })).toEqual([
      'identities.web.token.header: required when token.from is "header"',
    ])
  })

  it('requires token.payload_key when token.from is "jwt_authn"', () => {
    expect(check({ web: web({ token: { from: 'jwt_authn' } }) })).toEqual([
      'identities.web.token.payload_key: required when token.from is "jwt_authn" (jwt_authn payload_in_metadata)',
    ])
    // A custom header alone is not enough.
    expect(check({ web: web({ token: { from: 'jwt_authn', header: 'x-jwt' } }) })).toHaveLength(1)
  })

  it('requires roles, a fallback role or both', () => {
    const expected = ['identities.web: give "roles", "fallback_role_arn" or both']
    expect(check({ web: { kind: 'web_identity' } })).toEqual(expected)
    expect(check({ web: { kind: 'web_identity', roles: [] } })).toEqual(expected)
    expect(check({ web: { kind: 'web_identity', roles: [{ role_arn: ROLE, match: { claim: 'g', values: ['a'] } }] } })).toEqual([])
  })

  it('reports CEL that does not parse, with the rule index and the first line of the parser message', () => {
    const problems = check({
      web: web({
        roles: [
          { role_arn: ROLE, match: { cel: '"ok" in claims.groups' } },
          { role_arn: ROLE, match: { cel: 'claims.groups ==' } },
          { role_arn: ROLE, match: { claim: 'groups', values: ['x'] } },
          { role_arn: ROLE, match: { cel: '1 +' } },
        ],
      }),
    })
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^identities\.web\.roles\.1\.match\.cel: \S/)
    expect(problems[1]).toMatch(/^identities\.web\.roles\.3\.match\.cel: \S/)
    for (const problem of problems) expect(problem).not.toContain('\n')
  })

  it('requires exactly one of jwks_url and jwks_file', () => {
    expect(check({ web: web({ verify: { issuer: ISSUER } }) })).toEqual([
      'identities.web.verify: give exactly one of "jwks_url" and "jwks_file"',
    ])
    expect(
      check(
        { web: web({ verify: { issuer: ISSUER, jwks_url: 'https://idp.example/jwks', jwks_file: '/j.json' } }) },
        { '/j.json': GOOD_JWKS },
      ),
    ).toEqual(['identities.web.verify: give exactly one of "jwks_url" and "jwks_file"'])
  })

  it('reports a jwks_file that cannot be read, is not JSON or has no keys', () => {
    const verify = (jwks_file: string) => web({ verify: { issuer: ISSUER, jwks_file } })
    const contents = {
      '/text.json': 'not json {',
      '/nokeys.json': '{"jwks":[]}',
      '/empty.json': '{"keys":[]}',
      '/notarray.json': '{"keys":{"kid":"k1"}}',
    }
    expect(check({ web: verify('/missing.json') }, contents)).toEqual([
      'identities.web.verify.jwks_file: cannot read "/missing.json": ENOENT',
    ])
    expect(check({ web: verify('/text.json') }, contents)).toEqual(['identities.web.verify.jwks_file: "/text.json" is not JSON'])
    for (const file of ['/nokeys.json', '/empty.json', '/notarray.json']) {
      expect(check({ web: verify(file) }, contents)).toEqual([`identities.web.verify.jwks_file: "${file}" has no "keys" array`])
    }
  })

  it('reports every problem of every identity, each under its own path', () => {
    const problems = check({
      a: { kind: 'web_identity', token: { from: 'header' } },
      b: web({ token: { from: 'jwt_authn' }, verify: { issuer: ISSUER }, roles: [{ role_arn: ROLE, match: { cel: '(' } }] }),
    })
    expect(problems).toEqual([
      'identities.a.token.header: required when token.from is "header"',
      'identities.a: give "roles", "fallback_role_arn" or both',
      expect.stringMatching(/^identities\.b\.token\.payload_key: /),
      expect.stringMatching(/^identities\.b\.roles\.0\.match\.cel: /),
      'identities.b.verify: give exactly one of "jwks_url" and "jwks_file"',
    ])
  })
})

describe('loadConfig with web_identity identities', () => {
  it('runs the checks with the injected readFile and reports them with their paths', () => {
    const { readFile, reads } = files({ '/jwks.json': '[]' })
    const problems = problemsOf(() =>
      loadConfig({
        readFile,
        text: `
identities:
  web:
    kind: web_identity
    token: { from: header }
    verify: { issuer: "${ISSUER}", jwks_file: /jwks.json }
`,
      }),
    )
    expect(problems).toEqual([
      'identities.web.token.header: required when token.from is "header"',
      'identities.web: give "roles", "fallback_role_arn" or both',
      'identities.web.verify.jwks_file: "/jwks.json" has no "keys" array',
    ])
    expect(reads).toEqual(['/jwks.json'])
  })

  it('rejects an assume_role whose source is a web_identity, naming both', () => {
    const problems = problemsOf(() =>
      loadConfig({
        text: `
identities:
  web: { kind: web_identity, fallback_role_arn: "${ROLE}" }
  ops: { kind: assume_role, role_arn: "${ROLE}", source: web }
`,
      }),
    )
    expect(problems).toEqual([
      'identities.ops.source: "web" is a web_identity (per caller) and cannot be a role-chaining source',
    ])
  })

  it('reports cross-reference and web_identity problems together', () => {
    const problems = problemsOf(() =>
      loadConfig({
        text: `
identities:
  web: { kind: web_identity, token: { from: jwt_authn } }
  ops: { kind: assume_role, role_arn: "${ROLE}", source: web }
routes:
  r1: { identity: ghost }
`,
      }),
    )
    expect(problems).toEqual([
      'identities.ops.source: "web" is a web_identity (per caller) and cannot be a role-chaining source',
      'routes.r1.identity: unknown identity "ghost"',
      'identities.web.token.payload_key: required when token.from is "jwt_authn" (jwt_authn payload_in_metadata)',
      'identities.web: give "roles", "fallback_role_arn" or both',
    ])
  })

  it('accepts a web_identity that routes refer to', () => {
    const { config } = loadConfig({
      text: `
identities:
  web: { kind: web_identity, fallback_role_arn: "${ROLE}" }
routes:
  r1: { identity: web }
`,
    })
    const web = config.identities.web
    expect(web?.kind).toBe('web_identity')
    if (web?.kind !== 'web_identity') return
    expect(web.token).toEqual({ from: 'authorization', metadata_namespace: 'envoy.filters.http.jwt_authn' })
    expect(web.session_name_claim).toBe('sub')
    expect(web.duration_seconds).toBe(3600)
    expect(web.roles).toEqual([])
  })

  it('rejects out-of-range and malformed web_identity fields in the schema', () => {
    const problems = problemsOf(() =>
      loadConfig({
        text: `
identities:
  web:
    kind: web_identity
    token: { from: cookie, header: X-Token }
    roles:
      - role_arn: "${ROLE}"
        priority: -1
        match: { claim: groups, values: [] }
        session_policy: "[1]"
        duration_seconds: 60
    fallback_role_arn: not-an-arn
`,
      }),
    )
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^identities\.web\.token\.from: /),
        expect.stringMatching(/^identities\.web\.token\.header: expected a lower-case header name/),
        expect.stringMatching(/^identities\.web\.roles\.0\.priority: /),
        expect.stringMatching(/^identities\.web\.roles\.0\.match/),
        expect.stringMatching(/^identities\.web\.roles\.0\.session_policy: expected a JSON policy document/),
        expect.stringMatching(/^identities\.web\.roles\.0\.duration_seconds: /),
        expect.stringMatching(/^identities\.web\.fallback_role_arn: expected an IAM role ARN/),
      ]),
    )
  })

  // Regression: a file whose keys are not JWK objects used to pass the configuration check and
  // then crash the IdentityResolver constructor at startup with jose's JWKSInvalid.
  it('reports a jwks_file whose keys are not JWK objects at load, not at startup', async () => {
    const { publicKey } = await generateKeyPair('ES256')
    const contents = { '/bad.json': JSON.stringify({ keys: ['k1', await exportJWK(publicKey)] }) }
    const { readFile } = files(contents)
    const text = `
identities:
  web:
    kind: web_identity
    fallback_role_arn: "${ROLE}"
    verify: { issuer: "${ISSUER}", jwks_file: /bad.json }
`
    let problems: readonly string[] = []
    try {
      const { config } = loadConfig({ text, readFile })
      const cache = new CredentialCache({
        maxEntries: 10,
        refreshAheadMs: 0,
        expirySkewMs: 0,
        staticTtlMs: 1000,
        backoffInitialMs: 0,
        backoffMaxMs: 0,
      })
      new IdentityResolver({ config, cache, readFile })
    } catch (err) {
      if (!(err instanceof ConfigInvalidError)) throw err
      problems = err.problems
    }
    expect(problems).toEqual([expect.stringMatching(/^identities\.web\.verify\.jwks_file: /)])
  })
})
