import type {
  BodySendMode,
  HeaderMutationMessage,
  ProcessingResponseMessage,
} from './messages.js'

/** A header mutation in plain form: headers to set (overwriting) and names to remove. */
export interface HeaderChanges {
  readonly set: ReadonlyArray<readonly [string, string]>
  readonly remove: readonly string[]
}

/**
 * Encodes header changes the way Envoy reads them: values only in `raw_value` (Envoy ignores
 * `value` and rejects both), no `append` so the value overwrites (ext_proc's default), and
 * `append_action: OVERWRITE_IF_EXISTS_OR_ADD` for Envoys that honour it (mainline ignores it).
 */
export function headerMutation(changes: HeaderChanges): HeaderMutationMessage {
  return {
    set_headers: changes.set.map(([key, value]) => ({
      header: { key, raw_value: Buffer.from(value, 'utf8') },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    })),
    remove_headers: [...changes.remove],
  }
}

export type Phase =
  | 'request_headers'
  | 'request_body'
  | 'request_trailers'
  | 'response_headers'
  | 'response_body'
  | 'response_trailers'

/**
 * CONTINUE for the given phase, optionally with header changes and (body phases) a replacement
 * body; an empty replacement clears the body.
 */
export function continueResponse(
  phase: Phase,
  changes?: HeaderChanges,
  body?: Uint8Array,
): ProcessingResponseMessage {
  const mutation = changes !== undefined ? headerMutation(changes) : undefined
  switch (phase) {
    case 'request_trailers':
    case 'response_trailers':
      return { [phase]: mutation !== undefined ? { header_mutation: mutation } : {} }
    default:
      return {
        [phase]: {
          response: {
            status: 'CONTINUE',
            ...(mutation !== undefined ? { header_mutation: mutation } : {}),
            ...(body !== undefined ? { body_mutation: bodyMutation(body) } : {}),
          },
        },
      }
  }
}

function bodyMutation(body: Uint8Array): { body: Buffer } | { clear_body: true } {
  return body.length === 0 ? { clear_body: true } : { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) }
}

/** A headers CONTINUE that also asks Envoy to switch body modes (`allow_mode_override`). */
export function continueWithBodyMode(
  requestBodyMode: BodySendMode,
  responseBodyMode: BodySendMode,
  phase: 'request_headers' | 'response_headers' = 'request_headers',
): ProcessingResponseMessage {
  return {
    [phase]: { response: { status: 'CONTINUE' } },
    // Header and trailer modes left at DEFAULT mean "unchanged"; both body modes are copied as
    // given (Envoy 1.34+), so the current response body mode is repeated.
    mode_override: { request_body_mode: requestBodyMode, response_body_mode: responseBodyMode },
  }
}

/**
 * A message carrying only `override_message_timeout`: Envoy restarts the pending message's
 * timer once with this value (when ≤ its `max_message_timeout`) and ignores other fields.
 */
export function extendMessageTimeout(ms: number): ProcessingResponseMessage {
  return {
    override_message_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
  }
}

/** A local reply: Envoy answers the client with it and does not forward the request. */
export function immediateResponse(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string,
  details: string,
): ProcessingResponseMessage {
  return {
    immediate_response: {
      status: { code: status },
      headers: headerMutation({ set: headers, remove: [] }),
      body: Buffer.from(body, 'utf8'),
      // Envoy replaces whitespace in details with '_' anyway; keep it token-like.
      details: details.replace(/\s+/g, '_'),
    },
  }
}
