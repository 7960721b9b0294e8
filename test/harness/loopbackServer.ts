/**
 * Listening on 127.0.0.1 for the harness's HTTP servers (emulator, upstreams, fake STS), with a
 * close that does not wait for keep-alive or hung connections.
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/** A server listening on an ephemeral loopback port. */
export interface LoopbackListener {
  port: number
  /** Destroys every open connection, then closes the server. */
  close(): Promise<void>
}

/**
 * Starts `server` on 127.0.0.1 with an ephemeral port and tracks its connections, so `close()`
 * can destroy them: `server.close()` alone waits for keep-alive and hung requests to end.
 */
export async function listenOnLoopback(server: Server): Promise<LoopbackListener> {
  // Node closes idle keep-alive connections after 5 s by default; a keep-alive client (the
  // emulator's upstream agent) that reuses one just as it closes sees a reset, which the
  // emulator answers with 503 like Envoy. Suites that idle past 5 s between requests flaked on
  // that race under load, so idle connections stay open until the test closes the server.
  server.keepAliveTimeout = 10 * 60_000
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
