import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { Metadata, credentials, status, type ClientDuplexStream } from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logging/logger.js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import { runServer, type ServerHandle } from '../../src/serverRunner.js'
import { startFakeSts, type FakeSts } from '../harness/fakeSts.js'

type ProcessClient = { Process(m: Metadata): ClientDuplexStream<object, Record<string, unknown>>; close(): void }
const pkg = loadProtoPackage([EXT_PROC_PROTO]) as unknown as {
  envoy: { service: { ext_proc: { v3: { ExternalProcessor: new (a: string, c: unknown) => ProcessClient } } } }
}

const BASE = { id: 'AKIDLIFECYCLE0000001', secret: 'lifecycle-secret-0123456789', token: 'lifecycle-token-0123456789' }

function headers(pairs: Array<[string, string]>, endOfStream: boolean, routeMetadata?: Record<string, string>): object {
  return {
    request_headers: {
      headers: { headers: pairs.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) },
      end_of_stream: endOfStream,
    },
    ...(routeMetadata !== undefined
      ? {
          attributes: {
            'envoy.filters.http.ext_proc': {
              fields: Object.fromEntries(
                Object.entries(routeMetadata).map(([k, v]) => [`xds.route_metadata.filter_metadata['mcp_sigv4']['${k}']`, { stringValue: v }]),
              ),
            },
          },
        }
      : {}),
  }
}

/** Collects responses of one stream; resolves with them and the final status. */
function open(client: ProcessClient, meta = new Metadata()) {
  const call = client.Process(meta)
  const responses: Array<Record<string, unknown>> = []
  const done = new Promise<{ code: number }>((resolve) => {
    call.on('data', (r: Record<string, unknown>) => responses.push(r))
    call.on('error', () => undefined)
    call.on('status', (s: { code: number }) => resolve({ code: s.code }))
  })
  return { call, responses, done }
}

