import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { aws4SignerFor } from '../support/aws4Reference.js'
import { EMPTY_SHA256 } from '../support/iamListUsersExample.js'
import { runExplain, type ExplainDependencies } from '../../src/cli/explainCommand.js'
import { EXPLAIN_USAGE } from '../../src/cli/explainArgs.js'
import type {
  StsClientOptions,
  StsCommand,
  StsLike,
} from '../../src/credentials/credentialSources.js'
import { explainRequest, signRequest } from '../../src/signing/index.js'
import type { SignRequestInput, SigningCredentials } from '../../src/signing/index.js'

// The AWS SigV4 test suite's example key pair, which --fake-credentials signs with.
const EXAMPLE_KEY_ID = 'AKIDEXAMPLE'
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const EXAMPLE: SigningCredentials = { accessKeyId: EXAMPLE_KEY_ID, secretAccessKey: EXAMPLE_SECRET }

const DATE = '2026-11-21T10:00:00Z'
const AMZ_DATE = '20261121T100000Z'

const AGENTCORE_HOST = 'bedrock-agentcore.us-east-1.amazonaws.com'
const RUNTIME_ARN =
  'arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_srv-AbC123'
const RUNTIME_PATH = `/runtimes/${RUNTIME_ARN}/invocations`
const BODY = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
const BODY_SHA256 = createHash('sha256').update(BODY, 'utf8').digest('hex')

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex')

const dir = mkdtempSync(join(tmpdir(), 'explain-test-'))
const bodyFile = join(dir, 'body.json')
writeFileSync(bodyFile, BODY)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Run {
  readonly code: number
  readonly out: string
  readonly err: string
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString())
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}

async function run(
  argv: readonly string[],
  deps: ExplainDependencies = {},
  env: Record<string, string> = {},
): Promise<Run> {
  const out = sink()
  const err = sink()
  const code = await runExplain(argv, env, out.stream, err.stream, deps)
  return { code, out: out.text(), err: err.text() }
}

/** The lines between a `----- <name> -----` marker and the next `----- end -----`. */
function block(out: string, name: string): string {
  const start = out.indexOf(`----- ${name} -----\n`)
  expect(start, `block ${name}`).toBeGreaterThanOrEqual(0)
  const from = start + `----- ${name} -----\n`.length
  return out.slice(from, out.indexOf('\n----- end -----', from))
}

/** What `aws4` computes for the same request: canonical request, string to sign, authorization. */
function withAws4(input: SignRequestInput, credentials: SigningCredentials) {
  const signer = aws4SignerFor(input, credentials)
  const canonicalRequest = signer.canonicalString()
  const stringToSign = signer.stringToSign()
  const authorization = String(signer.sign().headers?.Authorization)
  return { canonicalRequest, stringToSign, authorization }
}

const agentCoreArgs = [
  'explain',
  '--route', `host=${AGENTCORE_HOST}`,
  '--method', 'POST',
  '--path', `${RUNTIME_PATH}?qualifier=DEFAULT&accountId=123456789012`,
  '--header', 'content-type: application/json',
  '--header', 'accept: application/json, text/event-stream',
  '--header', 'X-Amz-Target: stale',
  '--body-file', bodyFile,
  '--date', DATE,
  '--fake-credentials',
]

const agentCoreInput: SignRequestInput = {
  method: 'POST',
  host: AGENTCORE_HOST,
  path: RUNTIME_PATH,
  query: 'qualifier=DEFAULT&accountId=123456789012',
  contentType: 'application/json',
  payloadSha256Hex: BODY_SHA256,
  region: 'us-east-1',
  service: 'bedrock-agentcore',
  signingDate: new Date(DATE),
}

