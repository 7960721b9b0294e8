/**
 * The error raised for malformed protobuf text format, with its position.
 */

import { SignerError } from '../errors.js'

/**
 * `ERR_ROUTE_METADATA_INVALID` for a text-format problem. It keeps the offset and the detail
 * apart so that callers can restate them with more context (such as the route name).
 */
export class TextFormatError extends SignerError {
  /** Offset of the problem, in UTF-16 code units from the start of the text. */
  readonly offset: number
  /** What was expected and what was found; already sanitized. */
  readonly detail: string

  constructor(offset: number, detail: string) {
    const message = `cannot parse route metadata text: ${detail} at offset ${offset}`
    super('ERR_ROUTE_METADATA_INVALID', message)
    this.offset = offset
    this.detail = detail
  }
}

/** Builds the error for a problem at `offset`; `detail` must already be sanitized. */
export function textFormatError(offset: number, detail: string): TextFormatError {
  return new TextFormatError(offset, detail)
}
