import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { startEnvoyEmulator, type EnvoyEmulator } from '../harness/envoyEmulator.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import type { KnownCredential } from '../harness/sigv4Verifier.js'
import { startSigV4Upstream, type SigV4Upstream } from '../harness/sigv4VerifyingUpstream.js'
import { AWS_MCP_HOST } from './fixture.js'

export const ISSUER = 'https://idp.e2e.example'
export const AUDIENCE = 'mcp-gateway'
export const ROLES = {
  admins: 'arn:aws:iam::123456789012:role/mcp-admins',
  developers: 'arn:aws:iam::123456789012:role/mcp-developers',
  fallback: 'arn:aws:iam::123456789012:role/mcp-readonly',
  strictAdmins: 'arn:aws:iam::123456789012:role/strict-admins',
} as const

export interface CallerFixture {
  app: RunningApp
  sts: FakeSts
  upstream: SigV4Upstream
  /** Emulator with max_message_timeout 10 s (server may extend the 200 ms message timeout). */
  envoy: EnvoyEmulator
  /** Emulator with max_message_timeout 0: timeout overrides are ignored, as by default in Envoy. */
  envoyNoOverride: EnvoyEmulator
  logs: string[]
  token(claims: JWTPayload, options?: { expiresInSeconds?: number; key?: 'trusted' | 'rogue' }): Promise<string>
  close(): Promise<void>
}

/**
 * Callers with OIDC tokens (signed here with jose, verified by the server against a JWKS file)
 * reaching a SigV4-verifying upstream through the emulator; roles come from the fake STS via
 * AssumeRoleWithWebIdentity. Credentials live `credentialSeconds`, so they rotate during a test.
 */
export async function startCallerE2e(
  options: { credentialSeconds?: number; messageTimeoutMs?: number; gracefulGrpcClose?: boolean } = {},
): Promise<CallerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-callers-'))
  const trusted = await generateKeyPair('ES256', { extractable: true })
  const rogue = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }))

  const sts = await startFakeSts(options.credentialSeconds !== undefined ? { expiresInSeconds: options.credentialSeconds } : {})
  // Only credentials that have not expired are accepted, as AWS does.
  const known = (): Record<string, KnownCredential> => {
    const all: Record<string, KnownCredential> = {}
    const now = Date.now()
    for (const [id, c] of sts.issued) {
      if (c.expiration.getTime() > now) all[id] = { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken }
    }
    return all
  }
  const upstream = await startSigV4Upstream({ credentials: known, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST } })

  const logs: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'))
      callback()
    },
  })
  const { config } = loadConfig({
    text: `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", credential_wait_timeout_ms: 8000 }
credentials: { refresh_ahead_seconds: 3, expiry_skew_seconds: 1 }
sts: { region: us-east-1, timeout_ms: 5000 }
identities:
  caller:
    kind: web_identity
    verify: { issuer: "${ISSUER}", audiences: ["${AUDIENCE}"], jwks_file: "${join(dir, 'jwks.json')}" }
    roles:
      - { role_arn: "${ROLES.admins}", priority: 1, match: { claim: groups, values: [admins] } }
      - { role_arn: "${ROLES.developers}", priority: 2, match: { cel: '"dev" in claims.groups' } }
    fallback_role_arn: "${ROLES.fallback}"
    endpoint: ${sts.endpoint}
  strict:
    kind: web_identity
    verify: { issuer: "${ISSUER}", audiences: ["${AUDIENCE}"], jwks_file: "${join(dir, 'jwks.json')}" }
    roles:
      - { role_arn: "${ROLES.strictAdmins}", match: { claim: groups, values: [admins] } }
    endpoint: ${sts.endpoint}
`,
  })
  const app = await startApp({ config, logger: createLogger('info', sink) })
  const routes = [
    {
      name: 'caller_mcp',
      prefix: '/caller-mcp',
      metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', identity: 'caller' } } },
      hostRewriteLiteral: AWS_MCP_HOST,
      regexRewrite: { pattern: /^\/caller-mcp(\/.*)?$/, substitution: '/mcp' },
      upstream: { host: '127.0.0.1', port: upstream.port },
    },
    {
      name: 'strict_mcp',
      prefix: '/strict-mcp',
      metadata: { filter_metadata: { mcp_sigv4: { host: AWS_MCP_HOST, path: '/mcp', identity: 'strict' } } },
      hostRewriteLiteral: AWS_MCP_HOST,
      regexRewrite: { pattern: /^\/strict-mcp(\/.*)?$/, substitution: '/mcp' },
      upstream: { host: '127.0.0.1', port: upstream.port },
    },
  ]
  const extProcAddress = `127.0.0.1:${app.grpcPort}`
  // Envoy's default 200 ms message timeout unless told otherwise: a cold STS fetch then needs
  // override_message_timeout.
  const messageTimeoutMs = options.messageTimeoutMs ?? 200
  const gracefulGrpcClose = options.gracefulGrpcClose ?? false
  const envoy = await startEnvoyEmulator({ extProcAddress, routes, messageTimeoutMs, maxMessageTimeoutMs: 10_000, gracefulGrpcClose })
  const envoyNoOverride = await startEnvoyEmulator({ extProcAddress, routes, messageTimeoutMs })

  const sign = async (claims: JWTPayload, key: CryptoKey, expiresInSeconds: number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(key)

  return {
    app,
    sts,
    upstream,
    envoy,
    envoyNoOverride,
    logs,
    token: (claims, o = {}) => sign(claims, o.key === 'rogue' ? rogue.privateKey : trusted.privateKey, o.expiresInSeconds ?? 3600),
    close: async () => {
      await envoy.close()
      await envoyNoOverride.close()
      await app.stop(1000)
      await Promise.all([upstream.close(), sts.close()])
    },
  }
}
