import { createHmac } from 'node:crypto'
import type { SigningCredentials } from './types.js'

/** The last element of every SigV4 credential scope. */
export const SCOPE_TERMINATOR = 'aws4_request'

interface DayKeys {
  readonly shortDate: string
  /** Region → service → key (nested: no joined text two scopes could share). */
  readonly byRegion: Map<string, Map<string, Buffer>>
}

// One entry per credentials object (immutable, one key/secret/token triple): it goes away with
// the object, e.g. once a refresh replaced it. Within an entry only the current UTC day is kept.
const keys = new WeakMap<SigningCredentials, DayKeys>()

/**
 * Derives the SigV4 signing key: HMAC-SHA256 chained over date (`YYYYMMDD`), region, service
 * and `aws4_request`, starting from `"AWS4" + secret`.
 */
export function deriveSigningKey(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
  let key = createHmac('sha256', `AWS4${secretAccessKey}`).update(shortDate, 'utf8').digest()
  for (const part of [region, service, SCOPE_TERMINATOR]) key = createHmac('sha256', key).update(part, 'utf8').digest()
  return key
}

/**
 * The signing key of `credentials` for one day, region and service, derived once and then
 * reused: per request only the final HMAC over the string to sign remains. Keys of an earlier
 * day are dropped when a later one is asked for.
 */
export function signingKeyFor(
  credentials: SigningCredentials,
  shortDate: string,
  region: string,
  service: string,
): Buffer {
  let day = keys.get(credentials)
  if (day === undefined || day.shortDate !== shortDate) {
    day = { shortDate, byRegion: new Map() }
    keys.set(credentials, day)
  }
  let byService = day.byRegion.get(region)
  if (byService === undefined) {
    byService = new Map()
    day.byRegion.set(region, byService)
  }
  let key = byService.get(service)
  if (key === undefined) {
    key = deriveSigningKey(credentials.secretAccessKey, shortDate, region, service)
    byService.set(service, key)
  }
  return key
}
