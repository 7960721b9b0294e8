/**
 * A plain recording upstream for emulator tests: records exactly what arrived (method, raw path,
 * raw header lines, body) and answers with a JSON echo, or with a custom handler.
 */
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { listenOnLoopback } from './loopbackServer.js'

/** One request as the upstream received it. */
export interface EchoedRequest {
  method: string
  path: string
  /** Raw header lines in received order, names as sent. */
  rawHeaders: Array<[string, string]>
  /** Lower-case name → values. */
  headers: Record<string, string[]>
  body: Buffer
  /** Set when the downstream connection closed before the response finished. */
  closedEarly: boolean
}

/** A custom answer; the body was already read. */
export type EchoHandler =
  (req: IncomingMessage, res: ServerResponse, recorded: EchoedRequest) => void

/** A running recording upstream. */
export interface EchoUpstream {
  port: number
  requests: EchoedRequest[]
  setHandler(handler: EchoHandler | undefined): void
  close(): Promise<void>
}

/** Starts the recording upstream on 127.0.0.1 with an ephemeral port. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const requests: EchoedRequest[] = []
  let handler: EchoHandler | undefined
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const rawHeaders: Array<[string, string]> = []
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        rawHeaders.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string])
      }
      const recorded: EchoedRequest = { method: req.method ?? '', path: req.url ?? '',
        rawHeaders, headers: { ...req.headersDistinct } as Record<string, string[]>,
        body: Buffer.concat(chunks), closedEarly: false }
      requests.push(recorded)
      res.on('close', () => { if (!res.writableFinished) recorded.closedEarly = true })
      if (handler !== undefined) {
        handler(req, res, recorded)
        return
      }
      const text = JSON.stringify({ method: recorded.method, path: recorded.path,
        body: recorded.body.toString('utf8') })
      res.writeHead(200, { 'content-type': 'application/json',
        'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  const { port, close } = await listenOnLoopback(server)
  return {
    port,
    requests,
    setHandler: (next) => { handler = next },
    close,
  }
}

/** A downstream HTTP/1.1 response, fully read. */
export interface ClientReply {
  status: number
  headers: Record<string, string[]>
  body: Buffer
}

/**
 * Sends one HTTP/1.1 request (new connection) and reads the whole response. `headers` may be a
 * flat raw list (`['Name', 'value', …]`) to control order and duplicates; `Host` is added from
 * the URL when that list has none (Node adds it only for object headers).
 */
export function sendHttp(url: string, init: { method?: string; headers?: OutgoingHttpHeaders |
  string[]; body?: string | Buffer } = {}): Promise<ClientReply> {
  let headers = init.headers ?? {}
  const hasHost = (list: string[]) => list.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')
  if (Array.isArray(headers) && !hasHost(headers)) {
    headers = ['Host', new URL(url).host, ...headers]
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0,
        headers: { ...res.headersDistinct } as Record<string, string[]>,
        body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}
