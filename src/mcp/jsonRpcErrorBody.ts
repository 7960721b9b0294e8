import type { JsonRpcId } from './jsonRpcId.js'

/** Standard JSON-RPC 2.0 error codes used by this server. */
export const JSON_RPC_PARSE_ERROR = -32700
export const JSON_RPC_INVALID_REQUEST = -32600
export const JSON_RPC_INVALID_PARAMS = -32602
export const JSON_RPC_INTERNAL_ERROR = -32603
/** Server-defined codes (the -32000..-32099 range) for authentication and authorization. */
export const JSON_RPC_UNAUTHORIZED = -32001
export const JSON_RPC_FORBIDDEN = -32003

/**
 * A JSON-RPC 2.0 error response. `data.code` carries the server's stable error code
 * (`ERR_…`) so clients and operators can tell failures apart without parsing the message.
 */
export function jsonRpcErrorBody(id: JsonRpcId, code: number, message: string, errorCode: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: { code, message, data: { code: errorCode } },
  })
}

/** The JSON error body for requests that are not JSON-RPC POSTs (GET, DELETE, other types). */
export function plainErrorBody(message: string, errorCode: string): string {
  return JSON.stringify({ error: { code: errorCode, message } })
}