describe('explain with --fake-credentials (AgentCore runtime)', () => {
  it('prints the canonical request the server signs', async () => {
    const { code, out, err } = await run(agentCoreArgs)
    expect(err).toBe('')
    expect(code).toBe(0)
    const doubleEncoded = RUNTIME_ARN.replaceAll('%', '%25')
    expect(block(out, 'canonical request').split('\n')).toEqual([
      'POST',
      `/runtimes/${doubleEncoded}/invocations`,
      'accountId=123456789012&qualifier=DEFAULT',
      'content-type:application/json',
      `host:${AGENTCORE_HOST}`,
      `x-amz-content-sha256:${BODY_SHA256}`,
      `x-amz-date:${AMZ_DATE}`,
      '',
      'content-type;host;x-amz-content-sha256;x-amz-date',
      BODY_SHA256,
    ])
    expect(doubleEncoded).toContain('arn%253Aaws%253Abedrock-agentcore')
  })

  it('prints the target and the source of each key', async () => {
    const { out } = await run(agentCoreArgs)
    expect(out).toContain('Signing target (route "unknown")')
    expect(out).toContain(
      `  host      ${AGENTCORE_HOST}   [gRPC metadata x-mcp-sigv4-host (--route)]\n`,
    )
    expect(out).toMatch(/path +\/runtimes\/arn%3Aaws.*\/invocations +\[the request \(--path\)\]/)
    expect(out).toContain(
      '  query     qualifier=DEFAULT&accountId=123456789012   [the request (--path)]\n',
    )
    expect(out).toMatch(/region +us-east-1 +\[inferred from host\]/)
    expect(out).toMatch(/service +bedrock-agentcore +\[inferred from host\]/)
    expect(out).toMatch(/identity +default +\[default\]/)
    expect(out).toMatch(new RegExp(`payload sha256 +${BODY_SHA256}`))
    expect(out).toContain(`${Buffer.byteLength(BODY)} bytes`)
    expect(out).toContain("AWS's SignatureDoesNotMatch message shows the canonical request")
  })

  it('agrees with aws4 on the canonical request, its hash and the string to sign', async () => {
    const { out } = await run(agentCoreArgs)
    const expected = withAws4(agentCoreInput, EXAMPLE)
    const canonical = block(out, 'canonical request')
    expect(canonical).toBe(expected.canonicalRequest)
    expect(out).toContain(`canonical request sha256: ${sha256Hex(canonical)}\n`)
    expect(block(out, 'string to sign')).toBe(expected.stringToSign)
    expect(expected.stringToSign.split('\n')).toEqual([
      'AWS4-HMAC-SHA256',
      AMZ_DATE,
      '20261121/us-east-1/bedrock-agentcore/aws4_request',
      sha256Hex(canonical),
    ])
  })

  it('says that @smithy/signature-v4 agrees, right after the string to sign', async () => {
    const { out } = await run(agentCoreArgs)
    const afterStringToSign = out.slice(out.indexOf('----- string to sign -----'))
    expect(afterStringToSign).toContain(
      '----- end -----\ncross-check: @smithy/signature-v4 agrees (same authorization header)\n\n',
    )
    expect(out).not.toContain('WARNING')
  })

  it('signs as the server: the unredacted signature matches aws4 and signRequest', async () => {
    const expected = withAws4(agentCoreInput, EXAMPLE)
    const explained = await explainRequest(agentCoreInput, EXAMPLE)
    const served = await signRequest(agentCoreInput, EXAMPLE)
    expect(explained.signed.authorization).toBe(expected.authorization)
    expect(served.authorization).toBe(expected.authorization)
    expect(explained.canonicalRequest).toBe(expected.canonicalRequest)
  })

  it('prints the header mutations with the signature and key redacted', async () => {
    const { out, err } = await run(agentCoreArgs)
    const expected = withAws4(agentCoreInput, EXAMPLE)
    const signature = /Signature=([0-9a-f]{64})$/.exec(expected.authorization)?.[1] as string
    expect(signature).toMatch(/^[0-9a-f]{64}$/)
    const mutations = out.slice(out.indexOf('Header mutations the server would send'))
    expect(mutations.split('\n').slice(1, 5)).toEqual([
      '  set     authorization: AWS4-HMAC-SHA256 Credential=AKID...MPLE/20261121/us-east-1/' +
        'bedrock-agentcore/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;' +
        'x-amz-date, Signature=<redacted>',
      `  set     x-amz-date: ${AMZ_DATE}`,
      `  set     x-amz-content-sha256: ${BODY_SHA256}`,
      '  remove  x-amz-target',
    ])
    for (const secret of [EXAMPLE_SECRET, EXAMPLE_KEY_ID, signature]) {
      expect(out).not.toContain(secret)
      expect(err).not.toContain(secret)
    }
    expect(out).toMatch(/access key id +AKID\.\.\.MPLE/)
    expect(out).toMatch(/session token +\(none\)/)
  })
})

describe('explain: AWS MCP Server route with a path key', () => {
  it('signs the route path with the request query over the empty payload', async () => {
    const { code, out } = await run([
      '--route', 'host=aws-mcp.us-east-1.api.aws',
      '--route', 'path=/mcp',
      '--path', '/aws-mcp?x=1',
      '--date', DATE,
      '--fake-credentials',
    ])
    expect(code).toBe(0)
    expect(block(out, 'canonical request').split('\n')).toEqual([
      'POST',
      '/mcp',
      'x=1',
      'host:aws-mcp.us-east-1.api.aws',
      `x-amz-content-sha256:${EMPTY_SHA256}`,
      `x-amz-date:${AMZ_DATE}`,
      '',
      'host;x-amz-content-sha256;x-amz-date',
      EMPTY_SHA256,
    ])
    expect(out).toMatch(/path +\/mcp +\[gRPC metadata x-mcp-sigv4-path \(--route\)\]/)
    expect(out).toMatch(/service +aws-mcp +\[inferred from host\]/)
    expect(out).toMatch(/payload +0 bytes +\[empty body\]/)
  })
})

