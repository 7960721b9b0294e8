import { Client, Metadata, credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { EXT_PROC_PROTO, HEALTH_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'

type AnyClient = Client & Record<string, (...args: unknown[]) => unknown>

const pkg = loadProtoPackage([EXT_PROC_PROTO, HEALTH_PROTO]) as unknown as {
  envoy: { service: { ext_proc: { v3: { ExternalProcessor: new (address: string, creds: unknown) => AnyClient } } } }
  grpc: { health: { v1: { Health: new (address: string, creds: unknown) => AnyClient } } }
}

/** Runs one Process stream: writes the messages, collects responses and the final status. */
function processStream(
  client: AnyClient,
  messages: object[],
  metadata = new Metadata(),
): Promise<{ responses: Array<Record<string, unknown>>; status: { code: number; details: string } }> {
  return new Promise((resolve) => {
    const call = client.Process(metadata) as import('@grpc/grpc-js').ClientDuplexStream<object, Record<string, unknown>>
    const responses: Array<Record<string, unknown>> = []
    call.on('data', (r: Record<string, unknown>) => responses.push(r))
    call.on('error', () => undefined)
    call.on('status', (s: { code: number; details: string }) => resolve({ responses, status: { code: s.code, details: s.details } }))
    for (const m of messages) call.write(m)
    call.end()
  })
}

const headers = (pairs: Array<[string, string]>, endOfStream: boolean) => ({
  request_headers: {
    headers: { headers: pairs.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) },
    end_of_stream: endOfStream,
  },
})

describe('the gRPC server (real grpc-js on loopback)', () => {
  let app: RunningApp
  let extProc: AnyClient
  let health: AnyClient

  beforeAll(async () => {
    const { config } = loadConfig({
      text: 'server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0" }\nlogging: { level: silent }\n',
    })
    app = await startApp({ config, logger: createLogger('silent') })
    const address = `127.0.0.1:${app.grpcPort}`
    extProc = new pkg.envoy.service.ext_proc.v3.ExternalProcessor(address, credentials.createInsecure())
    health = new pkg.grpc.health.v1.Health(address, credentials.createInsecure())
  })
  afterAll(async () => {
    extProc?.close()
    health?.close()
    await app?.stop(500)
  })

  it('serves grpc.health.v1 for the server and the ext_proc service', async () => {
    const check = (service: string) =>
      new Promise<unknown>((resolve) => health.Check({ service }, (err: ServiceError | null, res: unknown) => resolve(err ?? res)))
    expect(await check('')).toEqual({ status: 'SERVING' })
    expect(await check('envoy.service.ext_proc.v3.ExternalProcessor')).toEqual({ status: 'SERVING' })
    expect(await check('nope')).toMatchObject({ code: status.NOT_FOUND })
  })

  it('serves /healthz, /readyz and /metrics', async () => {
    const base = `http://127.0.0.1:${app.httpPort}`
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toContain('# TYPE mcp_sigv4_requests_total counter')
    expect(metrics).toContain('nodejs_eventloop_lag_seconds')
    expect((await fetch(`${base}/other`)).status).toBe(404)
  })

  it('passes a request without route keys through and ends with OK when Envoy half-closes', async () => {
    const result = await processStream(extProc, [headers([[':method', 'GET'], [':path', '/x']], true)])
    expect(result.responses).toEqual([{ request_headers: { response: { status: 'CONTINUE' } }, response: 'request_headers' }])
    expect(result.status.code).toBe(status.OK)
  })

  it('ends an out-of-order stream with INVALID_ARGUMENT saying what was expected, and stays healthy', async () => {
    const result = await processStream(extProc, [{ request_body: { body: Buffer.from('{}'), end_of_stream: true } }])
    expect(result.responses).toEqual([])
    expect(result.status.code).toBe(status.INVALID_ARGUMENT)
    expect(result.status.details).toBe(
      'unexpected ext_proc message request_body in state awaiting_request_headers: expected request_headers first (Envoy needs request_header_mode: SEND)',
    )
    const again = await processStream(extProc, [headers([[':method', 'GET'], [':path', '/x']], true)])
    expect(again.status.code).toBe(status.OK)
  })

  it('rejects a duplicate request_headers message', async () => {
    const h = headers([[':method', 'GET'], [':path', '/x']], true)
    const result = await processStream(extProc, [h, h])
    expect(result.status.code).toBe(status.INVALID_ARGUMENT)
    expect(result.status.details).toMatch(/request_headers in state passthrough/)
  })

  it('survives bytes that are not a ProcessingRequest and keeps serving', async () => {
    const raw = makeGenericClientConstructor(
      {
        Process: {
          path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Raw',
    )
    const client = new raw(`127.0.0.1:${app.grpcPort}`, credentials.createInsecure()) as unknown as AnyClient
    const result = await processStream(client, [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99])])
    client.close()
    expect(result.status.code).not.toBe(status.OK)
    const again = await processStream(extProc, [headers([[':method', 'GET'], [':path', '/x']], true)])
    expect(again.status.code).toBe(status.OK)
  })

  it('reports NOT_SERVING and not-ready while draining', async () => {
    const { config } = loadConfig({ text: 'server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0" }\n' })
    const other = await startApp({ config, logger: createLogger('silent') })
    const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${other.grpcPort}`, credentials.createInsecure())
    const statuses: string[] = []
    const watch = client.Watch({ service: '' }) as import('@grpc/grpc-js').ClientReadableStream<{ status: string }>
    watch.on('data', (r: { status: string }) => statuses.push(r.status))
    watch.on('error', () => undefined)
    await new Promise((r) => setTimeout(r, 50))
    await other.stop(200)
    client.close()
    expect(statuses).toEqual(['SERVING', 'NOT_SERVING'])
  })
})
