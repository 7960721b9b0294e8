import { SignerError, isSignerError, type SignerErrorCode } from '../errors.js'
import { httpStatusOf } from './errorReply.js'

/** The body exceeds `server.max_body_bytes`. */
export function bodyTooLarge(limit: number): SignerError {
  return new SignerError(
    'ERR_BODY_TOO_LARGE',
    `cannot sign the request: the body exceeds max_body_bytes (${limit} bytes)`,
  )
}

/** 4xx errors are the caller's doing (rejected); 5xx ones are ours or AWS's (error). */
export function clientCaused(code: SignerErrorCode): boolean {
  return httpStatusOf(code) < 500
}

/**
 * `err` itself when it is a `SignerError`, else a `SignerError` of `code` whose message names
 * only the error's class (the cause keeps the rest, never shown to clients).
 */
export function asSignerError(err: unknown, code: SignerErrorCode, context: string): SignerError {
  if (isSignerError(err)) return err
  return new SignerError(code, `${context}: unexpected ${err instanceof Error ? err.name : 'failure'}`, {
    cause: err,
  })
}
