/**
 * `npm run bench`: runs every scenario side by side on this machine and reports a Markdown table
 * (stdout), JSON (`bench-results/latest.json`) and PASS/FAIL per target of issue 6. It measures;
 * it is not a test, so it exits 0 whatever the verdicts (1 only when it could not run).
 *
 * Processes: this orchestrator (which also hosts the fake STS), one server process per scenario
 * (`serverProcess.ts`, the real app) and one load generator (`loadGenerator.ts`) playing Envoy
 * over real gRPC.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFakeSts, type FakeSts } from '../test/harness/fakeSts.js'
import { SERVER_ENV, type ServerSpec } from './benchConfig.js'
import { parseOptions, type BenchOptions } from './options.js'
import { Child } from './ipc.js'
import { processorOnly, sha256OfOneMiB, signOnly, type SignOnlyResult } from './inProcess.js'
import type { LoadJob, LoadResult, RequestTemplate } from './loadGenerator.js'
import { formatSummary, summarizeProfile } from './profileSummary.js'
import { evaluateTargets, markdownTable, type Row, type BenchReport, type RoundFigures } from './report.js'
import type { ServerCommand, ServerStats } from './serverProcess.js'
import { round, summarize } from './stats.js'

const here = dirname(fileURLToPath(import.meta.url))
const distRoot = dirname(here)
const repoRoot = dirname(distRoot)
const resultsDir = join(repoRoot, 'bench-results')
const MiB = 1024 * 1024

/** A running server process. */
interface Server {
  readonly child: Child
  readonly address: string
  command<R = ServerStats>(command: ServerCommand): Promise<R>
  stop(): Promise<void>
}

async function startServer(name: string, spec: ServerSpec): Promise<Server> {
  const execArgv = ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')]
  const child = Child.start(`server ${name}`, join(here, 'serverProcess.js'), {
    execArgv,
    env: { ...SERVER_ENV, BENCH_SERVER_SPEC: JSON.stringify(spec) },
    logFile: join(resultsDir, 'logs', `${name}.server.log`),
  })
  const ready = await Promise.race([
    child.nextEvent<{ grpcPort: number }>('ready'),
    child.exited.then((code) => Promise.reject(new Error(`server ${name} exited early (code ${code})`))),
  ])
  return {
    child,
    address: `127.0.0.1:${ready.grpcPort}`,
    command: <R>(command: ServerCommand) => child.request<R>(command),
    stop: async () => {
      await child.request({ cmd: 'exit' }).catch(() => undefined)
      const timer = setTimeout(() => void child.kill(), 5000)
      await child.exited
      clearTimeout(timer)
    },
  }
}

class Bench {
  readonly rows: Row[] = []
  readonly extra: Record<string, unknown> = {}

  constructor(
    readonly options: BenchOptions,
    readonly loadgen: Child,
    readonly sts: FakeSts,
  ) {}

  load<R>(job: LoadJob): Promise<R> {
    return this.loadgen.request<R>(job)
  }

  /** Closes the load generator's connection to a server, then stops the server. */
  async stop(server: Server): Promise<void> {
    await this.load({ kind: 'disconnect', address: server.address }).catch(() => undefined)
    await server.stop()
  }

  spec(maxEntries = 10_000): ServerSpec {
    return { stsEndpoint: this.sts.endpoint, maxEntries }
  }

