/**
 * Envoy's `BodyMutation` semantics (fact sheet §6; `MutationUtils::applyBodyMutations` and
 * `ProcessorState::validateContentLength`), shared by request and response bodies.
 */
import { getHeader } from './headerMap.js'
import type { BodyMutationMsg, HeaderEntry } from './types.js'

const EMPTY = Buffer.alloc(0)

/** `body` replaces, `clear_body: true` empties, anything else keeps `current`. */
export function mutatedBody(mutation: BodyMutationMsg, current: Buffer): Buffer {
  if (mutation.mutation === 'body') return mutation.body ?? EMPTY
  if (mutation.mutation === 'clear_body' && mutation.clear_body === true) return EMPTY
  return current
}

/**
 * `validateContentLength`: true when the held headers carry a `content-length` that differs
 * from `body_mutation.body` (its size, also for `clear_body`, which has no body). A value that
 * is not a number is not checked (`SimpleAtoi` fails → OK).
 */
export function contentLengthMismatch(headers: HeaderEntry[], mutation: BodyMutationMsg):
  boolean {
  const length = getHeader(headers, 'content-length')
  if (length === undefined || !/^\d+$/.test(length)) return false
  return Number(length) !== (mutation.body?.length ?? 0)
}

/** The local-reply details of a failed `validateContentLength`. */
export const CONTENT_LENGTH_MISMATCH =
  'mismatch between content length and the length of the mutated body'
