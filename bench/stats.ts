/** Latency summaries for the benchmark (milliseconds). */

/** Percentiles and counts of one set of latencies. */
export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/** The `q` quantile (0..1) of sorted values, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

/** Summarizes latencies given in milliseconds. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort()
  const list = Array.from(sorted)
  const sum = list.reduce((a, b) => a + b, 0)
  return {
    count: list.length,
    p50: quantile(list, 0.5),
    p90: quantile(list, 0.9),
    p99: quantile(list, 0.99),
    max: list.length === 0 ? Number.NaN : (list[list.length - 1] as number),
    mean: list.length === 0 ? Number.NaN : sum / list.length,
  }
}

/** Rounds for display. */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
