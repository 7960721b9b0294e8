/**
 * `.dockerignore` matching, enough for the packaging tests: `#` comments, `!` exceptions (the
 * last matching line wins), `*` and `?` within one path segment, `**` across segments, and a
 * match on a directory excluding everything below it.
 */

/** Whether `path` (relative to the context, `/`-separated) is left out of the build context. */
export function dockerignored(ignoreFile: string, path: string): boolean {
  const rules = ignoreFile
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exception = line.startsWith('!')
      const pattern = (exception ? line.slice(1) : line).replace(/^\/+|\/+$/g, '')
      return { exception, regex: patternRegex(pattern) }
    })
  const segments = path.split('/').filter((segment) => segment !== '')
  const prefixes = segments.map((_, index) => segments.slice(0, index + 1).join('/'))
  let ignored = false
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.exception
  }
  return ignored
}

function patternRegex(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?'
      i += 2
    } else if (pattern.startsWith('**', i)) {
      source += '.*'
      i += 1
    } else if (char === '*') source += '[^/]*'
    else if (char === '?') source += '[^/]'
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}
