import type { SignerErrorCode } from '../errors.js'
import {
  JSON_RPC_FORBIDDEN,
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_INVALID_REQUEST,
  JSON_RPC_UNAUTHORIZED,
  jsonRpcErrorBody,
  plainErrorBody,
  type JsonRpcId,
} from '../mcp/index.js'
import { immediateResponse } from './responses.js'
import type { ProcessingResponseMessage } from './messages.js'

/** HTTP status and JSON-RPC code for each error a request can end with. */
const HTTP_STATUS: Record<SignerErrorCode, number> = {
  ERR_PROTOCOL_VIOLATION: 500,
  ERR_ROUTE_METADATA_INVALID: 500,
  ERR_ROUTE_TARGET_INCOMPLETE: 500,
  ERR_PATH_REWRITE_MISMATCH: 500,
  ERR_IDENTITY_UNKNOWN: 500,
  ERR_BODY_MODE_UNSUPPORTED: 500,
  ERR_BODY_TOO_LARGE: 413,
  ERR_CREDENTIALS_UNAVAILABLE: 502,
  ERR_STS_FAILED: 502,
  ERR_SIGNING_FAILED: 500,
  ERR_CONFIG_INVALID: 500,
  ERR_TOKEN_MISSING: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_REJECTED: 401,
  ERR_ROLE_NOT_MAPPED: 403,
  ERR_STS_DENIED: 403,
}

/** JSON-RPC error codes by HTTP status: the -32000..-32099 range is for servers. */
const JSON_RPC_CODE: Record<number, number> = {
  401: JSON_RPC_UNAUTHORIZED,
  403: JSON_RPC_FORBIDDEN,
  413: JSON_RPC_INVALID_REQUEST,
}

/** Header naming the error code on every local reply, for operators and scripts. */
export const ERROR_CODE_HEADER = 'x-mcp-sigv4-error'

export function httpStatusOf(code: SignerErrorCode): number {
  return HTTP_STATUS[code]
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
          JSON_RPC_CODE[status] ?? JSON_RPC_INTERNAL_ERROR,
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
