import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Buckets that resolve sub-millisecond work (seconds). */
// A signature takes about 10 µs: the lowest buckets resolve it, the upper ones catch stalls.
const SIGN_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]
const STREAM_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2, 10]

/**
 * The server's Prometheus metrics, on a registry of its own (never prom-client's global one).
 * Label values are bounded: route and identity names come from configuration, method classes,
 * outcomes and codes from closed sets. Nothing caller-specific (subject, token, tool argument) is
 * ever a label.
 */
export class Metrics {
  readonly registry = new Registry()
  /** Read at scrape time; set by the app (`observe`). */
  private probes: MetricProbes = { ready: () => false, cacheSize: () => 0, expiries: () => [] }
  readonly requests = new Counter({
    name: 'mcp_sigv4_requests_total',
    help: 'HTTP requests seen, by route, method class, outcome (signed, passed_through, denied, rejected, error) and error code',
    labelNames: ['route', 'method_class', 'outcome', 'error_code'] as const,
    registers: [this.registry],
  })
  readonly signDuration = new Histogram({
    name: 'mcp_sigv4_sign_duration_seconds',
    help: 'Time to compute one SigV4 signature (credentials already resolved)',
    buckets: SIGN_BUCKETS,
    registers: [this.registry],
  })
  readonly streamDuration = new Histogram({
    name: 'mcp_sigv4_request_processing_seconds',
    help: 'Time from request_headers to the final answer for the request side, by outcome',
    labelNames: ['outcome'] as const,
    buckets: STREAM_BUCKETS,
    registers: [this.registry],
  })
  readonly bodyBytes = new Histogram({
    name: 'mcp_sigv4_request_body_bytes',
    help: 'Request body size of signed or refused requests',
    buckets: [0, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304],
    registers: [this.registry],
  })
  readonly activeStreams = new Gauge({
    name: 'mcp_sigv4_active_streams',
    help: 'ext_proc streams currently open',
    registers: [this.registry],
  })
  readonly deferredMessages = new Counter({
    name: 'mcp_sigv4_deferred_messages_total',
    help: 'ext_proc messages that waited for a later event-loop turn because the turn had used server.turn_budget_ms',
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
    help: 'Credential cache events by identity: hit, miss, refresh, eviction, backoff_reject, fetch_ok, fetch_error',
    labelNames: ['identity', 'event'] as const,
    registers: [this.registry],
  })
  readonly credentialCacheSize = new Gauge({
    name: 'mcp_sigv4_credential_cache_entries',
    help: 'Credential sets in the cache',
    registers: [this.registry],
    collect: () => {
      this.credentialCacheSize.set(this.probes.cacheSize())
    },
  })
  readonly credentialExpiry = new Gauge({
    name: 'mcp_sigv4_credentials_expiry_seconds',
    help: 'Seconds until the cached credentials of an identity expire (the soonest, for per-caller identities)',
    labelNames: ['identity'] as const,
    registers: [this.registry],
    collect: () => {
      this.credentialExpiry.reset()
      for (const [identity, seconds] of this.probes.expiries()) this.credentialExpiry.set({ identity }, seconds)
    },
  })
  readonly stsCalls = new Counter({
    name: 'mcp_sigv4_sts_calls_total',
    help: 'STS calls by API (AssumeRole, AssumeRoleWithWebIdentity) and outcome (ok or a bounded error class)',
    labelNames: ['api', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly stsLatency = new Histogram({
    name: 'mcp_sigv4_sts_call_duration_seconds',
    help: 'STS call latency by API',
    labelNames: ['api'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  readonly argumentConflicts = new Counter({
    name: 'mcp_sigv4_identity_argument_conflicts_total',
    help: 'tools/list tools that already declare the identity argument and keep their own parameter',
    registers: [this.registry],
  })
  readonly configReloads = new Counter({
    name: 'mcp_sigv4_config_reloads_total',
    help: 'Configuration reloads (SIGHUP) by result: applied or rejected',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })
  readonly ready = new Gauge({
    name: 'mcp_sigv4_ready',
    help: '1 when the server takes traffic (listening, configured, warm identities resolved, not draining)',
    registers: [this.registry],
    collect: () => {
      this.ready.set(this.probes.ready() ? 1 : 0)
    },
  })

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  /** Connects the scrape-time gauges to the running app. */
  observe(probes: MetricProbes): void {
    this.probes = probes
  }
}

/** Values the gauges read when Prometheus scrapes. */
export interface MetricProbes {
  ready(): boolean
  cacheSize(): number
  /** Seconds until expiry per identity (the soonest per identity). */
  expiries(): Iterable<readonly [string, number]>
}
