import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Server } from '@grpc/grpc-js'
import { buildGeneration, warmIdentities, type Generation, type SharedParts } from './appDependencies.js'
import { resolveReceiveWindows, type Config, type ReceiveWindows } from './config/index.js'
import { IdentityResolver, createSdkStsClient, type StsClientOptions, type StsLike } from './credentials/index.js'
import { createLogger, type Logger } from './logging/logger.js'
import { Metrics, createOpsHttpServer, createRequestObserver, instrumentStsFactory } from './metrics/index.js'
import { createGrpcServer, createProcessHandler, TurnBudget } from './protocol/index.js'
import type { GrpcTlsMode } from './protocol/grpcCredentials.js'

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
  /** TLS mode of the gRPC listener. */
  readonly tls: GrpcTlsMode
  /** The identities of the current configuration. */
  readonly identities: IdentityResolver
  /** True when `/readyz` answers 200. */
  readonly ready: boolean
  /**
   * Applies a new configuration to new streams (streams in flight finish with the old one). The
   * listeners are not rebound: changed addresses or TLS settings need a restart and are reported.
   */
  reload(config: Readonly<Config>): { readonly restartNeeded: readonly string[] }
  /** Stops taking streams, waits up to the grace period for in-flight ones, then closes. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Builds the object graph (config → credentials → routing/signing → protocol) and starts the
 * gRPC and operations listeners. `main.ts` adds the CLI and signal handling on top.
 */
export async function startApp(options: AppOptions): Promise<RunningApp> {
  const logger = options.logger ?? createLogger(options.config.logging.level)
  const metrics = options.metrics ?? new Metrics()
  const monotonicMs = (): number => performance.now()
  const shared: SharedParts = {
    logger,
    metrics,
    observer: createRequestObserver(metrics, logger),
    now: options.now ?? (() => new Date()),
    monotonicMs,
    createStsClient: instrumentStsFactory(options.createStsClient ?? createSdkStsClient, metrics, monotonicMs),
  }
  let generation = buildGeneration(options.config, shared)
  let warm = false
  let stopWarming = warmIdentities(generation, () => (warm = true), logger)

  const turnBudget = new TurnBudget({
    budgetMs: options.config.server.turn_budget_ms,
    monotonicMs,
    onDeferred: () => metrics.deferredMessages.inc(),
  })
  const processHandler = createProcessHandler(() => generation.deps, shared.observer, { turnBudget })
  const grpc = createGrpcServer(processHandler, { receiveWindows: receiveWindowsOf(options.config) })
  const grpcPort = await grpc.listen(options.config.server.grpc_address, options.config.server.tls)
  if (grpc.receiveWindows === undefined) {
    logger.warn(
      'HTTP/2 receive windows could not be raised (@grpc/grpc-js internals changed): the gRPC listener ' +
        'advertises 64 KiB, and bodies larger than that arrive more slowly',
    )
  }
  let draining = false
  const isReady = (): boolean => warm && !draining
  metrics.observe({
    ready: isReady,
    cacheSize: () => generation.cache.size,
    expiries: () => soonestExpiries(generation),
  })
  const http = createOpsHttpServer({ registry: metrics.registry, isReady })
  const [httpHost, httpPortText] = splitAddress(options.config.server.http_address)
  http.listen(Number(httpPortText), httpHost)
  await once(http, 'listening')
  const httpPort = (http.address() as AddressInfo).port
  grpc.health.setServing(true)
  logger.info(
    {
      grpc_port: grpcPort,
      http_port: httpPort,
      tls: grpc.tlsMode,
      http2_windows: grpc.receiveWindows,
      identities: generation.identities.names,
    },
    'listening',
  )

  return {
    grpcPort,
    httpPort,
    metrics,
    tls: grpc.tlsMode,
    get identities() {
      return generation.identities
    },
    get ready() {
      return isReady()
    },
    reload(config) {
      const restartNeeded = listenerChanges(generation.config, config)
      stopWarming()
      generation = buildGeneration(config, shared)
      turnBudget.setBudget(config.server.turn_budget_ms)
      warm = false
      stopWarming = warmIdentities(generation, () => (warm = true), logger)
      return { restartNeeded }
    },
    stop: async (graceMs = generation.config.server.shutdown_grace_seconds * 1000) => {
      draining = true
      stopWarming()
      grpc.health.setServing(false)
      grpc.health.closeWatchers()
      await shutdownGrpc(grpc.server, graceMs)
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
      logger.info('stopped')
    },
  }
}

/** The soonest credential expiry per identity (per-caller identities have many entries). */
function soonestExpiries(generation: Generation): Map<string, number> {
  const soonest = new Map<string, number>()
  for (const { key, seconds } of generation.cache.expiries()) {
    const identity = IdentityResolver.identityOfKey(key)
    soonest.set(identity, Math.min(seconds, soonest.get(identity) ?? Infinity))
  }
  return soonest
}

/** Settings a reload cannot apply to running listeners. */
function listenerChanges(before: Readonly<Config>, after: Readonly<Config>): string[] {
  const changed: string[] = []
  if (before.server.grpc_address !== after.server.grpc_address) changed.push('server.grpc_address')
  if (before.server.http_address !== after.server.http_address) changed.push('server.http_address')
  if (JSON.stringify(before.server.tls) !== JSON.stringify(after.server.tls)) changed.push('server.tls')
  const windowsBefore = receiveWindowsOf(before)
  const windowsAfter = receiveWindowsOf(after)
  if (
    windowsBefore.streamBytes !== windowsAfter.streamBytes ||
    windowsBefore.connectionBytes !== windowsAfter.connectionBytes
  ) {
    changed.push('server.http2')
  }
  return changed
}

function receiveWindowsOf(config: Readonly<Config>): ReceiveWindows {
  return resolveReceiveWindows(config.server.max_body_bytes, config.server.http2)
}

function splitAddress(address: string): [string, string] {
  const index = address.lastIndexOf(':')
  return [address.slice(0, index).replace(/^\[|\]$/g, ''), address.slice(index + 1)]
}

/** Lets in-flight streams finish for up to `graceMs`, then cancels whatever is left. */
async function shutdownGrpc(server: Server, graceMs: number): Promise<void> {
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
