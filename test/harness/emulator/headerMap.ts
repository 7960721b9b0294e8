/**
 * Header lists as Envoy's HTTP/1 codec and connection manager would hand them to ext_proc,
 * and their `config.core.v3.HeaderMap` encoding.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { HeaderEntry, HeaderValueMsg } from './types.js'

/**
 * Hop-by-hop headers the emulator drops from requests and responses. Emulator choice: Envoy's
 * HTTP/1 codec and HCM consume these (connection management, chunking, upgrades), and they
 * must not be signed because the upstream leg regenerates them.
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te',
])

/** Headers the HCM sets itself; client-supplied copies are replaced (emulator choice: edge). */
const HCM_OWNED = new Set(['x-forwarded-proto', 'x-request-id'])

/**
 * Builds the request header map: `:authority` (from Host, never a `host` entry), `:path`,
 * `:method`, `:scheme`, then `x-forwarded-proto` and `x-request-id`, then the client's headers
 * in received order, one entry per field line, values as latin1 strings of the raw bytes.
 * `expect: 100-continue` is dropped: the HCM answers it itself (emulator choice).
 */
export function buildRequestHeaders(req: IncomingMessage): HeaderEntry[] {
  const raw = req.rawHeaders
  let authority = ''
  const rest: HeaderEntry[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    if (key === 'host') {
      if (authority === '') authority = value
      continue
    }
    if (HOP_BY_HOP.has(key) || HCM_OWNED.has(key)) continue
    if (key === 'expect' && value.toLowerCase() === '100-continue') continue
    rest.push({ key, value })
  }
  return [
    { key: ':authority', value: authority },
    { key: ':path', value: req.url ?? '/' },
    { key: ':method', value: req.method ?? 'GET' },
    { key: ':scheme', value: 'http' },
    { key: 'x-forwarded-proto', value: 'http' },
    { key: 'x-request-id', value: randomUUID() },
    ...rest,
  ]
}

/**
 * Whether the request has a body, decided like Envoy's HTTP/1 codec: a `transfer-encoding`
 * request always has one (possibly empty, ending with an empty final DATA); otherwise only a
 * `content-length` above zero. `content-length: 0` ends the stream with the headers.
 */
export function requestHasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true
  const length = req.headers['content-length']
  return length !== undefined && Number(length) > 0
}

/** Response headers for `response_headers`: `:status` first, then the upstream's headers. */
export function buildResponseHeaders(statusCode: number, rawHeaders: string[]): HeaderEntry[] {
  const out: HeaderEntry[] = [{ key: ':status', value: String(statusCode) }]
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = (rawHeaders[i] as string).toLowerCase()
    if (!HOP_BY_HOP.has(key)) out.push({ key, value: rawHeaders[i + 1] as string })
  }
  return out
}

/**
 * Encodes a header list as Envoy ≥ 1.32 does: `raw_value` bytes only, never `value`. An empty
 * value is the proto3 default and therefore absent on the wire.
 */
export function toHeaderMap(headers: HeaderEntry[]): { headers: HeaderValueMsg[] } {
  return {
    headers: headers.map((h) => h.value === ''
      ? { key: h.key }
      : { key: h.key, raw_value: Buffer.from(h.value, 'latin1') }),
  }
}

/** The first value of `key`, or `undefined`. */
export function getHeader(headers: HeaderEntry[], key: string): string | undefined {
  return headers.find((h) => h.key === key)?.value
}

/** Removes every entry named `key`. */
export function removeHeader(headers: HeaderEntry[], key: string): void {
  for (let i = headers.length - 1; i >= 0; i -= 1) {
    if (headers[i]?.key === key) headers.splice(i, 1)
  }
}
