/**
 * Processing modes: the emulator's defaults, what it can emulate, and Envoy's `mode_override`
 * merge rule (fact sheet §4, PR #38254, Envoy ≥ 1.34).
 */
import type {
  BodySendMode, HeaderSendMode, ProcessingMode, ProcessingResponseMsg,
} from './types.js'

/** The signing server's intended mode: request headers SEND + BUFFERED body, nothing else. */
export const DEFAULT_PROCESSING_MODE: Readonly<ProcessingMode> = Object.freeze({
  request_header_mode: 'SEND',
  response_header_mode: 'SKIP',
  request_body_mode: 'BUFFERED',
  response_body_mode: 'NONE',
  request_trailer_mode: 'SKIP',
  response_trailer_mode: 'SKIP',
})

/** Resolves `DEFAULT` header modes to Envoy's proto defaults (headers SEND, trailers SKIP). */
export function resolveMode(partial: Partial<ProcessingMode> | undefined): ProcessingMode {
  const mode = { ...DEFAULT_PROCESSING_MODE, ...partial }
  const header = (m: HeaderSendMode): HeaderSendMode => (m === 'DEFAULT' ? 'SEND' : m)
  const trailer = (m: HeaderSendMode): HeaderSendMode => (m === 'DEFAULT' ? 'SKIP' : m)
  return {
    ...mode,
    request_header_mode: header(mode.request_header_mode),
    response_header_mode: header(mode.response_header_mode),
    request_trailer_mode: trailer(mode.request_trailer_mode),
    response_trailer_mode: trailer(mode.response_trailer_mode),
  }
}

/** The part of a mode's request direction the emulator cannot emulate, or `undefined`. */
export function unsupportedRequestMode(mode: ProcessingMode): string | undefined {
  if (mode.request_body_mode !== 'NONE' && mode.request_body_mode !== 'BUFFERED') {
    return `request_body_mode_${mode.request_body_mode}`
  }
  return undefined
}

/** The part of a mode's response direction the emulator cannot emulate, or `undefined`. */
export function unsupportedResponseMode(mode: ProcessingMode): string | undefined {
  const body = mode.response_body_mode
  if (body !== 'NONE' && body !== 'BUFFERED' && body !== 'STREAMED') {
    return `response_body_mode_${body}`
  }
  if (mode.response_trailer_mode === 'SEND') return 'response_trailer_mode_SEND'
  return undefined
}

/** The part of a mode the emulator cannot emulate, or `undefined`. */
export function unsupportedMode(mode: ProcessingMode): string | undefined {
  return unsupportedRequestMode(mode) ?? unsupportedResponseMode(mode)
}

/**
 * `ProcessorState::shouldRemoveContentLength()`: STREAMED, BUFFERED_PARTIAL, and BUFFERED with
 * header SKIP. Envoy evaluates it in `decodeHeaders` / `encodeHeaders`, right after sending the
 * headers message, so with the mode in force *before* that message's reply (fact sheet §6).
 */
export function removesContentLength(body: BodySendMode, header: HeaderSendMode): boolean {
  return body === 'STREAMED' || body === 'BUFFERED_PARTIAL' ||
    (body === 'BUFFERED' && header === 'SKIP')
}

/**
 * Envoy's effective override: start from the filter-level mode, keep header/trailer modes the
 * override leaves at `DEFAULT`, copy both body modes as given (absent = `NONE`).
 */
export function effectiveMode(base: ProcessingMode,
  override: NonNullable<ProcessingResponseMsg['mode_override']>): ProcessingMode {
  const pick = (given: string | undefined, current: HeaderSendMode): HeaderSendMode =>
    given === undefined || given === 'DEFAULT' ? current : given as HeaderSendMode
  return {
    request_header_mode: pick(override.request_header_mode, base.request_header_mode),
    response_header_mode: pick(override.response_header_mode, base.response_header_mode),
    request_trailer_mode: pick(override.request_trailer_mode, base.request_trailer_mode),
    response_trailer_mode: pick(override.response_trailer_mode, base.response_trailer_mode),
    request_body_mode: (override.request_body_mode ?? 'NONE') as BodySendMode,
    response_body_mode: (override.response_body_mode ?? 'NONE') as BodySendMode,
  }
}
