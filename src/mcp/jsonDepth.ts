/** The nesting limit of JSON bodies the server reads: deeper documents are rejected. */
export const DEFAULT_MAX_JSON_DEPTH = 128

/**
 * True when `text` nests arrays and objects deeper than `maxDepth` (`[]` has depth 1, a scalar
 * depth 0). Counts brackets outside strings in one loop without recursion, so even a
 * 1,000,000-deep `[[[[…` is checked in linear time and constant stack; the text need not be
 * valid JSON.
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (inString) {
      // A backslash escapes the next character, a quote included.
      if (code === 0x5c) i++
      else if (code === 0x22) inString = false
    } else if (code === 0x22) {
      inString = true
    } else if (code === 0x7b || code === 0x5b) {
      if (++depth > maxDepth) return true
    } else if (code === 0x7d || code === 0x5d) {
      depth--
    }
  }
  return false
}