  /**
   * The throughput scenarios side by side on one server process (each scenario is its own route
   * and body size), all warmed up, then `rounds` rounds in which every scenario gets its slice of
   * the measured time (the order reversed every other round), so a slower or busier moment of
   * the machine weighs on all of them alike. One process for all: two processes of the same
   * program differ by several per cent (heap layout, JIT, which core they land on), more than
   * the differences measured here. Latencies and counters are summed over the rounds; each
   * round's req/s and p99 are kept for the per-round ratios of the verdicts.
   */
  async throughputSideBySide(scenarios: ReadonlyArray<readonly [string, RequestTemplate]>): Promise<Row[]> {
    const { concurrency, durationMs, warmupMs, rounds } = this.options
    const servers: Server[] = []
    try {
      servers.push(await startServer('throughput', this.spec()))
      const server = servers[0] as Server
      let stsSeen = 0
      const runs = scenarios.map(([name, template]) => ({ name, template, server, acc: new Accumulator() }))
      for (const run of runs) {
        process.stderr.write(`bench: warming up ${run.name}\n`)
        await this.load({ kind: 'closed-loop', address: run.server.address, template: run.template, concurrency, durationMs: warmupMs })
      }
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? runs : [...runs].reverse()
        for (const run of order) {
          const job = { kind: 'closed-loop', address: run.server.address, template: run.template, concurrency } as const
          if (round > 0) await this.load({ ...job, durationMs: 250 })
          await run.server.command({ cmd: 'reset' })
          const result = await this.load<LoadResult>({ ...job, durationMs: durationMs / rounds, raw: true })
          const stats = await run.server.command<ServerStats>({ cmd: 'stats' })
          run.acc.add(result, stats, stats.stsCalls - stsSeen)
          stsSeen = stats.stsCalls
        }
        process.stderr.write(`bench: round ${round + 1}/${rounds} done\n`)
      }
      return runs.map((run) => run.acc.row(run.name, `c=${concurrency}, ${run.template.bodyBytes} B bodies`))
    } finally {
      await Promise.all(servers.map((server) => this.stop(server)))
    }
  }

  /** One throughput scenario on a fresh server, its measured window CPU-profiled into a file. */
  async profiled(name: string, template: RequestTemplate, profileFile: string): Promise<Row> {
    const { concurrency, durationMs, warmupMs } = this.options
    const server = await startServer(name, this.spec())
    try {
      const job = { kind: 'closed-loop', address: server.address, template, concurrency } as const
      await this.load({ ...job, durationMs: warmupMs })
      await server.command({ cmd: 'profile-start' })
      await server.command({ cmd: 'reset' })
      const result = await this.load<LoadResult>({ ...job, durationMs })
      const stats = await server.command({ cmd: 'stats' })
      await server.command({ cmd: 'profile-stop', file: profileFile })
      return rowOf(name, result, stats, `c=${concurrency}, ${template.bodyBytes} B bodies, profiled`)
    } finally {
      await this.stop(server)
    }
  }

  async coldIdentities(): Promise<Row> {
    const { coldCallers, stsLatencyMs, warmCallerConcurrency } = this.options
    this.sts.setBehaviour({ latencyMs: stsLatencyMs })
    const server = await startServer('cold-identities', this.spec())
    try {
      const address = server.address
      const warm: RequestTemplate = { route: 'caller', bodyBytes: 1024, caller: 0 }
      const warmJob = { kind: 'closed-loop', address, template: warm, concurrency: warmCallerConcurrency } as const
      // Caller 0 becomes warm (one STS call), then its own warm p99 is measured alone.
      await this.load<LoadResult>({ ...warmJob, durationMs: 1000 })
      const alone = await this.load<LoadResult>({ ...warmJob, durationMs: 2000 })
      await this.load({ kind: 'background-start', address, template: warm, concurrency: warmCallerConcurrency })
      await sleep(300)
      const stsBefore = this.sts.calls.length
      const serverStsBefore = (await server.command({ cmd: 'stats' })).stsCalls
      const profileFile = this.options.profile === 'cold-identities' ? join(resultsDir, 'profiles', 'cold-identities.cpuprofile') : undefined
      if (profileFile !== undefined) await server.command({ cmd: 'profile-start' })
      await server.command({ cmd: 'reset' })
      const burst = await this.load<LoadResult & { windowStart: number; windowEnd: number }>({
        kind: 'burst',
        address,
        first: 1,
        count: coldCallers,
        bodyBytes: 1024,
      })
      const stats = await server.command({ cmd: 'stats' })
      if (profileFile !== undefined) await server.command({ cmd: 'profile-stop', file: profileFile })
      const outcomes = await this.load<Array<{ startedAt: number; latencyMs: number; error?: string }>>({ kind: 'background-stop' })
      const during = outcomes.filter((o) => o.startedAt >= burst.windowStart && o.startedAt <= burst.windowEnd)
      const duringOk = during.filter((o) => o.error === undefined).map((o) => o.latencyMs)
      const duringSummary = summarize(duringOk)
      const stsCalls = this.sts.calls.length - stsBefore
      this.extra.coldIdentities = {
        callers: coldCallers,
        stsLatencyMs,
        stsCallsSeenByFakeSts: stsCalls,
        stsCallsCountedByServer: stats.stsCalls - serverStsBefore,
        burstMs: round(burst.elapsedMs, 1),
        coldLatency: burst.latency,
        coldErrors: burst.errors,
        coldFirstError: burst.firstError,
        timeoutOverridesSent: burst.timeoutOverrides,
        lagP99Ms: round(stats.lagP99Ms, 2),
        lagMaxMs: round(stats.lagMaxMs, 2),
        warmCaller: {
          concurrency: warmCallerConcurrency,
          alone: alone.latency,
          duringBurst: duringSummary,
          duringBurstErrors: during.length - duringOk.length,
        },
      }
      const row = rowOf('cold-identities', burst, stats, `${coldCallers} callers at once, STS ${stsLatencyMs} ms`)
      return { ...row, stsCalls, warmAloneP99: alone.latency.p99, warmDuringP99: duringSummary.p99, warmDuringMax: duringSummary.max }
    } finally {
      this.sts.setBehaviour({ latencyMs: 0 })
      await this.stop(server)
    }
  }

  /**
   * Fills the credential cache with `identities` distinct callers, in two halves, and measures
   * the memory after a full GC before, between and after: the first half shows the cost per
   * cached identity, the second whether memory keeps growing once `max_entries` is reached.
   */
  async fill(name: string, maxEntries: number): Promise<Row> {
    const { identities } = this.options
    const half = Math.floor(identities / 2)
    const server = await startServer(name, this.spec(maxEntries))
    try {
      const acc = new Accumulator()
      const stsBefore = this.sts.calls.length
      const snapshots = [await server.command({ cmd: 'gc' })]
      let stsSeen = 0
      for (const [first, count] of [[1, half], [1 + half, identities - half]] as const) {
        await server.command({ cmd: 'reset' })
        const job = { kind: 'fill', address: server.address, first, count, concurrency: 64, bodyBytes: 1024, raw: true } as const
        const result = await this.load<LoadResult>(job)
        const stats = await server.command({ cmd: 'stats' })
        acc.add(result, stats, stats.stsCalls - stsSeen)
        stsSeen = stats.stsCalls
        snapshots.push(await server.command({ cmd: 'gc' }))
      }
      const [before, middle, after] = snapshots as [ServerStats, ServerStats, ServerStats]
      const row = acc.row(name, `${identities} callers, max_entries ${maxEntries}`)
      return {
        ...row,
        stsCalls: this.sts.calls.length - stsBefore,
        memory: {
          callers: identities,
          maxEntries,
          cacheEntries: after.cacheSize,
          cacheEntriesAtHalf: middle.cacheSize,
          rssBefore: before.rssNow,
          rssAfter: after.rssNow,
          rssDelta: after.rssNow - before.rssNow,
          heapDelta: after.heapUsed - before.heapUsed,
          rssSecondHalf: after.rssNow - middle.rssNow,
          heapSecondHalf: after.heapUsed - middle.heapUsed,
          rssPerCachedIdentity: (middle.rssNow - before.rssNow) / Math.max(1, middle.cacheSize),
          heapPerCachedIdentity: (middle.heapUsed - before.heapUsed) / Math.max(1, middle.cacheSize),
        },
      }
    } finally {
      await this.stop(server)
    }
  }
}

