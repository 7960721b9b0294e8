/**
 * How `explain` prints values derived from credentials: enough to recognise them (which key,
 * how long a token), never enough to use them.
 */

import type { SigningCredentials } from '../signing/index.js'

const SECURITY_TOKEN_LINE = /^x-amz-security-token:(.*)$/m
const KEPT_EDGE = 4
// Values shorter than this are not scrubbed from the whole text by `scrubSecrets`: they could
// occur by chance (real secrets are 40 characters, session tokens hundreds).
const MIN_SCRUBBED_LENGTH = 8

/** An access key id as its first and last 4 characters (`AKIA...WXYZ`); short ids all hidden. */
export function maskAccessKeyId(accessKeyId: string): string {
  if (accessKeyId.length <= 2 * KEPT_EDGE) return '<redacted>'
  return `${accessKeyId.slice(0, KEPT_EDGE)}...${accessKeyId.slice(-KEPT_EDGE)}`
}

/** A session token as its length only. */
export function maskSessionToken(token: string): string {
  return `<redacted, ${token.length} chars>`
}

/** An `authorization` value with the access key id masked and the signature replaced. */
export function redactAuthorization(authorization: string): string {
  return authorization
    .replace(/Credential=([^/,\s]+)\//, (_m, id: string) => `Credential=${maskAccessKeyId(id)}/`)
    .replace(/Signature=[0-9A-Fa-f]*/, 'Signature=<redacted>')
}

/** A canonical request with the value of its `x-amz-security-token` line masked. */
export function redactCanonicalRequest(canonicalRequest: string): string {
  return canonicalRequest.replace(
    SECURITY_TOKEN_LINE,
    (_m, token: string) => `x-amz-security-token:${maskSessionToken(token)}`,
  )
}

/**
 * A last guard over the whole printed text: any occurrence of the secret key, session token,
 * full access key id or signature is replaced. The report is built from redacted pieces
 * already; this only catches a value reaching the output some other way.
 */
export function scrubSecrets(
  text: string,
  credentials: SigningCredentials,
  signature: string,
): string {
  const secrets: Array<[string | undefined, string]> = [
    [credentials.secretAccessKey, '<redacted secret>'],
    [credentials.sessionToken, '<redacted token>'],
    [signature, '<redacted>'],
    [credentials.accessKeyId, maskAccessKeyId(credentials.accessKeyId)],
  ]
  let scrubbed = text
  for (const [secret, replacement] of secrets) {
    if (secret !== undefined && secret.length >= MIN_SCRUBBED_LENGTH) {
      scrubbed = scrubbed.replaceAll(secret, replacement)
    }
  }
  return scrubbed
}
