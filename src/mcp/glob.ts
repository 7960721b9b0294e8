/** A compiled glob: true when a name matches. */
export type GlobMatcher = (name: string) => boolean

/**
 * Compiles a name pattern in which `*` matches any run of characters (including none) and
 * every other character is literal (case-sensitive; `.`, `?`, `(`, `+`, `\` and the like have
 * no special meaning). Matching uses no regular expression: the literal pieces between the
 * stars are found left to right with `indexOf`, so a pattern like `a*a*a*b` cannot backtrack
 * catastrophically.
 */
export function compileGlob(pattern: string): GlobMatcher {
  const pieces = pattern.split('*')
  if (pieces.length === 1) return (name) => name === pattern
  const head = pieces[0] as string
  const tail = pieces[pieces.length - 1] as string
  const middle = pieces.slice(1, -1).filter((piece) => piece !== '')
  return (name) => {
    if (name.length < head.length + tail.length) return false
    if (!name.startsWith(head) || !name.endsWith(tail)) return false
    const end = name.length - tail.length
    let from = head.length
    for (const piece of middle) {
      // The leftmost match leaves the most room for the pieces after it.
      const at = name.indexOf(piece, from)
      if (at < 0 || at + piece.length > end) return false
      from = at + piece.length
    }
    return true
  }
}

/** One matcher for a list of patterns: true when any matches (never, for an empty list). */
export function anyGlob(patterns: readonly string[]): GlobMatcher {
  const matchers = patterns.map(compileGlob)
  return (name) => matchers.some((matches) => matches(name))
}
