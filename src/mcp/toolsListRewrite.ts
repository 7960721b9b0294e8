import { SignerError } from '../errors.js'
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from './jsonDepth.js'
import { isJsonObject, ownMember } from './jsonObject.js'
import type { JsonObject } from './jsonObject.js'
import { isJsonRpcId } from './jsonRpcClassify.js'
import type { JsonRpcId } from './jsonRpcId.js'

/** A string argument to add to every tool's input schema, limited to `values`. */
export interface ToolArgument {
  readonly name: string
  readonly values: readonly string[]
  readonly description: string
}

/** What {@link rewriteToolsList} changes. */
export interface ToolsListRewriteOptions {
  /** Keeps a tool (by name) in the list; absent: every tool stays. */
  readonly keepTool?: (name: string) => boolean
  /** The argument to add to each remaining tool with an object input schema. */
  readonly addArgument?: ToolArgument
}

/** The outcome of {@link rewriteToolsList}. */
export interface ToolsListRewrite {
  /** A deep copy of the result, rewritten (a copy even when nothing changed). */
  readonly result: unknown
  /** Names of the tools `keepTool` rejected, in list order. */
  readonly removedTools: string[]
  /** Names of tools that already declare a property named like the added argument. */
  readonly argumentConflicts: string[]
  readonly changed: boolean
}

/**
 * Rewrites a `tools/list` result on a deep copy (the input is never changed): drops the tools
 * `keepTool` rejects from `result.tools` — and, when `keepTool` is set, entries without a string
 * `name`, which it cannot judge — and, with `addArgument`, adds
 * `inputSchema.properties[name] = { type: 'string', enum: [...values], description }` to each
 * remaining tool whose `inputSchema` is an object with `type: 'object'` (creating `properties`
 * when absent; not touching `required`). A tool that already declares that property keeps its
 * schema and is listed in `argumentConflicts`. Odd shapes (no `tools` array, tools without
 * `inputSchema`, non-object entries, non-object `properties`) are left as they are.
 * `result` must be a JSON value (as `JSON.parse` returns) of bounded depth.
 */
export function rewriteToolsList(
  result: unknown,
  options: ToolsListRewriteOptions,
): ToolsListRewrite {
  const copy = structuredClone(result)
  const removedTools: string[] = []
  const argumentConflicts: string[] = []
  const tools = isJsonObject(copy) ? ownMember(copy, 'tools') : undefined
  if (!Array.isArray(tools)) {
    return { result: copy, removedTools, argumentConflicts, changed: false }
  }
  const kept =
    options.keepTool === undefined ? tools : keepTools(tools, options.keepTool, removedTools)
  let changed = kept.length !== tools.length
  if (changed) (copy as JsonObject).tools = kept
  if (options.addArgument !== undefined) {
    for (const tool of kept) {
      const outcome = addArgument(tool, options.addArgument)
      if (outcome === 'added') changed = true
      if (outcome === 'conflict') argumentConflicts.push(toolName(tool) ?? '')
    }
  }
  return { result: copy, removedTools, argumentConflicts, changed }
}

function keepTools(
  tools: unknown[],
  keepTool: (name: string) => boolean,
  removed: string[],
): unknown[] {
  return tools.filter((tool) => {
    const name = toolName(tool)
    if (name === undefined) return false
    if (keepTool(name)) return true
    removed.push(name)
    return false
  })
}

function toolName(tool: unknown): string | undefined {
  const name = isJsonObject(tool) ? ownMember(tool, 'name') : undefined
  return typeof name === 'string' ? name : undefined
}

function addArgument(tool: unknown, argument: ToolArgument): 'added' | 'conflict' | 'skipped' {
  const schema = isJsonObject(tool) ? ownMember(tool, 'inputSchema') : undefined
  if (!isJsonObject(schema) || ownMember(schema, 'type') !== 'object') return 'skipped'
  if (!Object.hasOwn(schema, 'properties')) schema.properties = {}
  const properties = ownMember(schema, 'properties')
  if (!isJsonObject(properties)) return 'skipped'
  if (Object.hasOwn(properties, argument.name)) return 'conflict'
  const property = { type: 'string', enum: [...argument.values], description: argument.description }
  // defineProperty, not assignment: an argument named `__proto__` must become a property.
  Object.defineProperty(properties, argument.name, {
    value: property,
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return 'added'
}

/** The outcome of {@link rewriteJsonRpcResponses}. */
export interface JsonRpcResponsesRewrite {
  /** The body to send: re-serialized when something changed, else the original text. */
  readonly text: string
  readonly changed: boolean
  readonly removedTools: string[]
  readonly argumentConflicts: string[]
}

/**
 * Rewrites the `result` of each JSON-RPC response in `body` (one response or a batch) whose `id`
 * is in `ids` (and that has a `result` and no `method`), with `rewrite(result, id)`. Returns the
 * original text when no rewrite changed anything, else the document re-serialized with
 * `JSON.stringify` (which also drops duplicate keys). Elements that are not such responses are
 * kept as they are.
 *
 * @throws SignerError `ERR_JSON_RPC_PARSE` when `body` is not JSON or nests deeper than
 *   `maxDepth` (default {@link DEFAULT_MAX_JSON_DEPTH}), so the caller decides whether an
 *   unfiltered response may pass.
 */
export function rewriteJsonRpcResponses(
  body: string,
  ids: ReadonlySet<JsonRpcId>,
  rewrite: (result: unknown, id: JsonRpcId) => ToolsListRewrite,
  options: { readonly maxDepth?: number } = {},
): JsonRpcResponsesRewrite {
  const document = parseResponseBody(body, options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH)
  const removedTools: string[] = []
  const argumentConflicts: string[] = []
  let changed = false
  for (const element of Array.isArray(document) ? document : [document]) {
    if (
      !isJsonObject(element) ||
      !Object.hasOwn(element, 'result') ||
      Object.hasOwn(element, 'method')
    ) {
      continue
    }
    const id = ownMember(element, 'id')
    if (!isJsonRpcId(id) || !ids.has(id)) continue
    const outcome = rewrite(element.result, id)
    removedTools.push(...outcome.removedTools)
    argumentConflicts.push(...outcome.argumentConflicts)
    if (!outcome.changed) continue
    element.result = outcome.result
    changed = true
  }
  const text = changed ? JSON.stringify(document) : body
  return { text, changed, removedTools, argumentConflicts }
}

function parseResponseBody(body: string, maxDepth: number): unknown {
  const fail = (detail: string) =>
    new SignerError('ERR_JSON_RPC_PARSE', `cannot parse the response body as JSON-RPC: ${detail}`)
  if (exceedsJsonDepth(body, maxDepth)) throw fail(`the JSON nests deeper than ${maxDepth} levels`)
  try {
    return JSON.parse(body)
  } catch {
    throw fail('the body is not valid JSON')
  }
}