describe('lifecycle: graceful stop and configuration reload', () => {
  let sts: FakeSts | undefined
  let server: ServerHandle | undefined
  afterEach(async () => {
    await server?.stop(200).catch(() => undefined)
    await sts?.close()
    server = undefined
    sts = undefined
  })

  async function start(yaml: (stsEndpoint: string, dir: string) => string) {
    sts = await startFakeSts({ callerCredentials: { [BASE.id]: { secretAccessKey: BASE.secret, sessionToken: BASE.token } } })
    const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-lifecycle-'))
    writeFileSync(join(dir, 'credentials'), `[base]\naws_access_key_id = ${BASE.id}\naws_secret_access_key = ${BASE.secret}\naws_session_token = ${BASE.token}\n`)
    writeFileSync(join(dir, 'config'), '[profile base]\nregion = us-east-1\n')
    const file = join(dir, 'server.yaml')
    writeFileSync(file, yaml(sts.endpoint, dir))
    const logs: string[] = []
    const sink = new Writable({ write: (c: Buffer, _e, cb) => { logs.push(c.toString()); cb() } })
    server = await runServer({ argv: ['--config', file], env: {}, logger: createLogger('info', sink) })
    const client = new pkg.envoy.service.ext_proc.v3.ExternalProcessor(`127.0.0.1:${server.app.grpcPort}`, credentials.createInsecure())
    return { file, dir, logs, client, sts: sts as FakeSts, server }
  }

  const identitiesYaml = (endpoint: string, dir: string) => `
server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0" }
identities:
  base: { kind: profile, profile: base, credentials_file: "${join(dir, 'credentials')}", config_file: "${join(dir, 'config')}" }
  ops: { kind: assume_role, role_arn: "arn:aws:iam::123456789012:role/ops", source: base, endpoint: "${endpoint}" }
`

  it('lets a stream in flight finish after stop, refuses new streams, reports NOT_SERVING and not-ready', async () => {
    const env = await start(identitiesYaml)
    env.sts.setBehaviour({ latencyMs: 400 }) // the in-flight stream waits for STS
    const route = { host: 'aws-mcp.us-east-1.api.aws', path: '/mcp', identity: 'ops' }
    const inFlight = open(env.client)
    inFlight.call.write(headers([[':method', 'POST'], [':path', '/x'], ['content-type', 'application/json']], false, route))
    await new Promise((r) => setTimeout(r, 50))
    inFlight.call.write({ request_body: { body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'), end_of_stream: true } })
    await new Promise((r) => setTimeout(r, 50))
    const stopped = env.server.stop(5000)
    await new Promise((r) => setTimeout(r, 20))
    expect(env.server.app.ready).toBe(false)
    const readyz = await fetch(`http://127.0.0.1:${env.server.app.httpPort}/readyz`).then((r) => r.status).catch(() => 'closed')
    expect([503, 'closed']).toContain(readyz)
    // The in-flight request is still answered, signed with the assumed role.
    await new Promise((r) => setTimeout(r, 600))
    inFlight.call.end()
    await inFlight.done
    const signed = inFlight.responses.find((r) => 'request_body' in r) as { request_body?: { response?: { header_mutation?: { set_headers?: Array<{ header: { key: string; raw_value: Buffer } }> } } } }
    const auth = signed?.request_body?.response?.header_mutation?.set_headers?.find((h) => h.header.key === 'authorization')
    expect(auth?.header.raw_value.toString()).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIA/)
    await stopped
    // After the stop, new streams are refused.
    const late = open(env.client)
    late.call.write(headers([[':method', 'GET'], [':path', '/x']], true))
    late.call.end()
    expect((await late.done).code).toBe(status.UNAVAILABLE)
    env.client.close()
    server = undefined
  })

  it('reloads a valid configuration for new streams and keeps the old one when the new one is invalid', async () => {
    const env = await start((endpoint, dir) => `${identitiesYaml(endpoint, dir)}
routes:
  static_route: { host: aws-mcp.us-east-1.api.aws, path: /mcp, identity: base }
`)
    const routed = (name: string) => ({
      request_headers: { headers: { headers: [[':method', 'GET'], [':path', '/x']].map(([key, value]) => ({ key, raw_value: Buffer.from(value as string) })) }, end_of_stream: true },
      attributes: { 'envoy.filters.http.ext_proc': { fields: { 'xds.route_name': { stringValue: name } } } },
    })
    const signedBy = async (name: string) => {
      const s = open(env.client)
      s.call.write(routed(name))
      s.call.end()
      await s.done
      const mutation = (s.responses[0] as { request_headers?: { response?: { header_mutation?: unknown } } })?.request_headers?.response?.header_mutation
      return mutation !== undefined
    }
    expect(await signedBy('static_route')).toBe(true)
    expect(await signedBy('new_route')).toBe(false)

    // A valid new file: the new route signs, the removed one passes through.
    writeFileSync(env.file, `${identitiesYaml(env.sts.endpoint, env.dir)}
routes:
  new_route: { host: aws-mcp.us-east-1.api.aws, path: /mcp, identity: base }
`)
    expect(env.server.reload()).toEqual({ applied: true, problems: [], restartNeeded: [] })
    expect(await signedBy('new_route')).toBe(true)
    expect(await signedBy('static_route')).toBe(false)

    // An invalid file: rejected with every problem; the running configuration stays.
    writeFileSync(env.file, `server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0", bogus: 1 }
identities: { base: { kind: nope } }
`)
    const rejected = env.server.reload()
    expect(rejected.applied).toBe(false)
    expect(rejected.problems).toEqual(
      expect.arrayContaining(['server: Unrecognized key: "bogus"', expect.stringMatching(/^identities\.base\.kind: /)]),
    )
    expect(await signedBy('new_route')).toBe(true)
    expect(env.logs.join('')).toContain('configuration reload rejected')
    const metrics = await fetch(`http://127.0.0.1:${env.server.app.httpPort}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/mcp_sigv4_config_reloads_total\{result="applied"\} 1/)
    expect(metrics).toMatch(/mcp_sigv4_config_reloads_total\{result="rejected"\} 1/)
    env.client.close()
  })

  it('reports listener settings that a reload cannot change', async () => {
    const env = await start(identitiesYaml)
    writeFileSync(env.file, identitiesYaml(env.sts.endpoint, env.dir).replace('http_address: "127.0.0.1:0"', 'http_address: "127.0.0.1:1"'))
    expect(env.server.reload().restartNeeded).toEqual(['server.http_address'])
    // A larger max_body_bytes raises the default stream window, which only a restart applies.
    writeFileSync(
      env.file,
      identitiesYaml(env.sts.endpoint, env.dir).replace('http_address: "127.0.0.1:0"', 'http_address: "127.0.0.1:1", max_body_bytes: 4194304'),
    )
    expect(env.server.reload().restartNeeded).toEqual(['server.http2'])
    env.client.close()
  })

  it('is not ready until identities marked warm have resolved', async () => {
    const env = await start((endpoint, dir) => identitiesYaml(endpoint, dir).replace('endpoint: "', 'warm: true, endpoint: "'))
    // The warm-up runs right away; with a working STS it is ready within a moment.
    const started = Date.now()
    while (!env.server.app.ready && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 20))
    expect(env.server.app.ready).toBe(true)
    expect(env.sts.calls.filter((c) => c.action === 'AssumeRole')).toHaveLength(1)
    env.client.close()
  })

  it('stays not ready while a warm identity cannot be resolved', async () => {
    const env = await start((_endpoint, dir) => identitiesYaml('http://127.0.0.1:9', dir).replace('endpoint: "', 'warm: true, endpoint: "'))
    await new Promise((r) => setTimeout(r, 300))
    expect(env.server.app.ready).toBe(false)
    expect((await fetch(`http://127.0.0.1:${env.server.app.httpPort}/readyz`)).status).toBe(503)
    env.client.close()
  })
})
