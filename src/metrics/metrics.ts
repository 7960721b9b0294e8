import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * The server's Prometheus metrics, on a registry of its own (never prom-client's global one).
 * Label values are bounded: route names come from Envoy's configuration, outcomes and codes
 * from closed sets. Nothing caller-specific (subject, token, tool argument) is ever a label.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({
    name: 'mcp_sigv4_requests_total',
    help: 'HTTP requests seen, by route, outcome (signed, passed_through, rejected, error) and error code',
    labelNames: ['route', 'outcome', 'error_code'] as const,
    registers: [this.registry],
  })
  readonly signDuration = new Histogram({
    name: 'mcp_sigv4_sign_duration_seconds',
    help: 'Time to compute one SigV4 signature (credentials already resolved)',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  })
  readonly streamDuration = new Histogram({
    name: 'mcp_sigv4_request_processing_seconds',
    help: 'Time from request_headers to the final answer for the request side, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2, 10],
    registers: [this.registry],
  })
  readonly activeStreams = new Gauge({
    name: 'mcp_sigv4_active_streams',
    help: 'ext_proc streams currently open',
    registers: [this.registry],
  })
  readonly streamErrors = new Counter({
    name: 'mcp_sigv4_stream_errors_total',
    help: 'ext_proc streams ended with a non-OK gRPC status, by status',
    labelNames: ['grpc_code'] as const,
    registers: [this.registry],
  })
  readonly credentialCache = new Counter({
    name: 'mcp_sigv4_credential_cache_events_total',
    help: 'Credential cache events: hit, miss, refresh, eviction, backoff_reject, fetch_ok, fetch_error',
    labelNames: ['event'] as const,
    registers: [this.registry],
  })

  readonly argumentConflicts = new Counter({
    name: 'mcp_sigv4_identity_argument_conflicts_total',
    help: 'tools/list tools that already declare the identity argument and keep their own parameter',
    registers: [this.registry],
  })

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }
}
