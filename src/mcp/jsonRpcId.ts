/** A JSON-RPC 2.0 request id: string, number or null. */
export type JsonRpcId = string | number | null

/** True for `application/json` and `application/<something>+json` content types. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? ''
  return mediaType === 'application/json' || /^application\/[\w.+-]+\+json$/.test(mediaType)
}

/**
 * The `id` of a single JSON-RPC request in `body`, for error replies; `null` when the body is not
 * JSON, is a batch or a notification, or carries an id of a type JSON-RPC does not allow.
 */
export function readJsonRpcId(body: Uint8Array): JsonRpcId {
  let message: unknown
  try {
    message = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
  } catch {
    return null
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return null
  const id = (message as { id?: unknown }).id
  if (typeof id === 'string') return id
  if (typeof id === 'number' && Number.isFinite(id)) return id
  return null
}