describe('explain with a configured assume_role identity (real IdentityResolver, fake STS)', () => {
  const TOKEN = `IQoJb3JpZ2luX2VjE${'x'.repeat(300)}AbCdEf==`
  const KEY_ID = 'ASIAEXAMPLEEXAMPLE12'
  const SECRET = 'tEmPoRaRySeCrEtKeY/0123456789abcdefghijk'
  const config = [
    'identities:',
    '  ops:',
    '    kind: assume_role',
    '    role_arn: arn:aws:iam::123456789012:role/mcp-ops',
    'routes:',
    '  ops_route:',
    '    host: aws-mcp.us-east-1.api.aws',
    '    path: /mcp',
    '    identity: ops',
  ].join('\n')
  const files: Record<string, string> = { '/etc/mcp/config.yaml': config, '/tmp/body.json': BODY }
  const readFile = (path: string): Uint8Array => {
    const text = files[path]
    if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
    return Buffer.from(text)
  }
  const args = [
    '--config', '/etc/mcp/config.yaml',
    '--route-name', 'ops_route',
    '--path', '/anything?b=2&a=1',
    '--header', 'content-type: application/json',
    '--header', 'x-amz-security-token: stale-client-token',
    '--body-file', '/tmp/body.json',
    '--date', DATE,
  ]

  function fakeSts(calls: StsCommand[], fail = false): (options: StsClientOptions) => StsLike {
    return () => ({
      send: async (command) => {
        calls.push(command)
        if (fail) {
          const status = { httpStatusCode: 403 }
          throw Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: status })
        }
        const Expiration = new Date(Date.now() + 3_600_000)
        const Credentials = { AccessKeyId: KEY_ID, SecretAccessKey: SECRET, SessionToken: TOKEN }
        return { Credentials: { ...Credentials, Expiration } }
      },
    })
  }

  it('resolves the identity through STS and redacts the session token everywhere', async () => {
    const calls: StsCommand[] = []
    const { code, out, err } = await run(args, { readFile, createStsClient: fakeSts(calls) })
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(calls.map((c) => c.input.RoleArn)).toEqual(['arn:aws:iam::123456789012:role/mcp-ops'])
    expect(out).toContain('Signing target (route "ops_route")')
    expect(out).toMatch(/host +aws-mcp\.us-east-1\.api\.aws +\[configuration routes\.ops_route\]/)
    expect(out).toMatch(/identity +ops +\[configuration routes\.ops_route\]/)
    expect(out).toMatch(/credentials +identity "ops" \(assume_role\)/)
    const redactedToken = `<redacted, ${TOKEN.length} chars>`
    const canonical = block(out, 'canonical request')
    expect(canonical.split('\n').slice(3, 10)).toEqual([
      'content-type:application/json',
      'host:aws-mcp.us-east-1.api.aws',
      `x-amz-content-sha256:${BODY_SHA256}`,
      `x-amz-date:${AMZ_DATE}`,
      `x-amz-security-token:${redactedToken}`,
      '',
      'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token',
    ])
    expect(out).toContain(`  set     x-amz-security-token: ${redactedToken}\n`)
    expect(out).toContain('Credential=ASIA...LE12/20261121/us-east-1/aws-mcp/aws4_request')
    // The client's stale token is overwritten by the set, not listed for removal.
    expect(out).not.toContain('remove  x-amz-security-token')

    // The printed hash is of the real canonical request (with the token), as aws4 computes it.
    const input: SignRequestInput = {
      ...agentCoreInput,
      host: 'aws-mcp.us-east-1.api.aws',
      path: '/mcp',
      query: 'b=2&a=1',
      service: 'aws-mcp',
    }
    const credentials = { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN }
    const expected = withAws4(input, credentials)
    expect(expected.canonicalRequest.replace(TOKEN, redactedToken)).toBe(canonical)
    expect(out).toContain(`canonical request sha256: ${sha256Hex(expected.canonicalRequest)}\n`)
    expect(block(out, 'string to sign')).toBe(expected.stringToSign)
    expect(out).toContain('\ncross-check: @smithy/signature-v4 agrees (same authorization header)\n')
    const signature = /Signature=([0-9a-f]{64})$/.exec(expected.authorization)?.[1] as string
    for (const secret of [TOKEN, SECRET, KEY_ID, signature, 'stale-client-token']) {
      expect(out).not.toContain(secret)
      expect(err).not.toContain(secret)
    }
  })

  it('exits 1 with the STS error code when AssumeRole fails', async () => {
    const calls: StsCommand[] = []
    const { code, out, err } = await run(args, { readFile, createStsClient: fakeSts(calls, true) })
    expect(code).toBe(1)
    expect(out).toBe('')
    expect(err).toMatch(
      /^error ERR_STS_FAILED: cannot assume role for identity "ops": .*AccessDenied/,
    )
    expect(calls).toHaveLength(1)
  })

  it('exits 2 with the problem list for an invalid configuration', async () => {
    files['/etc/mcp/bad.yaml'] =
      'identities:\n  ops:\n    kind: assume_role\n    role_arn: nope\nbogus: 1\n'
    const argv = ['--config', '/etc/mcp/bad.yaml', '--path', '/mcp']
    const { code, out, err } = await run(argv, { readFile })
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toContain('cannot load configuration from /etc/mcp/bad.yaml: 2 problem(s)')
    expect(err).toMatch(/  - identities\.ops\.role_arn: /)
    expect(err).toMatch(/  - .*bogus/)
  })

  it('exits 2 when the body file cannot be read', async () => {
    const { code, err } = await run([...args.slice(0, -2), '--body-file', '/missing'], { readFile })
    expect(code).toBe(2)
    expect(err).toBe('cannot read body file "/missing": ENOENT\n')
  })
})

