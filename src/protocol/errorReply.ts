import type { SignerErrorCode } from '../errors.js'
import {
  JSON_RPC_FORBIDDEN,
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_INVALID_PARAMS,
  JSON_RPC_INVALID_REQUEST,
  JSON_RPC_PARSE_ERROR,
  JSON_RPC_UNAUTHORIZED,
  jsonRpcErrorBody,
  plainErrorBody,
  type JsonRpcId,
} from '../mcp/index.js'
import { immediateResponse } from './responses.js'
import type { ProcessingResponseMessage } from './messages.js'

/**
 * HTTP status and JSON-RPC code for each error a request can end with. Policy outcomes are
 * HTTP 200 with a JSON-RPC error, so MCP clients hand them to the model as ordinary errors.
 */
const REPLY: Record<SignerErrorCode, { readonly http: number; readonly jsonRpc: number }> = {
  ERR_PROTOCOL_VIOLATION: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_ROUTE_METADATA_INVALID: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_ROUTE_TARGET_INCOMPLETE: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_PATH_REWRITE_MISMATCH: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_IDENTITY_UNKNOWN: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_BODY_MODE_UNSUPPORTED: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_BODY_TOO_LARGE: { http: 413, jsonRpc: JSON_RPC_INVALID_REQUEST },
  ERR_CREDENTIALS_UNAVAILABLE: { http: 502, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_STS_FAILED: { http: 502, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_SIGNING_FAILED: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_CONFIG_INVALID: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
  ERR_TOKEN_MISSING: { http: 401, jsonRpc: JSON_RPC_UNAUTHORIZED },
  ERR_TOKEN_INVALID: { http: 401, jsonRpc: JSON_RPC_UNAUTHORIZED },
  ERR_TOKEN_REJECTED: { http: 401, jsonRpc: JSON_RPC_UNAUTHORIZED },
  ERR_ROLE_NOT_MAPPED: { http: 403, jsonRpc: JSON_RPC_FORBIDDEN },
  ERR_STS_DENIED: { http: 403, jsonRpc: JSON_RPC_FORBIDDEN },
  ERR_JSON_RPC_PARSE: { http: 400, jsonRpc: JSON_RPC_PARSE_ERROR },
  ERR_POLICY_DENIED: { http: 200, jsonRpc: JSON_RPC_FORBIDDEN },
  ERR_AGENT_MISSING: { http: 200, jsonRpc: JSON_RPC_FORBIDDEN },
  ERR_IDENTITY_NOT_ALLOWED: { http: 200, jsonRpc: JSON_RPC_INVALID_PARAMS },
  ERR_MIXED_IDENTITIES: { http: 200, jsonRpc: JSON_RPC_INVALID_REQUEST },
  ERR_POLICY_UNKNOWN: { http: 500, jsonRpc: JSON_RPC_INTERNAL_ERROR },
}

/** Header naming the error code on every local reply, for operators and scripts. */
export const ERROR_CODE_HEADER = 'x-mcp-sigv4-error'

export function httpStatusOf(code: SignerErrorCode): number {
  return REPLY[code].http
}

/** The JSON-RPC error code a reply with this error carries. */
export function jsonRpcCodeOf(code: SignerErrorCode): number {
  return REPLY[code].jsonRpc
}

export interface ErrorReplyInput {
  readonly code: SignerErrorCode
  readonly message: string
  /** Present for JSON-RPC POSTs: the request's id (or null when it has none or is unreadable). */
  readonly jsonRpcId?: JsonRpcId
}

/** The ImmediateResponse for a request that cannot be signed. */
export function errorReply(input: ErrorReplyInput): ProcessingResponseMessage {
  const status = httpStatusOf(input.code)
  const body =
    input.jsonRpcId !== undefined
      ? jsonRpcErrorBody(
          input.jsonRpcId,
          jsonRpcCodeOf(input.code),
          input.message,
          input.code,
        )
      : plainErrorBody(input.message, input.code)
  const headers: Array<[string, string]> = [
    ['content-type', 'application/json'],
    [ERROR_CODE_HEADER, input.code],
  ]
  // RFC 6750: a missing token gets the bare challenge, a bad one names invalid_token.
  if (input.code === 'ERR_TOKEN_MISSING') headers.push(['www-authenticate', 'Bearer'])
  if (input.code === 'ERR_TOKEN_INVALID' || input.code === 'ERR_TOKEN_REJECTED') {
    headers.push(['www-authenticate', 'Bearer error="invalid_token"'])
  }
  return immediateResponse(
    status,
    headers,
    body,
    `mcp_sigv4_${input.code.toLowerCase()}`,
  )
}
