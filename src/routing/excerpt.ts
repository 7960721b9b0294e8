/**
 * Short, log-safe excerpts of untrusted text for error messages.
 *
 * Route metadata and request paths come from configuration and clients; error messages must
 * never echo them in full, nor carry control characters into logs.
 */

/** Longest excerpt, in characters, that error messages ever contain by default. */
export const DEFAULT_EXCERPT_LENGTH = 32

/**
 * Returns `text` cut to `max` characters (with `...` when cut) and every character outside
 * printable ASCII, plus `"` and `\`, replaced by `?`.
 */
export function excerpt(text: string, max: number = DEFAULT_EXCERPT_LENGTH): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text
  return cut.replace(/[^\x20-\x7e]|["\\]/g, '?')
}