/** Sums the rounds of one scenario. */
class Accumulator {
  private requests = 0
  private errors = 0
  private firstError: string | undefined
  private elapsedMs = 0
  private loadgenCpuMs = 0
  private readonly latencies: number[] = []
  private cpuMs = 0
  private wallMs = 0
  private probeMs = 0
  private rssPeak = 0
  private lagP99Ms = 0
  private lagMaxMs = 0
  private stsCalls = 0
  private readonly rounds: RoundFigures[] = []

  /** Adds one measured window; `stsCalls` is the server's count of STS calls during it. */
  add(result: LoadResult, stats: ServerStats, stsCalls: number): void {
    this.rounds.push({
      requestsPerSecond: result.requests / (result.elapsedMs / 1000),
      p99: summarize(result.latencies ?? []).p99,
      cpuMsPerRequest: stats.cpuMs / Math.max(1, result.requests),
    })
    this.requests += result.requests
    this.errors += result.errors
    this.firstError ??= result.firstError
    this.elapsedMs += result.elapsedMs
    this.loadgenCpuMs += result.loadgenCpuMs
    for (const latency of result.latencies ?? []) this.latencies.push(latency)
    this.cpuMs += stats.cpuMs
    this.wallMs += stats.wallMs
    this.probeMs += stats.probeMs
    this.rssPeak = Math.max(this.rssPeak, stats.rssPeak)
    // The worst round's p99: a conservative merge of per-round histograms.
    this.lagP99Ms = Math.max(this.lagP99Ms, stats.lagP99Ms)
    this.lagMaxMs = Math.max(this.lagMaxMs, stats.lagMaxMs)
    this.stsCalls += stsCalls
  }

