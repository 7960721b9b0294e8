import { SignerError } from '../errors.js'
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from './jsonDepth.js'
import { classifyJsonRpcMessage } from './jsonRpcClassify.js'
import { findJsonRpcDuplicateKey } from './jsonRpcDuplicateKeys.js'
import { isJsonObject } from './jsonObject.js'
import type { JsonRpcId } from './jsonRpcId.js'

/** What requests and notifications share: the method and the parts of `params` a policy reads. */
export interface JsonRpcCall {
  /** Position in the batch (0 for a single message): the first step of a path into the body. */
  readonly index: number
  readonly method: string
  /** `params` as sent (undefined when absent; JSON-RPC allows an object or an array). */
  readonly params: unknown
  /** `params._meta` when `params` is an object and `_meta` is an object. */
  readonly meta?: Readonly<Record<string, unknown>>
  /** For `tools/call` only: `params.name` when it is a string. */
  readonly toolName?: string
  /** For `tools/call` only: `params.arguments` when it is an object. */
  readonly arguments?: Readonly<Record<string, unknown>>
}

/** A call that expects an answer: `method` and an `id` (string, finite number or null). */
export interface JsonRpcRequest extends JsonRpcCall {
  readonly kind: 'request'
  readonly id: JsonRpcId
}

/** A call without an `id` member: nobody answers it. */
export interface JsonRpcNotification extends JsonRpcCall {
  readonly kind: 'notification'
}

/** An answer (from the client, to a server-to-client request): `id` and `result` or `error`. */
export interface JsonRpcResponse {
  readonly kind: 'response'
  readonly index: number
  readonly id: JsonRpcId
  /** Present exactly when `error` is not. */
  readonly result?: unknown
  readonly error?: unknown
}

/** Anything else; `id` is set when the element has a usable one, for the error reply. */
export interface JsonRpcInvalid {
  readonly kind: 'invalid'
  readonly index: number
  /** Why, as a phrase (`method is not a string`); safe to show: it never quotes the body. */
  readonly reason: string
  readonly id?: JsonRpcId
}

/** One element of a JSON-RPC body, classified. */
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse | JsonRpcInvalid

/** A parsed JSON-RPC body: one message, or a batch of them in order. */
export interface ParsedJsonRpc {
  readonly batch: boolean
  readonly messages: readonly JsonRpcMessage[]
  /** The whole parsed document. */
  readonly value: unknown
}

/** Options of {@link parseJsonRpc}. */
export interface ParseJsonRpcOptions {
  /** Deepest nesting of arrays and objects accepted; default {@link DEFAULT_MAX_JSON_DEPTH}. */
  readonly maxDepth?: number
}

// fatal: invalid UTF-8 is an error, not U+FFFD. ignoreBOM: a BOM stays in the text, where
// JSON.parse rejects it, so the text the policy read and the bytes forwarded agree.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Parses an MCP request body (JSON-RPC 2.0): a single message or a non-empty batch, each
 * element classified as a request, notification, response or invalid message.
 *
 * `JSON.parse` keeps the LAST of duplicate keys while other parsers keep the first, so a body
 * such as `{"method":"tools/list","method":"tools/call"}` could be judged as one call here and
 * run as another upstream (request smuggling). Duplicate keys in the objects the policy reads
 * (each message, its `params`, `params._meta` and `params.arguments`) are therefore rejected.
 *
 * @throws SignerError `ERR_JSON_RPC_PARSE` for invalid UTF-8 (or a BOM), text that is not JSON,
 *   nesting deeper than `maxDepth` (checked without recursion before `JSON.parse` runs), an
 *   empty batch, a top-level scalar, or a duplicate key on the policy's path.
 */
export function parseJsonRpc(
  body: Uint8Array | string,
  options: ParseJsonRpcOptions = {},
): ParsedJsonRpc {
  const text = typeof body === 'string' ? body : decodeUtf8(body)
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH
  if (exceedsJsonDepth(text, maxDepth)) fail(`the JSON nests deeper than ${maxDepth} levels`)
  const value = parseJson(text)
  if (Array.isArray(value) && value.length === 0) fail('the batch is empty')
  if (!Array.isArray(value) && !isJsonObject(value)) fail('the JSON is not an object or an array')
  const duplicate = findJsonRpcDuplicateKey(text)
  if (duplicate !== undefined) fail(`duplicate key in ${duplicate}`)
  if (!Array.isArray(value)) {
    return { batch: false, messages: [classifyJsonRpcMessage(value, 0)], value }
  }
  const messages = value.map((element: unknown, index) => classifyJsonRpcMessage(element, index))
  return { batch: true, messages, value }
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return UTF8.decode(body)
  } catch {
    return fail('the body is not valid UTF-8')
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // SyntaxError, or RangeError on input nested too deeply for the engine. Its message quotes
    // the body, so it is not passed on.
    return fail('the body is not valid JSON')
  }
}

function fail(detail: string): never {
  throw new SignerError(
    'ERR_JSON_RPC_PARSE',
    `cannot parse the request body as JSON-RPC: ${detail}`,
  )
}