describe('explain: a request @smithy/signature-v4 signs differently', () => {
  // smithy 5.7.5 signs a query key "__proto__" as "[object Object]" (its pairs land on a plain
  // object's prototype setter); the product signs it as SigV4 says. Should a smithy upgrade fix
  // that, this test fails: pick another input the two disagree on, or drop the test.
  it('prints a warning instead of the agreement line', async () => {
    const { code, out, err } = await run([
      '--route', 'host=aws-mcp.us-east-1.api.aws',
      '--path', '/mcp?__proto__=1&a=2',
      '--date', DATE,
      '--fake-credentials',
    ])
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(block(out, 'canonical request').split('\n')[2]).toBe('__proto__=1&a=2')
    const afterStringToSign = out.slice(out.indexOf('----- string to sign -----'))
    expect(afterStringToSign).toContain(
      '----- end -----\n' +
        'WARNING cross-check: @smithy/signature-v4 signs this request differently (please report it):\n' +
        'one of the two signers is wrong here, so AWS may compute another canonical request.\n\n',
    )
    expect(out).not.toContain('cross-check: @smithy/signature-v4 agrees')
  })
})

describe('explain failures', () => {
  it('exits 2 for a route without host (the server would pass it through)', async () => {
    const { code, out, err } = await run(['--path', '/mcp', '--route', 'region=us-east-1'])
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toContain('no route key "host" was found, so the server would pass this request')
    expect(err).toContain('--route host=<authority>')
  })

  it('exits 1 with ERR_ROUTE_TARGET_INCOMPLETE when the region cannot be inferred', async () => {
    const { code, out, err } = await run([
      '--route', 'host=mcp.example.com', '--path', '/mcp', '--fake-credentials',
    ])
    expect(code).toBe(1)
    expect(out).toBe('')
    expect(err.startsWith(
      'error ERR_ROUTE_TARGET_INCOMPLETE: cannot resolve signing region for route "unknown": ' +
        'host "mcp.example.com" is not of a form it can be inferred from',
    )).toBe(true)
  })

  it('exits 1 with ERR_IDENTITY_UNKNOWN for an identity that is not configured', async () => {
    const { code, err } = await run([
      '--route', 'host=aws-mcp.us-east-1.api.aws', '--route', 'identity=prod',
      '--path', '/mcp', '--fake-credentials',
    ])
    expect(code).toBe(1)
    expect(err).toBe('error ERR_IDENTITY_UNKNOWN: cannot sign: identity "prod" is not configured\n')
  })

  it('exits 2 listing every usage problem, then the usage text', async () => {
    const { code, out, err } = await run([
      '--route', 'hots=x', '--route', 'host', '--header', 'no-colon', '--date', '2026-11-21',
    ])
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toContain('cannot explain: 5 problem(s)\n')
    expect(err).toContain('--route "hots": unknown route key')
    expect(err).toContain('--route "host": expected <key>=<value>')
    expect(err).toContain('--header "no-colon": expected \'<name>: <value>\'')
    expect(err).toContain('--date "2026-11-21": expected an ISO 8601 time')
    expect(err).toContain('--path is required')
    expect(err.endsWith(EXPLAIN_USAGE)).toBe(true)
  })

  it('exits 2 for an unknown option', async () => {
    const { code, err } = await run(['--path', '/mcp', '--sign-it'])
    expect(code).toBe(2)
    expect(err).toContain("Unknown option '--sign-it'")
  })

  it('prints the usage text with --help and exits 0', async () => {
    const { code, out } = await run(['explain', '--help'])
    expect(code).toBe(0)
    expect(out).toBe(EXPLAIN_USAGE)
  })
})
