import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'

export interface OpsHttpServerOptions {
  readonly registry: Registry
  /** True when the server should receive traffic (listening, configured, not draining). */
  readonly isReady: () => boolean
}

/**
 * The operations endpoint: `/metrics` (Prometheus text), `/healthz` (the process is alive) and
 * `/readyz` (ready for traffic). Nothing else is served.
 */
export function createOpsHttpServer(options: OpsHttpServerOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    switch (path) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
        return
      case '/readyz': {
        const ready = options.isReady()
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n')
        return
      }
      case '/metrics':
        options.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        )
        return
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })
}
