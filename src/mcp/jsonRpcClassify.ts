import { isJsonObject, ownMember } from './jsonObject.js'
import type { JsonObject } from './jsonObject.js'
import type { JsonRpcId } from './jsonRpcId.js'
import type { JsonRpcCall, JsonRpcInvalid, JsonRpcMessage } from './jsonRpcMessage.js'

/** True for the id types JSON-RPC 2.0 allows: a string, a finite number, or null. */
export function isJsonRpcId(value: unknown): value is JsonRpcId {
  // JSON.parse('1e999') is Infinity: a JSON number need not be finite.
  return (
    typeof value === 'string' ||
    value === null ||
    (typeof value === 'number' && Number.isFinite(value))
  )
}

/**
 * Classifies one JSON-RPC element (`index` is its position in the batch, 0 when single):
 * - `request`: a string `method` and an `id` that is a string, a finite number or null;
 * - `notification`: a string `method` and no `id` member;
 * - `response`: an `id` and exactly one of `result` and `error`, and no `method`;
 * - `invalid`: anything else, including a `method` next to a `result` or `error` (ambiguous:
 *   a peer could take it for either kind).
 */
export function classifyJsonRpcMessage(value: unknown, index: number): JsonRpcMessage {
  if (!isJsonObject(value)) return invalid(index, 'the message is not an object', undefined)
  const hasId = Object.hasOwn(value, 'id')
  const id = ownMember(value, 'id')
  const usableId = hasId && isJsonRpcId(id) ? id : undefined
  const hasResult = Object.hasOwn(value, 'result')
  const hasError = Object.hasOwn(value, 'error')
  if (Object.hasOwn(value, 'method')) {
    const method = ownMember(value, 'method')
    if (typeof method !== 'string') return invalid(index, 'method is not a string', usableId)
    if (hasResult || hasError) {
      return invalid(index, 'a message with a method has a result or error', usableId)
    }
    const call = callOf(index, method, ownMember(value, 'params'))
    if (!hasId) return { kind: 'notification', ...call }
    if (usableId === undefined) {
      return invalid(index, 'id is not a string, a finite number or null', undefined)
    }
    return { kind: 'request', id: usableId, ...call }
  }
  if (!hasResult && !hasError) {
    return invalid(index, 'the message has no method, result or error', usableId)
  }
  if (hasResult && hasError) {
    return invalid(index, 'the response has both a result and an error', usableId)
  }
  if (!hasId) return invalid(index, 'the response has no id', undefined)
  if (usableId === undefined) {
    return invalid(index, 'id is not a string, a finite number or null', undefined)
  }
  if (hasResult) {
    return { kind: 'response', index, id: usableId, result: ownMember(value, 'result') }
  }
  return { kind: 'response', index, id: usableId, error: ownMember(value, 'error') }
}

function callOf(index: number, method: string, params: unknown): JsonRpcCall {
  if (!isJsonObject(params)) return { index, method, params }
  const meta = objectMember(params, '_meta')
  const call: JsonRpcCall = { index, method, params, ...(meta === undefined ? {} : { meta }) }
  if (method !== 'tools/call') return call
  const name = ownMember(params, 'name')
  const args = objectMember(params, 'arguments')
  return {
    ...call,
    ...(typeof name === 'string' ? { toolName: name } : {}),
    ...(args === undefined ? {} : { arguments: args }),
  }
}

function objectMember(object: JsonObject, key: string): JsonObject | undefined {
  const member = ownMember(object, key)
  return isJsonObject(member) ? member : undefined
}

function invalid(index: number, reason: string, id: JsonRpcId | undefined): JsonRpcInvalid {
  return id === undefined
    ? { kind: 'invalid', index, reason }
    : { kind: 'invalid', index, reason, id }
}
