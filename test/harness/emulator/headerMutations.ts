/**
 * Envoy's ext_proc header-mutation semantics (fact sheet §5, `mutation_utils.cc` and
 * `mutation_rules.cc` as summarised there), applied to the emulator's header lists.
 */
import type {
  HeaderEntry, HeaderMutationMsg, HeaderValueOptionMsg, MutationRules,
} from './types.js'

/** Where a mutation is applied and what it may touch. */
export interface MutationContext {
  rules: MutationRules
  /** Incremented for every skipped (disallowed) mutation: `rejected_header_mutations`. */
  stats: { rejectedHeaderMutations: number }
  /** Non-BUFFERED modes (or BUFFERED with header SKIP): `content-length` sets are skipped. */
  skipContentLength: boolean
  /** `CONTINUE_AND_REPLACE` headers responses may change `:method`. */
  allowMethod?: boolean
}

/** `ok: false` carries the message Envoy would turn into a 500 local reply. */
export type MutationResult = { ok: true } | { ok: false; error: string }

const ROUTING = new Set(['host', ':authority', ':method', ':scheme'])
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
const PSEUDO = /^:[a-z]+$/

/** `Checker::isAllowed` of the mutation rules (default rules when `rules` is empty). */
export function isMutationAllowed(name: string, rules: MutationRules): boolean {
  if (rules.disallowAll === true) return false
  if (rules.disallowExpression?.test(name) === true) return false
  if (rules.allowExpression?.test(name) === true) return true
  if (ROUTING.has(name)) return rules.allowAllRouting === true
  if (name.startsWith('x-envoy-')) return rules.allowEnvoy === true
  if (name.startsWith(':')) return rules.disallowSystem !== true
  return true
}

/** `Checker::isValidValue`: values that the rules refuse even when the name is allowed. */
function isValidSpecialValue(name: string, value: string): boolean {
  if (name === ':status') return /^\d{3}$/.test(value) && Number(value) >= 200
  if (name === ':scheme') return value === 'http' || value === 'https'
  if (name === ':authority' || name === 'host') return /^[^\s/?#@]+$/.test(value)
  return true
}

function isValidName(name: string): boolean {
  return TOKEN.test(name) || PSEUDO.test(name)
}

/** Envoy's `headerValueIsValid`: NUL, CR and LF are never allowed. */
function isValidValue(value: string): boolean {
  return !/[\0\r\n]/.test(value)
}

function disallowed(ctx: MutationContext, verb: string, name: string): MutationResult {
  if (ctx.rules.disallowIsError === true) {
    return { ok: false, error: `Invalid attempt to ${verb} ${name}` }
  }
  ctx.stats.rejectedHeaderMutations += 1
  return { ok: true }
}

/**
 * Applies a `HeaderMutation` in Envoy's order: every `remove_headers` entry, then every
 * `set_headers` entry. Mutates `headers` in place; stops at the first error.
 */
export function applyHeaderMutation(headers: HeaderEntry[], mutation: HeaderMutationMsg | undefined,
  ctx: MutationContext): MutationResult {
  for (const raw of mutation?.remove_headers ?? []) {
    const result = removeHeader(headers, raw.toLowerCase(), ctx)
    if (!result.ok) return result
  }
  for (const option of mutation?.set_headers ?? []) {
    const result = setHeader(headers, option, ctx)
    if (!result.ok) return result
  }
  return { ok: true }
}

function removeHeader(headers: HeaderEntry[], name: string, ctx: MutationContext): MutationResult {
  if (!isValidName(name)) {
    return { ok: false, error: `Invalid header name in remove_headers: ${name}` }
  }
  // Removing any `:` header or `host` is never allowed, whatever the rules (fact sheet §5).
  if (name.startsWith(':') || name === 'host') {
    ctx.stats.rejectedHeaderMutations += 1
    return { ok: true }
  }
  if (!isMutationAllowed(name, ctx.rules)) return disallowed(ctx, 'remove', name)
  for (let i = headers.length - 1; i >= 0; i -= 1) {
    if (headers[i]?.key === name) headers.splice(i, 1)
  }
  return { ok: true }
}

function setHeader(headers: HeaderEntry[], option: HeaderValueOptionMsg,
  ctx: MutationContext): MutationResult {
  const name = (option.header?.key ?? '').toLowerCase()
  if (!isValidName(name)) return { ok: false, error: `Invalid header name in set_headers: ${name}` }
  const hasValue = (option.header?.value ?? '') !== ''
  const raw = option.header?.raw_value
  if (hasValue && raw !== undefined && raw.length > 0) {
    return { ok: false,
      error: 'Only one of value or raw_value in the HeaderValue message should be set.' }
  }
  // Envoy ≥ 1.32 reads raw_value only: a value-only entry sets the header to "" (envoy#31555).
  const value = (raw ?? Buffer.alloc(0)).toString('latin1')
  if (ctx.skipContentLength && name === 'content-length') return { ok: true }
  // `append` (BoolValue) missing → overwrite; `append_action` is ignored by mainline ext_proc.
  const append = option.append?.value === true
  const allowed = isMutationAllowed(name, ctx.rules) ||
    (ctx.allowMethod === true && name === ':method')
  if (!allowed || (append && name.startsWith(':'))) return disallowed(ctx, 'modify', name)
  if (!isValidValue(value)) return { ok: false, error: `Invalid header value for ${name}` }
  if (!isValidSpecialValue(name, value)) return disallowed(ctx, 'modify', name)
  if (append) {
    headers.push({ key: name, value })
  } else {
    overwrite(headers, name, value)
  }
  return { ok: true }
}

/**
 * `setCopy`: the first entry keeps its place with the new value, later duplicates go; a new
 * pseudo header goes after the existing pseudo headers, any other new header at the end.
 */
function overwrite(headers: HeaderEntry[], name: string, value: string): void {
  const first = headers.findIndex((h) => h.key === name)
  if (first >= 0) {
    headers[first] = { key: name, value }
    for (let i = headers.length - 1; i > first; i -= 1) {
      if (headers[i]?.key === name) headers.splice(i, 1)
    }
    return
  }
  if (name.startsWith(':')) {
    const end = headers.findIndex((h) => !h.key.startsWith(':'))
    headers.splice(end < 0 ? headers.length : end, 0, { key: name, value })
    return
  }
  headers.push({ key: name, value })
}
