/** Decoded query parameters (the shape `canonicalQuery` and `@smithy/signature-v4` read). */
export type QueryParameters = Record<string, string | string[]>

const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g
const ESCAPE_LENGTH = 3
const MAX_UTF8_BYTES = 4

/**
 * Decodes a run of `%XX` escapes that is not valid UTF-8 as a whole: each valid UTF-8 sequence
 * (1 to 4 escapes) is decoded, each byte that starts none stays as its raw `%XX` text.
 */
function decodeInvalidRun(run: string): string {
  let out = ''
  let at = 0
  while (at < run.length) {
    let taken = 0
    for (let bytes = MAX_UTF8_BYTES; bytes >= 1 && taken === 0; bytes--) {
      const slice = run.slice(at, at + bytes * ESCAPE_LENGTH)
      if (slice.length !== bytes * ESCAPE_LENGTH) continue
      try {
        out += decodeURIComponent(slice)
        taken = slice.length
      } catch {
        // not a complete UTF-8 sequence of this length; try a shorter one
      }
    }
    if (taken === 0) {
      out += run.slice(at, at + ESCAPE_LENGTH)
      taken = ESCAPE_LENGTH
    }
    at += taken
  }
  return out
}

/**
 * Percent-decodes one key or value leniently.
 *
 * '+' means space in a query, as botocore and aws4 read it. Escapes are decoded as UTF-8; an
 * escape that is not part of valid UTF-8, and a '%' not followed by two hex digits, stay as
 * raw text. The signer then encodes that text again, so a malformed escape is signed as the
 * literal characters the client sent.
 */
function decodeComponent(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ')
  return spaced.replace(ESCAPE_RUN, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return decodeInvalidRun(run)
    }
  })
}

/**
 * Parses a raw query string (without '?') into decoded parameters.
 *
 * - Pairs are split on '&'; empty pairs (`a=1&&b=2`, a trailing '&') are skipped, as
 *   URLSearchParams and Python's `parse_qsl` do.
 * - The first '=' splits key from value; a pair without '=' has the value ''.
 * - Keys and values are decoded by the lenient rules of {@link decodeComponent}.
 * - A repeated key becomes an array of its values in order of appearance.
 *
 * @example
 * parseQuery('a=1&b=x+y&a=2&flag') // { a: ['1', '2'], b: 'x y', flag: '' }
 */
export function parseQuery(raw: string): QueryParameters {
  const values = new Map<string, string[]>()
  for (const pair of raw.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decodeComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1))
    const list = values.get(key)
    if (list) list.push(value)
    else values.set(key, [value])
  }
  // Object.fromEntries defines own properties, so a key such as '__proto__' stays a plain key.
  return Object.fromEntries(
    [...values].map(([key, list]) => [key, list.length === 1 ? (list[0] as string) : list]),
  )
}
