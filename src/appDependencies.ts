import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { Config } from './config/index.js'
import {
  CredentialCache,
  IdentityResolver,
  isTokenBoundFailure,
  type StsClientOptions,
  type StsLike,
} from './credentials/index.js'
import { McpPolicy } from './mcp/index.js'
import type { Metrics } from './metrics/index.js'
import type { StreamDependencies, StreamLifecycleObserver, StreamObserver } from './protocol/index.js'
import { createSigningTargetResolver } from './routing/index.js'
import { canonicalRequestHash, planSignatureHeaders, signRequest } from './signing/index.js'

/** Request headers in the server's own namespace, removed before forwarding. */
const OWN_HEADER_PREFIX = 'x-mcp-sigv4-'

/** What lives across configuration reloads. */
export interface SharedParts {
  readonly logger: Logger
  readonly metrics: Metrics
  readonly observer: StreamObserver & StreamLifecycleObserver
  readonly now: () => Date
  readonly monotonicMs: () => number
  readonly createStsClient: (options: StsClientOptions) => StsLike
}

/** Everything built from one configuration: new streams use the newest generation. */
export interface Generation {
  readonly config: Readonly<Config>
  readonly deps: StreamDependencies
  readonly identities: IdentityResolver
  readonly cache: CredentialCache
}

/**
 * Builds the per-configuration object graph: credential cache and identities, policies, and the
 * stream dependencies (routing → MCP → credentials → signing). A reload builds a new generation
 * with an empty cache, so a changed identity never serves credentials of its old definition.
 */
export function buildGeneration(config: Readonly<Config>, shared: SharedParts): Generation {
  const { logger, metrics } = shared
  const cache = new CredentialCache({
    maxEntries: config.credentials.max_entries,
    refreshAheadMs: config.credentials.refresh_ahead_seconds * 1000,
    expirySkewMs: config.credentials.expiry_skew_seconds * 1000,
    staticTtlMs: config.credentials.static_refresh_seconds * 1000,
    backoffInitialMs: config.credentials.failure_backoff_initial_ms,
    backoffMaxMs: config.credentials.failure_backoff_max_ms,
    isPermanentFailure: isTokenBoundFailure,
    onEvent: (event) => {
      const identity = IdentityResolver.identityOfKey(event.key)
      metrics.credentialCache.inc({ identity, event: event.type })
      if (event.type === 'fetch_error') {
        const error = event.error as { code?: unknown; message?: unknown }
        logger.warn({ identity, error_code: error.code, error: error.message }, 'credential fetch failed')
      }
    },
  })
  const identities = new IdentityResolver({
    config,
    cache,
    createStsClient: shared.createStsClient,
    onRuleError: (identity, rule, message) => logger.debug({ identity, rule, error: message }, 'role rule did not evaluate'),
  })
  // Tools seen declaring the identity argument themselves, by route (bounded).
  const ownArgumentTools = new LRUCache<string, true>({ max: 10_000 })
  const policies = new Map(
    Object.entries(config.mcp.policies).map(([name, policy]) => [name, { rules: new McpPolicy(name, policy), config: policy }]),
  )
  const debug = logger.isLevelEnabled('debug')
  // Each route's keys are resolved once per configuration, not once per request.
  const resolveTarget = createSigningTargetResolver({ staticRoutes: config.routes })
  const deps: StreamDependencies = {
    settings: {
      maxBodyBytes: config.server.max_body_bytes,
      requestBodyModeOverride: config.server.request_body_mode_override,
      // Bounded by the STS call timeout: longer would only delay Envoy's own 504.
      credentialWaitTimeoutMs: Math.min(config.server.credential_wait_timeout_ms, config.sts.timeout_ms + 1000),
    },
    resolveTarget,
    lookupIdentity: (name, caller) => identities.lookup(name, caller),
    headersToStrip: (name) => identities.headersToStrip(name),
    sign: (input, credentials) => {
      const request = {
        method: input.method,
        host: input.target.host,
        path: input.target.path,
        query: input.target.query,
        ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
        payloadSha256Hex: input.payloadSha256Hex,
        region: input.target.region,
        service: input.target.service,
        signingDate: input.signingDate,
      }
      const signed = signRequest(request, credentials)
      if (debug) {
        // Signs a second time: only at debug level. Matches the hash AWS reports.
        const hash = canonicalRequestHash(request, credentials)
        logger.debug({ route: input.target.routeName, canonical_request_sha256: hash }, 'signed')
      }
      // Never forwarded: the caller's token header, and anything in our own header namespace a
      // client may have sent (route keys travel as gRPC metadata from Envoy, never as headers).
      return planSignatureHeaders(
        input.requestHeaderNames,
        signed,
        (name) => name.startsWith(OWN_HEADER_PREFIX) || input.stripHeaders.includes(name),
      )
    },
    now: shared.now,
    monotonicMs: shared.monotonicMs,
    observer: shared.observer,
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
  return { config, deps, identities, cache }
}

/**
 * Resolves the identities marked `warm` until each has succeeded once (retrying every
 * `retryMs`), and reports readiness. Returns a function that stops retrying.
 */
export function warmIdentities(
  generation: Generation,
  onReady: () => void,
  logger: Logger,
  retryMs = 5000,
): () => void {
  const pending = new Set(
    Object.entries(generation.config.identities)
      .filter(([, identity]) => identity.kind !== 'web_identity' && identity.warm)
      .map(([name]) => name),
  )
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const attempt = async (): Promise<void> => {
    for (const name of [...pending]) {
      try {
        await generation.identities.resolve(name)
        pending.delete(name)
        logger.info({ identity: name }, 'identity warm')
      } catch (err) {
        logger.warn({ identity: name, error_code: (err as { code?: unknown }).code }, 'identity not warm yet')
      }
    }
    if (stopped) return
    if (pending.size === 0) onReady()
    else timer = setTimeout(() => void attempt(), retryMs).unref()
  }
  void attempt()
  return () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
  }
}
