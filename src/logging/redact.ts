/**
 * Redaction of secret-named members in log lines, whatever the level: anything that could carry
 * a credential or a caller's token if a log call passed it by mistake.
 *
 * The paths, as pino redaction paths: each name below at the top level (`token`) and one level
 * down (`*.token`), and `*.headers.authorization`. Implemented here rather than with pino's
 * `redact` option because that one (`@pinojs/redact`) re-parses every path and clones on every
 * line, which made it one of the largest costs of a signed request (see README, Performance).
 */

/** What a redacted value is replaced with. */
export const CENSOR = '[redacted]'

/** Member names that are always redacted. */
export const SECRET_NAMES: ReadonlySet<string> = new Set([
  'authorization',
  'secretAccessKey',
  'sessionToken',
  'accessKeyId',
  'token',
  'x-amz-security-token',
  'body',
])

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  return !Array.isArray(value) && !Buffer.isBuffer(value)
}

/** `level` 0: the line itself; 1: an object member of it. */
function redactLevel(object: Record<string, unknown>, level: 0 | 1): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined
  for (const key of Object.keys(object)) {
    const value = object[key]
    let replacement = value
    if (SECRET_NAMES.has(key)) replacement = CENSOR
    else if (level === 0 && isRecord(value)) replacement = redactLevel(value, 1)
    else if (level === 1 && key === 'headers' && isRecord(value) && 'authorization' in value) {
      replacement = { ...value, authorization: CENSOR }
    }
    if (replacement !== value) {
      copy ??= { ...object }
      copy[key] = replacement
    }
  }
  return copy ?? object
}

/**
 * Returns `line` with secret-named members replaced by {@link CENSOR}. Copy on write: the
 * caller's objects are never changed, and a line without such members is returned as it is
 * (the common case costs one pass over its keys).
 */
export function redactSecrets(line: Record<string, unknown>): Record<string, unknown> {
  return redactLevel(line, 0)
}
