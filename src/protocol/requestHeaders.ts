import type { HeaderMapMessage } from './messages.js'

/**
 * The request headers Envoy sent, in order. Envoy (1.32+) puts each value in `raw_value` and
 * never in `value`; older Envoys and other clients may use `value`, which we fall back to.
 * One entry per value: repeated headers are not joined.
 */
export class RequestHeaders {
  private readonly entries: ReadonlyArray<readonly [string, string]>

  constructor(map: HeaderMapMessage | undefined) {
    this.entries = (map?.headers ?? []).map((h) => [
      (h.key ?? '').toLowerCase(),
      h.raw_value !== undefined && h.raw_value.length > 0 ? h.raw_value.toString('utf8') : (h.value ?? ''),
    ])
  }

  /** The first value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    for (const [key, value] of this.entries) if (key === name) return value
    return undefined
  }

  private allNames: readonly string[] | undefined

  /**
   * Every header name, lower-case, in order; a repeated header appears once per value (callers
   * that need distinct names deduplicate). Computed once.
   */
  names(): readonly string[] {
    this.allNames ??= this.entries.map(([key]) => key)
    return this.allNames
  }

  get method(): string {
    return this.get(':method') ?? ''
  }

  get path(): string {
    return this.get(':path') ?? ''
  }
}
