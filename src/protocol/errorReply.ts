import type { SignerErrorCode } from '../errors.js'
import {
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_INVALID_REQUEST,
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
          status === 413 ? JSON_RPC_INVALID_REQUEST : JSON_RPC_INTERNAL_ERROR,
          input.message,
          input.code,
        )
      : plainErrorBody(input.message, input.code)
  return immediateResponse(
    status,
    [
      ['content-type', 'application/json'],
      [ERROR_CODE_HEADER, input.code],
    ],
    body,
    `mcp_sigv4_${input.code.toLowerCase()}`,
  )
}
