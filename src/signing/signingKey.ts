import { createHmac } from 'node:crypto'
import { keyedHmacSha256Hex, type HmacSha256Hex } from './hmacSha256.js'
import type { SigningCredentials } from './types.js'

/** The last element of every SigV4 credential scope. */
export const SCOPE_TERMINATOR = 'aws4_request'

/** A derived signing key, ready to sign strings to sign. */
export interface SigningKey {
  readonly bytes: Buffer
  /** The SigV4 signature of a string to sign: lower-case hex HMAC-SHA-256 under this key. */
  readonly signatureOf: HmacSha256Hex
}

interface DayKeys {
  readonly shortDate: string
  /** Region → service → key (nested: no joined text two scopes could share). */
  readonly byRegion: Map<string, Map<string, SigningKey>>
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
 * reused: per request only the final HMAC over the string to sign remains (`signatureOf`, with
 * the key's HMAC pads prepared once). Keys of an earlier day are dropped when a later one is
 * asked for.
 */
export function signingKeyFor(
  credentials: SigningCredentials,
  shortDate: string,
  region: string,
  service: string,
): SigningKey {
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
    const bytes = deriveSigningKey(credentials.secretAccessKey, shortDate, region, service)
    key = { bytes, signatureOf: keyedHmacSha256Hex(bytes) }
    byService.set(service, key)
  }
  return key
}
