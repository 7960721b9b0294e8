/** Command-line flags of `npm run bench -- [flags]`. */

export interface BenchOptions {
  /** Concurrent streams of the throughput scenarios. */
  readonly concurrency: number
  /** Measured window of each throughput scenario. */
  readonly durationMs: number
  /** Warm-up before each measured window (not recorded). */
  readonly warmupMs: number
  /** Rounds the throughput scenarios' measured time is split into (interleaved). */
  readonly rounds: number
  /** Distinct callers of `cold-identities`. */
  readonly coldCallers: number
  /** STS answer delay during `cold-identities`. */
  readonly stsLatencyMs: number
  /** Concurrent streams of the warm caller during `cold-identities`. */
  readonly warmCallerConcurrency: number
  /** Distinct callers of `many-identities`. */
  readonly identities: number
  /** `credentials.max_entries` of `many-identities-bounded`. */
  readonly boundedMaxEntries: number
  /** Also run this throughput scenario once more under the CPU profiler and summarize it. */
  readonly profile: string | undefined
  /** Only these scenarios (default: all). */
  readonly only: readonly string[] | undefined
}

export const USAGE = `npm run bench -- [flags]
  --duration=<s>        measured seconds per throughput scenario (default 6)
  --warmup=<s>          warm-up seconds before each (default 1.5)
  --rounds=<n>          interleaved rounds the measured seconds are split into (default 6)
  --concurrency=<n>     concurrent streams (default 32)
  --cold-callers=<n>    cold-identities callers (default 500)
  --sts-latency=<ms>    fake STS delay in cold-identities (default 300)
  --warm-concurrency=<n> streams of the warm caller in cold-identities (default 1)
  --identities=<n>      many-identities callers (default 10000)
  --bounded-max-entries=<n> credentials.max_entries of many-identities-bounded (default 2000)
  --only=<a,b>          run only these scenarios (sign-only, processor-passthrough,
                        processor-signed-1k, processor-signed-1m, passthrough, passthrough-1m,
                        signed-1k, signed-64k, signed-1m, cold-identities, many-identities)
  --profile[=<scenario>] also run signed-1k (or the named throughput scenario) under the V8 CPU
                        profiler (the --cpu-prof profiler, measured window only), save the
                        .cpuprofile under bench-results/profiles/ and print where the time goes;
                        --profile=cold-identities profiles that scenario's burst instead
Environment: BENCH_SERVER_NODE_ARGS="<flags>" adds node flags to the server processes
(e.g. --trace-gc; the output lands in bench-results/logs/<scenario>.server.log).`

/** Parses `--name=value` flags. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>()
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (match === null || arg === '--help') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(arg === '--help' ? 0 : 2)
    }
    flags.set(match[1] as string, match[2] ?? 'true')
  }
  const num = (name: string, fallback: number): number => {
    const value = flags.get(name)
    if (value === undefined) return fallback
    const parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`)
    return parsed
  }
  return {
    concurrency: num('concurrency', 32),
    durationMs: num('duration', 6) * 1000,
    warmupMs: num('warmup', 1.5) * 1000,
    rounds: Math.round(num('rounds', 6)),
    coldCallers: num('cold-callers', 500),
    stsLatencyMs: num('sts-latency', 300),
    warmCallerConcurrency: num('warm-concurrency', 1),
    identities: num('identities', 10_000),
    boundedMaxEntries: num('bounded-max-entries', 2000),
    profile: flags.has('profile') ? (flags.get('profile') === 'true' ? 'signed-1k' : flags.get('profile')) : undefined,
    only: flags.get('only')?.split(',').map((s) => s.trim()).filter((s) => s !== ''),
  }
}
