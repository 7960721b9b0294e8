/**
 * A burst of new callers against the real server over one HTTP/2 connection, with a small
 * `server.turn_budget_ms` so that most messages wait for a later event-loop turn: every stream is
 * still answered in order (the headers CONTINUE, then the signed body answer), every signature
 * verifies (aws4, with the key the fake STS issued to that caller), each caller costs exactly one
 * STS call, and the deferral really happened (`mcp_sigv4_deferred_messages_total`). The same burst
 * with the budget off defers nothing.
 */
import { status as GrpcStatus } from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AWS_MCP_HOST } from '../e2e/fixture.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'
import { verifySigV4, type KnownCredential } from '../harness/sigv4Verifier.js'
import {
  bodyMessage,
  extProcClient,
  headersMessage,
  metadataOf,
  runStream,
  setHeadersOf,
  settleStreams,
  startReliabilityApp,
  unverifiedToken,
  type AnyClient,
  type ReliabilityApp,
  type StreamResult,
} from './support.js'

const CALLERS = 200
const STS_LATENCY_MS = 100
const CALLER_TARGET = { 'x-mcp-sigv4-host': AWS_MCP_HOST, 'x-mcp-sigv4-path': '/mcp', 'x-mcp-sigv4-identity': 'caller' }
const BODY = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'

const ISSUER = 'https://idp.cold-burst.example'

async function deferredMessages(f: ReliabilityApp): Promise<number> {
  return (await f.app.metrics.deferredMessages.get()).values[0]?.value ?? 0
}

/** Verifies the signed answer of one caller's stream; returns the access key id it was signed with. */
function verifiedKey(result: StreamResult, sts: FakeSts): string {
  const set = setHeadersOf(result.responses.at(-1) ?? {})
  const headers: Record<string, string[]> = { host: [AWS_MCP_HOST], 'content-type': ['application/json'] }
  for (const [name, value] of set) headers[name] = [value]
  const credentials: Record<string, KnownCredential> = {}
  for (const [id, issued] of sts.issued) credentials[id] = { secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken }
  const verdict = verifySigV4(
    { method: 'POST', rawPath: '/mcp', headers, body: Buffer.from(BODY) },
    { credentials, expected: { region: 'us-east-1', service: 'aws-mcp', host: AWS_MCP_HOST } },
  )
  if (!verdict.ok) throw new Error(`signature does not verify: ${verdict.reason}`)
  return verdict.accessKeyId
}

async function burst(client: AnyClient, label: string): Promise<StreamResult[]> {
  return Promise.all(
    Array.from({ length: CALLERS }, (_, i) =>
      runStream(
        client,
        [
          headersMessage([[':method', 'POST'], [':path', '/mcp'], ['content-type', 'application/json'], ['authorization', `Bearer ${unverifiedToken(`${label}-${i}`, ISSUER)}`]]),
          bodyMessage(BODY),
        ],
        metadataOf(CALLER_TARGET),
        20_000,
      ),
    ),
  )
}

describe.each([
  { budget: 1, defers: true },
  { budget: 0, defers: false },
])('turn_budget_ms $budget: a burst of new callers', ({ budget, defers }) => {
  let f: ReliabilityApp
  let sts: FakeSts
  let client: AnyClient

  beforeAll(async () => {
    sts = await startFakeSts({ behaviour: { latencyMs: STS_LATENCY_MS } })
    f = await startReliabilityApp({
      logLevel: 'warn',
      server: `turn_budget_ms: ${budget}`,
      identities: () => `  caller: { kind: web_identity, fallback_role_arn: "arn:aws:iam::123456789012:role/callers", endpoint: "${sts.endpoint}" }\n`,
      yaml: () => 'sts: { region: us-east-1, timeout_ms: 10000 }\n',
    })
    client = extProcClient(f.app.grpcPort)
  })
  afterAll(async () => {
    client?.close()
    await f?.close()
    await sts?.close()
  })

  it(`answers ${CALLERS} new callers at once in order, each signed with its own verified credentials after one STS call`, async () => {
    const before = sts.calls.length
    const results = await burst(client, `budget-${budget}`)
    for (const result of results) {
      expect(result.status.code).toBe(GrpcStatus.OK)
      // Possibly an override_message_timeout first (credentials not cached); then the two answers in order.
      const answers = result.responses.filter((r) => r.override_message_timeout === undefined)
      expect(answers.map((r) => Object.keys(r).find((k) => k.startsWith('request_')))).toEqual(['request_headers', 'request_body'])
    }
    const keys = results.map((r) => verifiedKey(r, sts))
    expect(new Set(keys).size).toBe(CALLERS)
    const calls = sts.calls.slice(before)
    expect(calls).toHaveLength(CALLERS)
    expect(new Set(calls.map((c) => c.params.RoleSessionName)).size).toBe(CALLERS)
    expect(await settleStreams(f.app)).toBe(0)
    const deferred = await deferredMessages(f)
    if (defers) expect(deferred).toBeGreaterThan(CALLERS / 2)
    else expect(deferred).toBe(0)
  }, 60_000)
})
