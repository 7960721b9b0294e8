import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { z } from 'zod'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { startEnvoyEmulator, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream, type SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import { AWS_MCP_HOST, BASE } from './fixture.js'

/** The second identity a call can switch to. */
export const ALT = {
  accessKeyId: 'AKIDE2EALT0000000002',
  secretAccessKey: 'e2e-alt-secret-abcdefghij0123456789',
  sessionToken: 'e2e-alt-session-token-0123456789abc',
} as const

export const AGENT_HEADER = 'x-mcp-agent'

export interface PolicyFixture {
  app: RunningApp
  /** Answers with SSE streams (the SDK's default). */
  sseUpstream: SigV4Upstream
  /** Answers with application/json. */
  jsonUpstream: SigV4Upstream
  envoy: EnvoyEmulator
  logs: string[]
  close(): Promise<void>
}

/**
 * Routes with an agent policy (`ops`) and with per-call identity overrides (`default` may switch
 * to `alt`; argument mode `aws_profile` enabled), in front of two verifying MCP upstreams: one
 * answering in SSE, one in JSON. The upstreams register a `legacy` tool that already has an
 * `aws_profile` parameter. Envoy sends response headers and allows mode overrides.
 */
export async function startPolicyE2e(): Promise<PolicyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-policy-'))
  writeFileSync(
    join(dir, 'credentials'),
    [
      `[base]\naws_access_key_id = ${BASE.accessKeyId}\naws_secret_access_key = ${BASE.secretAccessKey}\naws_session_token = ${BASE.sessionToken}\n`,
      `[alt]\naws_access_key_id = ${ALT.accessKeyId}\naws_secret_access_key = ${ALT.secretAccessKey}\naws_session_token = ${ALT.sessionToken}\n`,
    ].join('\n'),
  )
  writeFileSync(join(dir, 'config'), '[profile base]\nregion = us-east-1\n[profile alt]\nregion = us-east-1\n')
  const known: Record<string, KnownCredential> = {
    [BASE.accessKeyId]: { secretAccessKey: BASE.secretAccessKey, sessionToken: BASE.sessionToken },
    [ALT.accessKeyId]: { secretAccessKey: ALT.secretAccessKey, sessionToken: ALT.sessionToken },
  }
  const configureServer: Parameters<typeof startSigV4Upstream>[0]['configureServer'] = (server) => {
    server.registerTool(
      'legacy',
      { description: 'Has its own aws_profile parameter', inputSchema: { aws_profile: z.string() } },
      ({ aws_profile }) => ({ content: [{ type: 'text', text: `legacy got ${aws_profile}` }] }),
    )
  }
  const expected = { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST }
  const sseUpstream = await startSigV4Upstream({ credentials: known, expected, configureServer })
  const jsonUpstream = await startSigV4Upstream({ credentials: known, expected, configureServer, jsonResponse: true })

  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'))
      callback()
    },
  })
  const profile = (name: string) =>
    `{ kind: profile, profile: ${name}, credentials_file: "${join(dir, 'credentials')}", config_file: "${join(dir, 'config')}" }`
  const { config } = loadConfig({
    text: `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0" }
identities:
  default: ${profile('base')}
  alt: ${profile('alt')}
mcp:
  identity_override: { argument: aws_profile }
  policies:
    ops:
      agent: { header: ${AGENT_HEADER} }
      agents:
        reader: { allow: { tools: ["echo", "get_*"] } }
        admin: { allow: { tools: ["*"] }, deny: { tools: ["add"] } }
`,
  })
  const app = await startApp({ config, logger: createLogger('info', sink) })
  const route = (name: string, prefix: string, port: number, keys: Record<string, string>) => ({
    name,
    prefix,
    metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', ...keys } } },
    hostRewriteLiteral: AWS_MCP_HOST,
    regexRewrite: { pattern: new RegExp(`^${prefix}(/.*)?$`), substitution: '/mcp' },
    upstream: { host: '127.0.0.1', port },
  })
  const envoy = await startEnvoyEmulator({
    extProcAddress: `127.0.0.1:${app.grpcPort}`,
    messageTimeoutMs: 2000,
    allowModeOverride: true,
    processingMode: { response_header_mode: 'SEND' },
    routes: [
      route('policy_sse', '/policy-sse', sseUpstream.port, { policy: 'ops' }),
      route('policy_json', '/policy-json', jsonUpstream.port, { policy: 'ops' }),
      route('override_sse', '/override-sse', sseUpstream.port, { identities: 'alt' }),
      route('override_json', '/override-json', jsonUpstream.port, { identities: 'alt' }),
    ],
  })
  return {
    app,
    sseUpstream,
    jsonUpstream,
    envoy,
    logs,
    close: async () => {
      await envoy.close()
      await app.stop(1000)
      await Promise.all([sseUpstream.close(), jsonUpstream.close()])
    },
  }
}
