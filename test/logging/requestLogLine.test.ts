import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logging/logger.js'
import { Metrics, createRequestObserver } from '../../src/metrics/index.js'
import type { RequestReport } from '../../src/protocol/streamDependencies.js'

function observed(): { lines: string[]; observer: ReturnType<typeof createRequestObserver> } {
  const lines: string[] = []
  const sink = new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb() } })
  const observer = createRequestObserver(new Metrics({ defaultMetrics: false }), createLogger('info', sink))
  return { lines, observer }
}

const SIGNED: RequestReport = {
  routeName: 'aws_mcp',
  method: 'tools/call',
  methodClass: 'tools_call',
  tool: 'aws___call_aws',
  identity: 'default',
  outcome: 'signed',
  errorCode: undefined,
  durationMs: 1.2345,
  bodyBytes: 321,
  target: { host: 'aws-mcp.us-east-1.api.aws', region: 'us-east-1', service: 'aws-mcp' },
}

/** The keys of a JSON object line in the order written, duplicates kept (JSON.parse drops them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = []
  let depth = 0
  const pattern = /"((?:[^"\\]|\\.)*)"(\s*:)?|[{}[\]]/g
  for (let m = pattern.exec(line); m !== null; m = pattern.exec(line)) {
    const token = m[0]
    if (token === '{' || token === '[') depth++
    else if (token === '}' || token === ']') depth--
    else if (m[2] !== undefined && depth === 1) keys.push(m[1] as string)
  }
  return keys
}

describe('the request log line', () => {
  it("names the SigV4 signing service signing_service, leaving the line's own service field alone", () => {
    const { lines, observer } = observed()
    observer.requestFinished(SIGNED)
    expect(lines).toHaveLength(1)
    const line = lines[0] as string
    const keys = topLevelKeys(line)
    expect(keys.filter((k) => k === 'service')).toEqual(['service'])
    expect(new Set(keys).size).toBe(keys.length)
    const parsed = JSON.parse(line) as Record<string, unknown>
    expect(parsed).toMatchObject({
      service: 'mcp-sigv4-extproc',
      msg: 'request',
      route: 'aws_mcp',
      tool: 'aws___call_aws',
      identity: 'default',
      outcome: 'signed',
      duration_ms: 1.235,
      body_bytes: 321,
      upstream_host: 'aws-mcp.us-east-1.api.aws',
      region: 'us-east-1',
      signing_service: 'aws-mcp',
    })
  })

  it('has no duplicate keys for a request that was passed through or failed either', () => {
    const { lines, observer } = observed()
    observer.requestFinished({ ...SIGNED, outcome: 'passed_through', target: undefined, identity: undefined, tool: undefined })
    observer.requestFinished({ ...SIGNED, outcome: 'error', errorCode: 'ERR_CREDENTIALS_UNAVAILABLE' })
    expect(lines).toHaveLength(2)
    for (const line of lines) {
      const keys = topLevelKeys(line)
      expect(new Set(keys).size).toBe(keys.length)
      expect((JSON.parse(line) as { service: unknown }).service).toBe('mcp-sigv4-extproc')
    }
    expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 'warn', error_code: 'ERR_CREDENTIALS_UNAVAILABLE', signing_service: 'aws-mcp' })
  })
})
