import { methodClass } from '../mcp/index.js'
import type { HeaderMapMessage } from './messages.js'
import type { McpSummary } from './mcpRequest.js'

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

/**
 * The method class before (or without) reading the body: GET is the SSE stream, DELETE ends a
 * session; a POST is classed by the `Mcp-Method` header (MCP 2026-07-28) when present.
 */
export function summaryFromHeaders(headers: RequestHeaders): McpSummary {
  const method = headers.method
  if (method === 'GET') return { methodClass: 'get', tool: undefined }
  if (method === 'DELETE') return { methodClass: 'delete', tool: undefined }
  if (method !== 'POST') return { methodClass: 'other_http', tool: undefined }
  const mcpMethod = headers.get('mcp-method')
  if (mcpMethod === undefined) return { methodClass: 'unparsed', tool: undefined }
  const tool = mcpMethod === 'tools/call' ? headers.get('mcp-name') : undefined
  return { methodClass: methodClass(mcpMethod), tool }
}
