import { createHash } from 'node:crypto'

const ALLOWED = /[^\w+=,.@-]/g
const MAX_LENGTH = 64
const HASH_LENGTH = 10
/** The shape of a changed name's suffix; valid inputs ending like this are hashed too. */
const HASH_SUFFIX = /-[0-9a-f]{10}$/

/**
 * A valid STS `RoleSessionName` (2-64 characters of `[\w+=,.@-]`) for any claim value: disallowed
 * characters become `-`, and when anything had to change or be cut, `-` plus the first 10 hex
 * digits of the original's SHA-256 are appended. The same input always gives the same name (the
 * AWS MCP Server binds its sessions to principal + session name), and two different inputs that
 * sanitize alike still get different names. A valid input that already ends like a hash suffix
 * gets one too, so no caller can claim another caller's changed name (`auth0|x` vs
 * `auth0-x-<its hash>`).
 */
export function sessionNameFrom(value: string): string {
  const cleaned = value.replace(ALLOWED, '-')
  const unchanged = cleaned === value && value.length >= 2 && value.length <= MAX_LENGTH
  if (unchanged && !HASH_SUFFIX.test(value)) return value
  const digest = createHash('sha256').update(value, 'utf8').digest('hex').slice(0, HASH_LENGTH)
  const head = cleaned.slice(0, MAX_LENGTH - HASH_LENGTH - 1)
  return `${head}-${digest}`
}
