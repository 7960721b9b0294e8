import { mkdtempSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { startEnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream, type SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'

/** Long-term keys of the `default` identity (a profile in a temporary credentials file). */
export const BASE = {
  accessKeyId: 'AKIDE2EBASE000000001',
  secretAccessKey: 'e2e-base-secret-0123456789abcdefghij',
  sessionToken: 'e2e-base-session-token-zyxwvutsrqponm',
} as const

export const AWS_MCP_HOST = 'aws-mcp.us-east-1.api.aws'
export const AGENTCORE_HOST = 'gw-e2e123.gateway.bedrock-agentcore.eu-west-1.amazonaws.com'
export const UNKNOWN_HOST = 'mcp.internal.example.com'

export interface E2eFixture {
  app: RunningApp
  sts: FakeSts
  awsMcp: SigV4Upstream
  agentcore: SigV4Upstream
  unknownHost: SigV4Upstream
  plain: SigV4Upstream
  envoy: Awaited<ReturnType<typeof startEnvoyEmulator>>
  logs: string[]
  close(): Promise<void>
}

/**
 * The whole chain on loopback: fake STS, SigV4-verifying MCP upstreams, the real server (started
 * through `startApp` with a YAML configuration) and the Envoy emulator in front.
 */
export async function startE2e(options: { maxBodyBytes?: number } = {}): Promise<E2eFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-e2e-'))
  writeFileSync(
    join(dir, 'credentials'),
    `[base]\naws_access_key_id = ${BASE.accessKeyId}\naws_secret_access_key = ${BASE.secretAccessKey}\naws_session_token = ${BASE.sessionToken}\n`,
  )
  writeFileSync(join(dir, 'config'), '[profile base]\nregion = us-east-1\n')
  const sts = await startFakeSts({
    callerCredentials: { [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken } },
  })
  const known = (): Record<string, KnownCredential> => {
    const all: Record<string, KnownCredential> = {
      [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken },
    }
    for (const [id, c] of sts.issued) all[id] = { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }
    return all
  }
  const awsMcp = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST } })
  const agentcore = await startSigV4Upstream({
    credentials: known,
    expected: { region: 'eu-west-1', service: 'bedrock-agentcore', host: AGENTCORE_HOST },
  })
  const unknownHost = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'x', host: UNKNOWN_HOST } })
  const plain = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'none' }, mcp: false })

  const logs: string[] = []
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'))
      callback()
    },
  })
  const { config } = loadConfig({
    text: `
server:
  grpc_address: 127.0.0.1:0
  http_address: 127.0.0.1:0
  max_body_bytes: ${options.maxBodyBytes ?? 1048576}
logging: { level: info }
sts: { region: us-east-1, timeout_ms: 3000 }
identities:
  default:
    kind: profile
    profile: base
    credentials_file: ${join(dir, 'credentials')}
    config_file: ${join(dir, 'config')}
  ops:
    kind: assume_role
    role_arn: arn:aws:iam::123456789012:role/mcp-agentcore
    source: default
    endpoint: ${sts.endpoint}
`,
  })
  const app = await startApp({ config, logger: createLogger('info', logSink) })
  const envoy = await startEnvoyEmulator({
    extProcAddress: `127.0.0.1:${app.grpcPort}`,
    messageTimeoutMs: 2000,
    maxMessageTimeoutMs: 10_000,
    bufferLimitBytes: 4 * 1024 * 1024,
    routes: [
      {
        // Plain Envoy: route metadata, full-path rewrite, region/service inferred from the host.
        name: 'aws_mcp_us_east_1',
        prefix: '/aws-mcp',
        metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp' } } },
        hostRewriteLiteral: AWS_MCP_HOST,
        regexRewrite: { pattern: /^\/aws-mcp(\/.*)?$/, substitution: '/mcp' },
        upstream: { host: '127.0.0.1', port: awsMcp.port },
      },
      {
        // Keys as per-route gRPC initial metadata, prefix rewrite, identity from STS.
        name: 'agentcore_eu_west_1',
        prefix: '/agentcore',
        grpcInitialMetadata: {
          'x-mcp-sigv4-host': AGENTCORE_HOST,
          'x-mcp-sigv4-path-prefix': '/agentcore',
          'x-mcp-sigv4-path-prefix-replacement': '/mcp',
          'x-mcp-sigv4-identity': 'ops',
        },
        hostRewriteLiteral: AGENTCORE_HOST,
        prefixRewrite: '/mcp',
        upstream: { host: '127.0.0.1', port: agentcore.port },
      },
      {
        // Envoy Gateway: HTTPRoute annotations inside filter_metadata["envoy-gateway"].
        name: 'httproute/mcp/aws-mcp/rule/0/match/0/*',
        prefix: '/eg-mcp',
        metadata: {
          filter_metadata: {
            'envoy-gateway': {
              resources: [
                {
                  kind: 'HTTPRoute',
                  name: 'aws-mcp',
                  namespace: 'mcp',
                  annotations: { 'mcp-sigv4-host': AWS_MCP_HOST, 'mcp-sigv4-path': '/mcp' },
                },
              ],
            },
          },
        },
        hostRewriteLiteral: AWS_MCP_HOST,
        regexRewrite: { pattern: /^\/eg-mcp(\/.*)?$/, substitution: '/mcp' },
        upstream: { host: '127.0.0.1', port: awsMcp.port },
      },
      {
        // A host from which neither region nor service can be inferred.
        name: 'misconfigured',
        prefix: '/misconfigured',
        metadata: { filter_metadata: { mcp_sigv4: { host: UNKNOWN_HOST, path: '/mcp' } } },
        hostRewriteLiteral: UNKNOWN_HOST,
        regexRewrite: { pattern: /^\/misconfigured(\/.*)?$/, substitution: '/mcp' },
        upstream: { host: '127.0.0.1', port: unknownHost.port },
      },
      {
        // Not an AWS route: no metadata at all.
        name: 'plain',
        prefix: '/plain',
        upstream: { host: '127.0.0.1', port: plain.port },
      },
    ],
  })
  return {
    app,
    sts,
    awsMcp,
    agentcore,
    unknownHost,
    plain,
    envoy,
    logs,
    close: async () => {
      await envoy.close()
      await app.stop(1000)
      await Promise.all([awsMcp.close(), agentcore.close(), unknownHost.close(), plain.close(), sts.close()])
    },
  }
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One raw HTTP/1.1 request, with full control over the headers (including `Host`). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: !('host' in headers) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Polls until `check` returns true or the time is up. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting for a condition')
    await new Promise((r) => setTimeout(r, 10))
  }
}
