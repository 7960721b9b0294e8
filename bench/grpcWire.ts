/**
 * A minimal gRPC client for the `Process` stream, straight on `node:http2`: the load generator
 * must be cheap, or it — not the server — sets the pace. grpc-js's client machinery (channels,
 * interceptors, call objects, per-message serializers) costs more CPU per stream than the server
 * spends answering it, on the same 2 cores. Envoy's gRPC client is C++; this one only does what
 * the wire needs: one HTTP/2 stream per call with gRPC's headers, length-prefixed messages
 * (pre-serialized with the project's protos), and the status from the trailers.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'

/** Path of ExternalProcessor/Process. */
export const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process'

/** A message with its 5-byte gRPC prefix (uncompressed, 4-byte big-endian length). */
export function grpcFrame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(message.length + 5)
  framed[0] = 0
  framed.writeUInt32BE(message.length, 1)
  message.copy(framed, 5)
  return framed
}

/** Callbacks of one call. */
export interface CallHandlers {
  onMessage(message: Buffer): void
  /** The call ended: gRPC status (from trailers or headers), or -1 when the stream broke. */
  onStatus(code: number, details: string): void
}

/** One HTTP/2 connection to the ext_proc server, as Envoy keeps one per worker. */
export class GrpcWireClient {
  private readonly session: ClientHttp2Session

  constructor(address: string) {
    this.session = connect(`http://${address}`, {
      // Envoy's default HTTP/2 windows for gRPC clusters are large (256 MiB stream window);
      // what limits a body upload is the server's receive window.
      settings: { initialWindowSize: 16 * 1024 * 1024, enablePush: false },
      // Node's default (10 MB) counts the bodies queued for sending: 32 concurrent 1 MiB
      // bodies would make this client destroy its own session (Envoy has no such limit).
      maxSessionMemory: 1024,
    })
    this.session.on('error', () => undefined)
  }

  /** Opens a `Process` call; returns the stream to write framed messages to. */
  open(handlers: CallHandlers): ClientHttp2Stream {
    const stream = this.session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: PROCESS_PATH,
      [constants.HTTP2_HEADER_AUTHORITY]: 'mcp_sigv4_extproc',
      [constants.HTTP2_HEADER_SCHEME]: 'http',
      'content-type': 'application/grpc',
      te: 'trailers',
      // Envoy's async gRPC client adds these two.
      'x-envoy-internal': 'true',
      'x-forwarded-for': '127.0.0.1',
    })
    let pending: Buffer | undefined
    let status: { code: number; details: string } | undefined
    const readStatus = (headers: Record<string, unknown>): void => {
      const code = headers['grpc-status']
      if (code !== undefined) status ??= { code: Number(code), details: decodeURIComponent(String(headers['grpc-message'] ?? '')) }
    }
    stream.on('response', (headers) => readStatus(headers))
    stream.on('trailers', (trailers) => readStatus(trailers))
    stream.on('data', (chunk: Buffer) => {
      let data = pending === undefined ? chunk : Buffer.concat([pending, chunk])
      while (data.length >= 5) {
        const length = data.readUInt32BE(1)
        if (data.length < 5 + length) break
        handlers.onMessage(data.subarray(5, 5 + length))
        data = data.subarray(5 + length)
      }
      pending = data.length > 0 ? data : undefined
    })
    stream.on('error', () => undefined)
    stream.on('close', () => {
      if (status !== undefined) handlers.onStatus(status.code, status.details)
      else handlers.onStatus(-1, `stream closed without status (HTTP/2 code ${stream.rstCode})`)
    })
    return stream
  }

  close(): void {
    this.session.close()
  }
}
