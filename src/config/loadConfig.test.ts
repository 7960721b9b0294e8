import { describe, expect, it } from 'vitest'
import { ConfigInvalidError } from './configError.js'
import { loadConfig } from './loadConfig.js'

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.problems
    throw err
  }
  throw new Error('expected ConfigInvalidError')
}

describe('loadConfig', () => {
  it('uses the embedded default when no file is named', () => {
    const { config, source } = loadConfig({ argv: [], env: {} })
    expect(source).toBe('<embedded default>')
    expect(config.server.grpc_address).toBe('0.0.0.0:50051')
    expect(config.server.http_address).toBe('0.0.0.0:9090')
    expect(config.server.max_body_bytes).toBe(1024 * 1024)
    expect(config.identities).toEqual({ default: { kind: 'default_chain', warm: false } })
    expect(config.sts.region).toBe('us-east-1')
    expect(Object.isFrozen(config.server)).toBe(true)
  })

  it('reads --config, --config= and MCP_SIGV4_CONFIG, in that order of precedence', () => {
    const files: Record<string, string> = {
      '/a.yaml': 'server: { grpc_address: "127.0.0.1:1" }',
      '/b.yaml': 'server: { grpc_address: "127.0.0.1:2" }',
    }
    const readFile = (p: string) => files[p] ?? ''
    expect(loadConfig({ argv: ['--config', '/a.yaml'], env: { MCP_SIGV4_CONFIG: '/b.yaml' }, readFile }).config.server.grpc_address).toBe('127.0.0.1:1')
    expect(loadConfig({ argv: ['--config=/a.yaml'], env: {}, readFile }).source).toBe('/a.yaml')
    expect(loadConfig({ argv: [], env: { MCP_SIGV4_CONFIG: '/b.yaml' }, readFile }).config.server.grpc_address).toBe('127.0.0.1:2')
  })

  it('applies MCP_SIGV4__ overrides as YAML scalars', () => {
    const { config, overrides } = loadConfig({
      env: { MCP_SIGV4__SERVER__MAX_BODY_BYTES: '2048', MCP_SIGV4__LOGGING__LEVEL: 'debug' },
    })
    expect(config.server.max_body_bytes).toBe(2048)
    expect(config.logging.level).toBe('debug')
    expect(overrides).toEqual(['MCP_SIGV4__LOGGING__LEVEL', 'MCP_SIGV4__SERVER__MAX_BODY_BYTES'])
  })

  it('takes the STS region from AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(loadConfig({ env: { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'ap-south-1' } }).config.sts.region).toBe('eu-west-1')
    expect(loadConfig({ env: { AWS_DEFAULT_REGION: 'ap-south-1' } }).config.sts.region).toBe('ap-south-1')
  })

  it('reports every problem at once: unknown keys, wrong types, malformed ARNs, unknown references', () => {
    const text = `
server:
  grpc_adress: 1
  max_body_bytes: "big"
identities:
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::12345:role/x
    source: nowhere
  prof:
    kind: profile
  bad:
    kind: static
routes:
  r1: { host: a.example, identity: ghost }
`
    const problems = problemsOf(() => loadConfig({ text }))
    expect(problems).toEqual(
      expect.arrayContaining([
        'server: Unrecognized key: "grpc_adress"',
        expect.stringMatching(/^server\.max_body_bytes: /),
        expect.stringMatching(/^identities\.ops\.role_arn: expected an IAM role ARN/),
        expect.stringMatching(/^identities\.prof\.profile: /),
        expect.stringMatching(/^identities\.bad\.kind: /),
      ]),
    )
    expect(problems.length).toBeGreaterThanOrEqual(5)
  })

  it('reports references to unknown identities and source cycles', () => {
    const text = `
identities:
  a: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/a", source: b }
  b: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/b", source: a }
  c: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/c", source: missing }
routes:
  r1: { host: a.example, identity: ghost }
`
    const problems = problemsOf(() => loadConfig({ text }))
    expect(problems).toEqual([
      'identities.c.source: unknown identity "missing"',
      'identities: assume_role sources form a cycle: a -> b -> a',
      'routes.r1.identity: unknown identity "ghost"',
    ])
  })

  it('rejects YAML syntax errors and duplicate keys with line numbers', () => {
    const problems = problemsOf(() => loadConfig({ text: 'server:\n  grpc_address: a\n  grpc_address: b\n' }))
    expect(problems[0]).toMatch(/^YAML DUPLICATE_KEY at line 3/)
  })

  it('says which file could not be read', () => {
    const err = (() => {
      try {
        loadConfig({ argv: ['--config', '/nope.yaml'], readFile: () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }) } })
      } catch (e) {
        return e as ConfigInvalidError
      }
      return undefined
    })()
    expect(err?.message).toContain('/nope.yaml')
    expect(err?.problems).toEqual(['cannot read the file: ENOENT'])
  })

  it('accepts a complete assume_role identity with defaults filled in', () => {
    const { config } = loadConfig({
      text: `
identities:
  default: { kind: default_chain }
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::123456789012:role/mcp-ops
    source: default
    external_id: ext-1234
    endpoint: http://127.0.0.1:4566
`,
    })
    expect(config.identities.ops).toEqual({
      kind: 'assume_role',
      role_arn: 'arn:aws:iam::123456789012:role/mcp-ops',
      source: 'default',
      external_id: 'ext-1234',
      endpoint: 'http://127.0.0.1:4566',
      session_name: 'mcp-sigv4-extproc',
      duration_seconds: 3600,
      warm: false,
    })
  })
})
