import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { buildGeneration } from '../../src/appDependencies.js'
import { loadConfig } from '../../src/config/index.js'
import { freezeCredentials } from '../../src/credentials/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { Metrics, createRequestObserver } from '../../src/metrics/index.js'
import { canonicalRequestHash } from '../../src/signing/index.js'
import { AWS_MCP_TARGET } from '../support/signingTarget.js'

const CREDS = freezeCredentials({ accessKeyId: 'AKIDDEBUGHASH0000001', secretAccessKey: 'debug-secret-value-123', sessionToken: 'debug-token-value-456' })
const TARGET = AWS_MCP_TARGET

function generation(level: string) {
  const lines: string[] = []
  const sink = new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb() } })
  const logger = createLogger(level, sink)
  const metrics = new Metrics({ defaultMetrics: false })
  const { config } = loadConfig({ text: '{}' })
  const g = buildGeneration(config, {
    logger,
    metrics,
    observer: createRequestObserver(metrics, logger),
    now: () => new Date('2026-11-21T10:00:00Z'),
    monotonicMs: () => 0,
    createStsClient: () => ({ send: async () => ({}) }),
  })
  return { g, lines }
}

const input = {
  method: 'POST',
  target: TARGET,
  contentType: 'application/json',
  payloadSha256Hex: 'a'.repeat(64),
  signingDate: new Date('2026-11-21T10:00:00Z'),
  requestHeaderNames: [':method', 'content-type'],
  stripHeaders: [],
}

describe('debug log of the canonical request hash', () => {
  it('logs the SHA-256 of the canonical request of each signed request at debug level, and no secret', async () => {
    const { g, lines } = generation('debug')
    await g.deps.sign(input, CREDS)
    const expected = await canonicalRequestHash(
      { method: 'POST', host: TARGET.host, path: '/mcp', query: '', contentType: 'application/json', payloadSha256Hex: 'a'.repeat(64), region: 'us-east-1', service: 'aws-mcp', signingDate: input.signingDate },
      CREDS,
    )
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'signed')
    expect(line?.canonical_request_sha256).toBe(expected)
    expect(expected).toMatch(/^[0-9a-f]{64}$/)
    const all = lines.join('')
    for (const secret of [CREDS.secretAccessKey, CREDS.sessionToken as string, CREDS.accessKeyId]) expect(all).not.toContain(secret)
  })

  it('does not compute it at info level', async () => {
    const { g, lines } = generation('info')
    await g.deps.sign(input, CREDS)
    expect(lines.join('')).not.toContain('canonical_request_sha256')
  })
})
