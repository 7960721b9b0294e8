/**
 * A stand-in for an AWS IAM-protected MCP server (e.g. `aws-mcp.us-east-1.api.aws/mcp`).
 *
 * Every request is first checked with the independent SigV4 verifier (`aws4`, see
 * `sigv4Verifier.ts`) over exactly what arrived on the socket. A failure is answered like an AWS
 * front end: 403 with a JSON `{"message": …}` body and `x-amzn-errortype`. A verified request
 * is handed to a real MCP server from `@modelcontextprotocol/sdk` (Streamable HTTP, stateful:
 * one transport per `mcp-session-id`, created on `initialize`), or, with `mcp: false`, answered
 * with a JSON echo of what was received.
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { listenOnLoopback } from './loopbackServer.js'
import { verifySigV4 } from './sigv4Verifier.js'
import type { KnownCredential, SigV4FailureReason } from './sigv4Verifier.js'

/** One request the upstream received, verified or not. */
export interface RecordedUpstreamRequest {
  method: string
  /** The raw request-target (path and query) as received. */
  path: string
  /** Every received header, lower-case name → one entry per received field line. */
  headers: Record<string, string[]>
  body: Buffer
  bodyLength: number
  verified: boolean
  failureReason?: SigV4FailureReason
  /** The access key id of a verified request. */
  accessKeyId?: string
  /** Status of the answer (403 for verification failures; MCP status otherwise, once known). */
  status?: number
}

/** Options of {@link startSigV4Upstream}. */
export interface SigV4UpstreamOptions {
  /** Known keys by access key id; a function is read per request (e.g. `fakeSts.issued`). */
  credentials: Record<string, KnownCredential> | (() => Record<string, KnownCredential>)
  /**
   * Values every signature must be scoped to / cover. `host` defaults to this server's own
   * `127.0.0.1:<port>` (for clients that talk to it directly, without a host rewrite).
   */
  expected: { region: string; service: string; host?: string }
  /** Clock in epoch ms for the 5-minute `x-amz-date` window. */
  now?: () => number
  /** `false`: answer 200 with a JSON echo instead of MCP. Default true. */
  mcp?: boolean
  /** Registers extra tools/resources on every new MCP session's server. */
  configureServer?: (server: McpServer) => void
  /** Answer POSTed requests with `application/json` instead of an SSE stream (SDK default). */
  jsonResponse?: boolean
}

/** A running verifying upstream. */
export interface SigV4Upstream {
  port: number
  /** Absolute URL of `path` on this server. */
  url(path: string): string
  requests: RecordedUpstreamRequest[]
  /** Number of live MCP sessions. */
  sessionCount(): number
  close(): Promise<void>
}

/** The JSON echo answered in plain mode. */
export interface UpstreamEcho {
  method: string
  path: string
  headers: Record<string, string[]>
  body: string
}

/** Starts the verifying upstream on 127.0.0.1 with an ephemeral port. */
export async function startSigV4Upstream(options: SigV4UpstreamOptions): Promise<SigV4Upstream> {
  const requests: RecordedUpstreamRequest[] = []
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  let port = 0
  const server = createServer((req, res) => {
    const host = options.expected.host ?? `127.0.0.1:${port}`
    const resolved = { ...options, expected: { ...options.expected, host } }
    handle(resolved, sessions, requests, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: `upstream error: ${String(err)}` }))
    })
  })
  const loopback = await listenOnLoopback(server)
  port = loopback.port
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    sessionCount: () => sessions.size,
    close: async () => {
      for (const transport of sessions.values()) await transport.close()
      sessions.clear()
      await loopback.close()
    },
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function handle(options: SigV4UpstreamOptions,
  sessions: Map<string, StreamableHTTPServerTransport>, requests: RecordedUpstreamRequest[],
  req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req)
  const headers = { ...req.headersDistinct } as Record<string, string[]>
  const record: RecordedUpstreamRequest = {
    method: req.method ?? 'GET', path: req.url ?? '/', headers, body, bodyLength: body.length,
    verified: false,
  }
  requests.push(record)
  res.on('finish', () => { record.status = res.statusCode })
  const verdict = verifySigV4({ method: record.method, rawPath: record.path, headers, body }, {
    credentials: options.credentials,
    expected: options.expected,
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  if (!verdict.ok) {
    record.failureReason = verdict.reason
    const text = JSON.stringify({ message: verdict.message })
    res.writeHead(verdict.status, {
      'content-type': 'application/json',
      'x-amzn-errortype': verdict.code,
      'x-amzn-requestid': randomUUID(),
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
    return
  }
  record.verified = true
  record.accessKeyId = verdict.accessKeyId
  if (options.mcp === false) {
    const echo: UpstreamEcho = { method: record.method, path: record.path, headers,
      body: body.toString('utf8') }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(echo))
    return
  }
  await handleMcp(options, sessions, req, res, body)
}

function parseJson(req: IncomingMessage, body: Buffer): unknown {
  const type = req.headers['content-type'] ?? ''
  if (req.method !== 'POST' || !type.includes('application/json')) return undefined
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

async function handleMcp(options: SigV4UpstreamOptions,
  sessions: Map<string, StreamableHTTPServerTransport>, req: IncomingMessage,
  res: ServerResponse, body: Buffer): Promise<void> {
  const parsedBody = parseJson(req, body)
  const sessionId = req.headers['mcp-session-id']
  const id = Array.isArray(sessionId) ? sessionId[0] : sessionId
  if (id !== undefined) {
    const transport = sessions.get(id)
    if (transport === undefined) {
      // MCP Streamable HTTP: an unknown/expired session id is answered 404.
      return jsonRpcError(res, 404, -32001, 'Session not found')
    }
    return transport.handleRequest(req, res, parsedBody)
  }
  if (req.method === 'POST' && parsedBody !== undefined && isInitializeRequest(parsedBody)) {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: options.jsonResponse ?? false,
      onsessioninitialized: (newId) => { sessions.set(newId, transport) },
    })
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
    }
    await createMcpServer(options).connect(transport)
    return transport.handleRequest(req, res, parsedBody)
  }
  return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided')
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}

function createMcpServer(options: SigV4UpstreamOptions): McpServer {
  const server = new McpServer({ name: 'sigv4-verifying-upstream', version: '1.0.0' })
  server.registerTool('echo', {
    description: 'Returns the given text',
    inputSchema: { text: z.string() },
  }, ({ text }) => ({ content: [{ type: 'text', text }] }))
  server.registerTool('add', {
    description: 'Adds two numbers',
    inputSchema: { a: z.number(), b: z.number() },
  }, ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
  options.configureServer?.(server)
  return server
}
