/**
 * How much Envoy may send on the gRPC listener before it must wait for a WINDOW_UPDATE
 * (HTTP/2 flow control, RFC 9113 §6.9). Both are credit, not allocations: memory is used only
 * by data that arrived and was not read yet.
 */
export interface ReceiveWindows {
  /** Per stream (SETTINGS_INITIAL_WINDOW_SIZE): one request's body. */
  readonly streamBytes: number
  /** Per connection: all the streams Envoy multiplexes on it together. */
  readonly connectionBytes: number
}

/** HTTP/2's own initial window, what Node and grpc-js use unless told otherwise. */
export const HTTP2_DEFAULT_WINDOW_BYTES = 65_535
/** The largest window HTTP/2 allows (2^31 − 1). */
export const HTTP2_MAX_WINDOW_BYTES = 2 ** 31 - 1
/** Room for the ext_proc message around a body and for the request_headers message before it. */
const STREAM_WINDOW_HEADROOM_BYTES = 64 * 1024
/** Default connection window: 16 concurrent 1 MiB bodies in flight without a pause. */
const DEFAULT_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024

/** The `server.http2` settings, as configured (both optional). */
export interface ConfiguredReceiveWindows {
  readonly stream_window_bytes?: number | undefined
  readonly connection_window_bytes?: number | undefined
}

/**
 * The windows to advertise. Unset values default so that the largest accepted body fits a
 * stream's window whole, and the connection's window holds at least one such stream.
 */
export function resolveReceiveWindows(
  maxBodyBytes: number,
  configured: ConfiguredReceiveWindows = {},
): ReceiveWindows {
  const streamBytes = Math.min(
    configured.stream_window_bytes ?? maxBodyBytes + STREAM_WINDOW_HEADROOM_BYTES,
    HTTP2_MAX_WINDOW_BYTES,
  )
  const connectionBytes =
    configured.connection_window_bytes ?? Math.max(DEFAULT_CONNECTION_WINDOW_BYTES, streamBytes)
  return { streamBytes, connectionBytes }
}

/** What is wrong with the configured windows (empty when nothing is). */
export function receiveWindowProblems(maxBodyBytes: number, configured: ConfiguredReceiveWindows): string[] {
  const windows = resolveReceiveWindows(maxBodyBytes, configured)
  if (windows.connectionBytes >= windows.streamBytes) return []
  return [
    `server.http2.connection_window_bytes (${windows.connectionBytes}) is smaller than the stream window ` +
      `(${windows.streamBytes}${configured.stream_window_bytes === undefined ? ', from max_body_bytes' : ''}): ` +
      'one stream could never use its whole window',
  ]
}
