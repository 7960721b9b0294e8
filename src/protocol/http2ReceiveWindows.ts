import type { Http2Session } from 'node:http2'
import type { Server } from '@grpc/grpc-js'
import type { ReceiveWindows } from '../config/index.js'

/** The part of a grpc-js server this module reaches into (see {@link applyReceiveWindows}). */
interface SessionSource {
  on(event: 'session', listener: (session: Http2Session) => void): unknown
}

/**
 * Makes every HTTP/2 connection the grpc-js server accepts from now on advertise `windows`.
 *
 * Node and grpc-js leave both windows at 64 KiB, and grpc-js has no server option for them
 * (its `grpc-node.flow_control_window` is read by the client only). With 64 KiB, a 1 MiB body
 * needs 16 round trips of WINDOW_UPDATE and the receiving process spends several times the CPU
 * on the many small reads. The HTTP/2 servers grpc-js creates are only reachable through its
 * private `http2Servers` map; when that is missing (a grpc-js upgrade changed it), nothing is
 * changed and `false` is returned so the caller can say so. Call after `bindAsync` succeeded.
 */
export function applyReceiveWindows(server: Server, windows: ReceiveWindows): boolean {
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) return false
  const sources = [...http2Servers.keys()] as unknown[]
  if (!sources.every(isSessionSource)) return false
  for (const source of sources) source.on('session', (session) => raiseWindows(session, windows))
  return true
}

function isSessionSource(value: unknown): value is SessionSource {
  return typeof (value as { on?: unknown } | null)?.on === 'function'
}

function raiseWindows(session: Http2Session, windows: ReceiveWindows): void {
  try {
    session.setLocalWindowSize(windows.connectionBytes)
    session.settings({ initialWindowSize: windows.streamBytes })
  } catch {
    // The connection closed before it was set up; there is nothing left to configure.
  }
}
