import { connect, type ClientHttp2Session } from 'node:http2'
import { Server } from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/logging/logger.js'
import { createGrpcServer } from '../../src/protocol/grpcServer.js'
import { applyReceiveWindows } from '../../src/protocol/http2ReceiveWindows.js'

const MiB = 1024 * 1024

/**
 * What a client connected to `port` may send: per new stream and on the whole connection. The
 * server raises its windows as the connection starts; its PING acknowledgement comes after those
 * frames, so once a PING came back the client has seen everything the server will send.
 */
async function windowsSeenBy(port: number): Promise<{ stream: number; connection: number }> {
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`)
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('error', reject)
      session.once('remoteSettings', () => session.ping((err) => (err ? reject(err) : resolve())))
    })
    return { stream: session.remoteSettings.initialWindowSize ?? 0, connection: session.state.remoteWindowSize ?? 0 }
  } finally {
    session.destroy()
  }
}

describe('HTTP/2 receive windows on the gRPC listener', () => {
  let app: RunningApp | undefined
  let bare: ReturnType<typeof createGrpcServer> | undefined
  afterEach(async () => {
    await app?.stop(100)
    app = undefined
    bare?.server.forceShutdown()
    bare = undefined
  })

  async function start(server = ''): Promise<RunningApp> {
    const text = `server: { grpc_address: "127.0.0.1:0", http_address: "127.0.0.1:0"${server} }\nlogging: { level: silent }\n`
    app = await startApp({ config: loadConfig({ text }).config, logger: createLogger('silent') })
    return app
  }

  it('by default lets Envoy send a whole max_body_bytes body, and 16 MiB per connection, without waiting', async () => {
    const { grpcPort } = await start()
    expect(await windowsSeenBy(grpcPort)).toEqual({ stream: MiB + 64 * 1024, connection: 16 * MiB })
  })

  it('follows max_body_bytes and server.http2', async () => {
    const { grpcPort } = await start(', max_body_bytes: 4194304')
    expect(await windowsSeenBy(grpcPort)).toEqual({
      stream: 4 * MiB + 64 * 1024,
      connection: 16 * MiB,
    })
    await app?.stop(100)
    const tuned = await start(', http2: { stream_window_bytes: 131072, connection_window_bytes: 262144 }')
    expect(await windowsSeenBy(tuned.grpcPort)).toEqual({ stream: 131_072, connection: 262_144 })
  })

  it('is what changes the listener: without it, grpc-js and Node advertise 64 KiB', async () => {
    bare = createGrpcServer(() => undefined)
    const port = await bare.listen('127.0.0.1:0')
    expect(bare.receiveWindows).toBeUndefined()
    expect(await windowsSeenBy(port)).toEqual({ stream: 65_535, connection: 65_535 })
  })

  it('reports false and changes nothing when grpc-js no longer exposes its HTTP/2 servers', () => {
    const windows = { streamBytes: MiB, connectionBytes: 16 * MiB }
    expect(applyReceiveWindows({} as Server, windows)).toBe(false)
    expect(applyReceiveWindows({ http2Servers: new Map() } as unknown as Server, windows)).toBe(false)
    expect(applyReceiveWindows({ http2Servers: new Map([[{}, {}]]) } as unknown as Server, windows)).toBe(false)
    // A server that was never bound has no HTTP/2 server yet.
    expect(applyReceiveWindows(new Server(), windows)).toBe(false)
  })
})