  row(scenario: string, notes: string): Row {
    const result: LoadResult = {
      requests: this.requests,
      errors: this.errors,
      firstError: this.firstError,
      elapsedMs: this.elapsedMs,
      latency: summarize(this.latencies),
      timeoutOverrides: 0,
      loadgenCpuMs: this.loadgenCpuMs,
    }
    const stats: ServerStats = {
      wallMs: this.wallMs,
      cpuMs: this.cpuMs,
      probeMs: this.probeMs,
      rssNow: 0,
      rssPeak: this.rssPeak,
      heapUsed: 0,
      lagP50Ms: Number.NaN,
      lagP99Ms: this.lagP99Ms,
      lagMaxMs: this.lagMaxMs,
      stsCalls: this.stsCalls,
      cacheSize: 0,
    }
    return { ...rowOf(scenario, result, stats, notes), rounds: this.rounds }
  }
}

function rowOf(scenario: string, result: LoadResult, stats: ServerStats, notes: string): Row {
  const seconds = result.elapsedMs / 1000
  const serverBusy = (100 * stats.cpuMs) / stats.wallMs
  const loadgen = result.loadgenCpuMs / Math.max(1, result.requests)
  return {
    scenario,
    requests: result.requests,
    errors: result.errors,
    firstError: result.firstError,
    requestsPerSecond: result.requests / seconds,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    cpuSecondsPer1k: stats.cpuMs / Math.max(1, result.requests),
    peakRssMiB: stats.rssPeak / MiB,
    lagP99Ms: stats.lagP99Ms,
    stsCalls: stats.stsCalls,
    serverCpuPercent: serverBusy,
    loadgenCpuSecondsPer1k: loadgen,
    notes: `${notes}; server ${round(serverBusy, 0)}% of a core, load generator ${round(loadgen, 3)} CPU s/1k`,
  }
}

const THROUGHPUT: ReadonlyArray<readonly [string, RequestTemplate]> = [
  // In this order within a round (reversed every other round): the two 1 KiB scenarios the
  // throughput targets compare are neighbours, the 1 MiB ones (whose garbage outlives their
  // window a little) are too.
  ['passthrough', { route: 'passthrough', bodyBytes: 1024 }],
  ['signed-1k', { route: 'signed', bodyBytes: 1024 }],
  ['signed-64k', { route: 'signed', bodyBytes: 64 * 1024 }],
  // Not in the list: the transport's own cost of a 1 MiB body, to tell it from ours.
  ['passthrough-1m', { route: 'passthrough', bodyBytes: MiB }],
  ['signed-1m', { route: 'signed', bodyBytes: MiB }],
]

