/**
 * The router filter's part (fact sheet §11, checklist 13): route selection by path prefix,
 * `finalizeRequestHeaders` (host rewrite, then path rewrite) applied to the headers ext_proc
 * returned, and the HTTP/1.1 request to the route's upstream.
 */
import { request as httpRequest } from 'node:http'
import type { Agent, ClientRequest, IncomingMessage } from 'node:http'
import { getHeader } from './headerMap.js'
import type { EmulatedRoute, HeaderEntry, UpstreamRequestRecord } from './types.js'

/** The first route whose prefix matches `path` (Envoy matches prefixes in order). */
export function matchRoute(routes: EmulatedRoute[], path: string): EmulatedRoute | undefined {
  return routes.find((route) => path.startsWith(route.prefix))
}

/** RE2 substitution (`\1`) to a JS replacement string (`$1`), literal `$` escaped. */
function toJsReplacement(substitution: string): string {
  return substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1')
}

/** Applies the route's path rewrite to a `:path`; `undefined` when nothing changes. */
export function rewritePath(route: EmulatedRoute, path: string): string | undefined {
  if (route.prefixRewrite !== undefined && path.startsWith(route.prefix)) {
    return route.prefixRewrite + path.slice(route.prefix.length)
  }
  if (route.regexRewrite !== undefined) {
    const q = path.indexOf('?')
    const bare = q < 0 ? path : path.slice(0, q)
    const query = q < 0 ? '' : path.slice(q)
    const flags = route.regexRewrite.pattern.flags.includes('g')
      ? route.regexRewrite.pattern.flags
      : `${route.regexRewrite.pattern.flags}g`
    const global = new RegExp(route.regexRewrite.pattern.source, flags)
    return bare.replace(global, toJsReplacement(route.regexRewrite.substitution)) + query
  }
  return undefined
}

/**
 * Turns the post-ext_proc header list into the upstream request: `:authority` (after
 * `host_rewrite_literal`) becomes `host`, first on the wire as Envoy's HTTP/1 codec writes it;
 * `:path` is rewritten; other pseudo headers and stray `host` entries are not sent. With
 * `suppressEnvoyHeaders` false the router's `x-envoy-original-path` (on a path rewrite) and
 * `x-envoy-expected-rq-timeout-ms` (default route timeout 15 s) are appended.
 */
export function finalizeUpstreamRequest(route: EmulatedRoute, headers: HeaderEntry[],
  body: Buffer, suppressEnvoyHeaders: boolean): UpstreamRequestRecord {
  const authority = route.hostRewriteLiteral ?? getHeader(headers, ':authority') ?? ''
  const originalPath = getHeader(headers, ':path') ?? '/'
  const rewritten = rewritePath(route, originalPath)
  const list: Array<[string, string]> = [['host', authority]]
  for (const h of headers) {
    if (!h.key.startsWith(':') && h.key !== 'host') list.push([h.key, h.value])
  }
  if (!suppressEnvoyHeaders) {
    if (rewritten !== undefined) list.push(['x-envoy-original-path', originalPath])
    list.push(['x-envoy-expected-rq-timeout-ms', '15000'])
  }
  return {
    method: getHeader(headers, ':method') ?? 'GET',
    path: rewritten ?? originalPath,
    authority,
    headers: list,
    body,
  }
}

/** Sends the request upstream; resolves with the response head, body not yet consumed. */
export function sendUpstream(route: EmulatedRoute, request: UpstreamRequestRecord, agent: Agent):
  { req: ClientRequest; response: Promise<IncomingMessage> } {
  const req = httpRequest({
    host: route.upstream.host,
    port: route.upstream.port,
    method: request.method,
    path: request.path,
    headers: request.headers.flat(),
    setHost: false,
    agent,
  })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  req.end(request.body.length > 0 ? request.body : undefined)
  return { req, response }
}
