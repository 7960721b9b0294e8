import type { ParsedJsonRpc } from './jsonRpcMessage.js'

/** MCP methods counted under their own name; everything else falls into a few buckets. */
const KNOWN_METHODS = new Set([
  'initialize',
  'ping',
  'tools/call',
  'tools/list',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
])

/**
 * A bounded label for a JSON-RPC method: known MCP methods by name, `notifications` for any
 * `notifications/…`, `other` for the rest — never the raw (client-chosen) method text.
 */
export function methodClass(method: string): string {
  if (KNOWN_METHODS.has(method)) return method
  return method.startsWith('notifications/') ? 'notifications' : 'other'
}

/** Method class and tool name of a parsed body, for metrics and logs. */
export function summarizeJsonRpc(parsed: ParsedJsonRpc): { methodClass: string; tool: string | undefined } {
  if (parsed.batch) return { methodClass: 'batch', tool: undefined }
  const message = parsed.messages[0]
  if (message === undefined || message.kind === 'invalid') return { methodClass: 'invalid', tool: undefined }
  if (message.kind === 'response') return { methodClass: 'response', tool: undefined }
  return { methodClass: methodClass(message.method), tool: message.toolName }
}