function inProcessRow(scenario: string, result: SignOnlyResult, notes: string): Row {
  return {
    scenario,
    requests: result.requests,
    errors: 0,
    firstError: undefined,
    requestsPerSecond: result.requests / (result.elapsedMs / 1000),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    cpuSecondsPer1k: result.cpuMs / result.requests,
    peakRssMiB: process.memoryUsage.rss() / MiB,
    lagP99Ms: Number.NaN,
    stsCalls: 0,
    notes,
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function runScenarios(bench: Bench, options: BenchOptions): Promise<void> {
  const wanted = (name: string): boolean => options.only === undefined || options.only.includes(name)
  const seconds = options.durationMs / 1000
  if (wanted('sign-only')) {
    const result = await signOnly(Math.min(options.durationMs, 3000))
    bench.rows.push(inProcessRow('sign-only', result, 'in process, one thread: signRequest + header plan, as the server calls them'))
  }
  const inProcess = [
    ['processor-passthrough', 'passthrough', 1024],
    ['processor-signed-1k', 'signed', 1024],
    ['processor-signed-1m', 'signed', MiB],
  ] as const
  for (const [name, route, bodyBytes] of inProcess) {
    if (!wanted(name)) continue
    const result = await processorOnly(route, Math.min(options.durationMs, 3000), bodyBytes)
    bench.rows.push(inProcessRow(name, result, 'in process, one thread: protobuf decode, StreamProcessor (real object graph), encode; no network'))
  }
  bench.extra.sha256OneMiBMs = sha256OfOneMiB()
  const throughput = THROUGHPUT.filter(([name]) => wanted(name))
  if (throughput.length > 0) {
    process.stderr.write(`bench: ${throughput.map(([name]) => name).join(', ')} side by side (${seconds} s each)\n`)
    bench.rows.push(...(await bench.throughputSideBySide(throughput)))
  }
  if (wanted('cold-identities')) {
    process.stderr.write('bench: cold-identities\n')
    bench.rows.push(await bench.coldIdentities())
  }
  if (wanted('many-identities')) {
    process.stderr.write(`bench: many-identities (${options.identities} callers)\n`)
    bench.rows.push(await bench.fill('many-identities', options.identities))
    process.stderr.write(`bench: many-identities-bounded (max_entries ${options.boundedMaxEntries})\n`)
    bench.rows.push(await bench.fill('many-identities-bounded', options.boundedMaxEntries))
  }
}

async function profile(bench: Bench, scenario: string): Promise<void> {
  if (scenario === 'cold-identities') {
    const file = join(resultsDir, 'profiles', 'cold-identities.cpuprofile')
    const summary = summarizeProfile(file, 30)
    bench.extra.profile = { scenario, file, summary }
    process.stdout.write(`\n### CPU profile of the cold-identities burst (server process)\n\n\`\`\`\n${formatSummary(summary)}\n\`\`\`\n`)
    return
  }
  const template = THROUGHPUT.find(([name]) => name === scenario)?.[1]
  if (template === undefined) throw new Error(`--profile: not a throughput scenario: ${scenario}`)
  const dir = join(resultsDir, 'profiles')
  mkdirSync(dir, { recursive: true })
  process.stderr.write(`bench: profiling ${scenario} (numbers of this run are not in the table)\n`)
  const file = join(dir, `${scenario}.cpuprofile`)
  const row = await bench.profiled(`${scenario}-profiled`, template, file)
  const summary = summarizeProfile(file, 30)
  bench.extra.profile = { scenario, file, requests: row.requests, summary }
  process.stdout.write(`\n### CPU profile of ${scenario} (server process, ${row.requests} requests)\n\n\`\`\`\n${formatSummary(summary)}\n\`\`\`\n`)
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  // The compiled protoLoader resolves ../../proto from dist-bench/src/protocol/.
  cpSync(join(repoRoot, 'proto'), join(distRoot, 'proto'), { recursive: true })
  mkdirSync(join(resultsDir, 'logs'), { recursive: true })
  mkdirSync(join(resultsDir, 'profiles'), { recursive: true })
  const sts = await startFakeSts()
  const loadgen = Child.start('load generator', join(here, 'loadGenerator.js'))
  const bench = new Bench(options, loadgen, sts)
  const started = Date.now()
  try {
    const callers = Math.max(options.identities, options.coldCallers) + 1
    const wantsTokens = options.only === undefined || options.only.some((s) => s.includes('identities'))
    if (wantsTokens) await bench.load({ kind: 'tokens', count: callers })
    await runScenarios(bench, options)
    if (options.profile !== undefined) await profile(bench, options.profile)
  } finally {
    await loadgen.kill()
    await sts.close()
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    options,
    rows: bench.rows,
    extra: bench.extra,
    targets: evaluateTargets(bench.rows, bench.extra),
    durationSeconds: (Date.now() - started) / 1000,
  }
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${markdownTable(report)}\n`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
