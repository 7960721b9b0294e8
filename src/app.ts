import { once } from 'node:events'
import { LRUCache } from 'lru-cache'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Config } from './config/index.js'
import {
  CredentialCache,
  IdentityResolver,
  isTokenBoundFailure,
  type StsClientOptions,
  type StsLike,
} from './credentials/index.js'
import { createLogger, type Logger } from './logging/logger.js'
import { Metrics, createOpsHttpServer, createRequestObserver } from './metrics/index.js'
import {
  createGrpcServer,
  createProcessHandler,
  type StreamDependencies,
} from './protocol/index.js'
import { McpPolicy } from './mcp/index.js'
import { resolveSigningTarget } from './routing/index.js'
import { planSignatureHeaders, signRequest } from './signing/index.js'

/** Injectable parts; everything defaults to the real implementation. */
export interface AppOptions {
  readonly config: Readonly<Config>
  readonly logger?: Logger
  readonly metrics?: Metrics
  /** Wall clock for `x-amz-date`. */
  readonly now?: () => Date
  readonly createStsClient?: (options: StsClientOptions) => StsLike
}

export interface RunningApp {
  readonly grpcPort: number
  readonly httpPort: number
  readonly metrics: Metrics
  readonly identities: IdentityResolver
  /** Stops taking streams, waits up to the grace period for in-flight ones, then closes. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Builds the object graph (config → credentials → routing/signing → protocol) and starts the
 * gRPC and operations listeners. `main.ts` adds the CLI and signal handling on top.
 */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config } = options
  const logger = options.logger ?? createLogger(config.logging.level)
  const metrics = options.metrics ?? new Metrics()
  const now = options.now ?? (() => new Date())
  const cache = new CredentialCache({
    maxEntries: config.credentials.max_entries,
    refreshAheadMs: config.credentials.refresh_ahead_seconds * 1000,
    expirySkewMs: config.credentials.expiry_skew_seconds * 1000,
    staticTtlMs: config.credentials.static_refresh_seconds * 1000,
    backoffInitialMs: config.credentials.failure_backoff_initial_ms,
    backoffMaxMs: config.credentials.failure_backoff_max_ms,
    isPermanentFailure: isTokenBoundFailure,
    onEvent: (event) => {
      metrics.credentialCache.inc({ event: event.type })
      if (event.type === 'fetch_error') {
        const error = event.error as { code?: unknown; message?: unknown }
        logger.warn({ cache_key: event.key, error_code: error.code, error: error.message }, 'credential fetch failed')
      }
    },
  })
  const identities = new IdentityResolver({
    config,
    cache,
    onRuleError: (identity, rule, message) =>
      logger.debug({ identity, rule, error: message }, 'role rule did not evaluate'),
    ...(options.createStsClient !== undefined ? { createStsClient: options.createStsClient } : {}),
  })
  const observer = createRequestObserver(metrics, logger)
  // Tools seen declaring the identity argument themselves, by route (bounded).
  const ownArgumentTools = new LRUCache<string, true>({ max: 10_000 })
  const policies = new Map(
    Object.entries(config.mcp.policies).map(([name, policy]) => [name, { rules: new McpPolicy(name, policy), config: policy }]),
  )
  const deps: StreamDependencies = {
    settings: {
      maxBodyBytes: config.server.max_body_bytes,
      requestBodyModeOverride: config.server.request_body_mode_override,
      // Bounded by the STS call timeout: longer would only delay Envoy's own 504.
      credentialWaitTimeoutMs: Math.min(config.server.credential_wait_timeout_ms, config.sts.timeout_ms + 1000),
    },
    resolveTarget: (input) => resolveSigningTarget({ ...input, staticRoutes: config.routes }),
    lookupIdentity: (name, caller) => identities.lookup(name, caller),
    headersToStrip: (name) => identities.headersToStrip(name),
    sign: async (input, credentials) => {
      const signed = await signRequest(
        {
          method: input.method,
          host: input.target.host,
          path: input.target.path,
          query: input.target.query,
          ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
          payloadSha256Hex: input.payloadSha256Hex,
          region: input.target.region,
          service: input.target.service,
          signingDate: input.signingDate,
        },
        credentials,
      )
      const plan = planSignatureHeaders(input.requestHeaderNames, signed)
      const strip = input.stripHeaders.filter((h) => input.requestHeaderNames.includes(h))
      return strip.length === 0 ? plan : { set: plan.set, remove: [...plan.remove, ...strip] }
    },
    now,
    monotonicMs: () => performance.now(),
    observer,
    mcp: {
      override: {
        metaKey: config.mcp.identity_override.meta_key,
        argument: config.mcp.identity_override.argument,
        listAllowedInErrors: config.mcp.identity_override.list_allowed_in_errors,
      },
      policy: (name) => policies.get(name),
      verifiedClaims: (identity, caller) => identities.verifiedClaims(identity, caller),
      onArgumentConflict: (route, tool) => {
        metrics.argumentConflicts.inc()
        if (!ownArgumentTools.has(`${route}\n${tool}`)) {
          logger.info({ route, tool, argument: config.mcp.identity_override.argument }, 'tool keeps its own parameter of the identity argument name')
        }
        ownArgumentTools.set(`${route}\n${tool}`, true)
      },
      toolOwnsArgument: (route, tool) => ownArgumentTools.has(`${route}\n${tool}`),
    },
  }

  const grpc = createGrpcServer(createProcessHandler(deps, observer))
  const grpcPort = await grpc.listen(config.server.grpc_address)
  let draining = false
  const http = createOpsHttpServer({ registry: metrics.registry, isReady: () => !draining })
  const [httpHost, httpPortText] = splitAddress(config.server.http_address)
  http.listen(Number(httpPortText), httpHost)
  await once(http, 'listening')
  const httpPort = (http.address() as AddressInfo).port
  grpc.health.setServing(true)
  logger.info({ grpc_port: grpcPort, http_port: httpPort, identities: identities.names }, 'listening')

  return {
    grpcPort,
    httpPort,
    metrics,
    identities,
    stop: async (graceMs = config.server.shutdown_grace_seconds * 1000) => {
      draining = true
      grpc.health.setServing(false)
      grpc.health.closeWatchers()
      await shutdownGrpc(grpc.server, graceMs)
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      logger.info('stopped')
    },
  }
}

function splitAddress(address: string): [string, string] {
  const index = address.lastIndexOf(':')
  return [address.slice(0, index).replace(/^\[|\]$/g, ''), address.slice(index + 1)]
}

/** Lets in-flight streams finish for up to `graceMs`, then cancels whatever is left. */
async function shutdownGrpc(server: import('@grpc/grpc-js').Server, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, graceMs)
    server.tryShutdown(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
