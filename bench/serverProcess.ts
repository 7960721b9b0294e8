/**
 * The server under test, in its own process: the real app (`startApp`) with the bench
 * configuration. Its ports go to the orchestrator over IPC; on request it reports its own CPU
 * time, peak RSS (sampled every 10 ms), event-loop delay (reset per measurement), STS calls and
 * cache size. Logs (one info line per request, as in production) go to stdout, which the
 * orchestrator points at a file.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startApp, type RunningApp } from '../src/app.js'
import { ENV_OVERRIDE_PREFIX, loadConfig } from '../src/config/index.js'
import { createLogger } from '../src/logging/logger.js'
import { Metrics } from '../src/metrics/index.js'
import { serverConfigYaml, type ServerSpec } from './benchConfig.js'
import { emitEvent, serveIpc } from './ipc.js'

/** Resolution of the event-loop delay timer; the histogram includes it, reports subtract it. */
const LAG_RESOLUTION_MS = 10

/** Server-side measurements since the last reset. */
export interface ServerStats {
  readonly wallMs: number
  /** Server CPU time (user + system), without the probe's own RSS sampling. */
  readonly cpuMs: number
  /** CPU time the probe spent sampling RSS (left out of `cpuMs`). */
  readonly probeMs: number
  readonly rssNow: number
  readonly rssPeak: number
  readonly heapUsed: number
  readonly lagP50Ms: number
  readonly lagP99Ms: number
  readonly lagMaxMs: number
  readonly stsCalls: number
  readonly cacheSize: number
}

/** Requests the orchestrator sends. */
export type ServerCommand =
  | { cmd: 'reset' }
  | { cmd: 'stats' }
  | { cmd: 'gc' }
  | { cmd: 'exit' }
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop'; file: string }

/**
 * The V8 CPU profiler (what `node --cpu-prof` runs), started and stopped around the measured
 * window only, so start-up and warm-up stay out of the profile. Writes a `.cpuprofile`.
 */
class WindowProfiler {
  private session: Session | undefined

  async start(): Promise<void> {
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 200 })
    await session.post('Profiler.start')
    this.session = session
  }

  async stop(file: string): Promise<void> {
    const session = this.session
    if (session === undefined) throw new Error('profiler not started')
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
    this.session = undefined
  }
}

class Probe {
  private cpuStart = process.cpuUsage()
  private wallStart = performance.now()
  private peak = process.memoryUsage.rss()
  private probeMs = 0
  private readonly lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS })

  constructor() {
    this.lag.enable()
    setInterval(() => {
      const started = performance.now()
      const rss = process.memoryUsage.rss()
      if (rss > this.peak) this.peak = rss
      this.probeMs += performance.now() - started
    }, 10).unref()
  }

  reset(): void {
    this.cpuStart = process.cpuUsage()
    this.wallStart = performance.now()
    this.peak = process.memoryUsage.rss()
    this.probeMs = 0
    this.lag.reset()
  }

  async stats(metrics: Metrics): Promise<ServerStats> {
    const cpu = process.cpuUsage(this.cpuStart)
    const lagMs = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) : 0)
    const sts = await metrics.stsCalls.get()
    const cache = await metrics.credentialCacheSize.get()
    const rss = process.memoryUsage.rss()
    return {
      wallMs: performance.now() - this.wallStart,
      cpuMs: (cpu.user + cpu.system) / 1000 - this.probeMs,
      probeMs: this.probeMs,
      rssNow: rss,
      rssPeak: Math.max(this.peak, rss),
      heapUsed: process.memoryUsage().heapUsed,
      lagP50Ms: lagMs(this.lag.count > 0 ? this.lag.percentile(50) : 0),
      lagP99Ms: lagMs(this.lag.count > 0 ? this.lag.percentile(99) : 0),
      lagMaxMs: lagMs(this.lag.count > 0 ? this.lag.max : 0),
      stsCalls: sts.values.reduce((sum, v) => sum + v.value, 0),
      cacheSize: cache.values[0]?.value ?? 0,
    }
  }
}

async function waitReady(app: RunningApp): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!app.ready) {
    if (Date.now() > deadline) throw new Error('server did not become ready (warm identity)')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_SERVER_SPEC ?? '{}') as ServerSpec
  // MCP_SIGV4__… overrides apply (e.g. MCP_SIGV4__SERVER__TURN_BUDGET_MS=0 to compare); nothing
  // else from the environment does.
  const overrides = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith(ENV_OVERRIDE_PREFIX)))
  const { config } = loadConfig({ text: serverConfigYaml(spec), env: overrides })
  const metrics = new Metrics()
  const app = await startApp({ config, metrics, logger: createLogger(config.logging.level) })
  await waitReady(app)
  const probe = new Probe()
  const profiler = new WindowProfiler()
  serveIpc(async (body) => {
    const command = body as ServerCommand
    switch (command.cmd) {
      case 'reset':
        probe.reset()
        return undefined
      case 'stats':
        return probe.stats(metrics)
      case 'gc': {
        const gc = (globalThis as { gc?: () => void }).gc
        for (let i = 0; i < 3; i++) gc?.()
        await new Promise((resolve) => setTimeout(resolve, 50))
        gc?.()
        return probe.stats(metrics)
      }
      case 'profile-start':
        return profiler.start()
      case 'profile-stop':
        return profiler.stop(command.file)
      case 'exit':
        setTimeout(() => {
          void app.stop(500).finally(() => process.exit(0))
        }, 10)
        return undefined
    }
  })
  emitEvent('ready', { grpcPort: app.grpcPort, httpPort: app.httpPort, pid: process.pid })
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
