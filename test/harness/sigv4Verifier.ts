/**
 * An independent SigV4 verifier for test stand-ins of AWS endpoints (the IAM-protected MCP
 * server and the fake STS).
 *
 * The project signs with `@smithy/signature-v4`; this verifier recomputes the signature with the
 * unrelated `aws4` package so the two implementations check each other. It verifies what was
 * really received on the socket: the method, the raw path and query from the request line, the
 * received header values of exactly the names listed in `SignedHeaders`, and the received body.
 *
 * How `aws4` (1.13, `node_modules/aws4/aws4.js`) is driven, and why:
 * - `doNotModifyHeaders: true`: otherwise `prepareRequest` adds `Content-Type`, `Content-Length`
 *   and `X-Amz-Security-Token` when they are missing, and every header passed in is signed
 *   (`filterHeaders` takes all keys), so the signature would cover headers the client never
 *   signed. Only the headers named in `SignedHeaders` are passed.
 * - `doNotModifyHeaders` also skips reading `x-amz-date` into `datetime`, so `datetime` is set
 *   on the `RequestSigner` by hand (the typed, documented shortcut of `getDateTime`).
 * - `extraHeadersToInclude` lists every signed name, because `aws4` silently drops
 *   `user-agent`, `range`, `expect`, `connection`, `x-amzn-trace-id` even when they are signed.
 * - Path: for services other than `s3`, `aws4` normalises `//` and `..` and then applies
 *   `encodeURIComponent` to each segment of the already-encoded wire path, so `%3A` becomes
 *   `%253A`. That is AWS's double encoding for non-S3 services. The raw path is passed as
 *   received (never decoded).
 * - Payload hash: `aws4` uses the `x-amz-content-sha256` header value when it is among the
 *   headers passed in (i.e. when it is signed), else hashes the body. The header, when present,
 *   is checked against sha256(received body) first, so both cases hash what was received.
 * - Repeated headers: values are joined with `,` as SigV4 canonicalisation requires;
 *   `aws4` trims and collapses whitespace itself.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import aws4 from 'aws4'
import type { Request as Aws4Request } from 'aws4'

/** A secret known to the verifier, keyed elsewhere by access key id. */
export interface KnownCredential {
  secretAccessKey: string
  sessionToken?: string
}

/** What the verifier requires of every request. */
export interface SigV4VerifierOptions {
  /** Known keys: access key id → secret (and session token for temporary keys). */
  credentials: Record<string, KnownCredential> | (() => Record<string, KnownCredential>)
  expected: {
    region: string
    service: string
    /** The exact `host` header value the signature must cover; unchecked when absent. */
    host?: string
  }
  /** Clock in epoch milliseconds; defaults to `Date.now`. */
  now?: () => number
  /** Allowed clock skew of `x-amz-date`; AWS allows 5 minutes. */
  maxSkewMs?: number
}

/** A request as it arrived on the socket. */
export interface ReceivedRequest {
  method: string
  /** The request-target exactly as received, path plus query. */
  rawPath: string
  /** All received headers, lower-case names, one array entry per received field line. */
  headers: Record<string, string[]>
  body: Buffer
}

/** Why a request was rejected (stable identifiers tests can assert on). */
export type SigV4FailureReason =
  | 'missing-authorization'
  | 'malformed-authorization'
  | 'unknown-access-key'
  | 'host-not-signed'
  | 'date-not-signed'
  | 'signed-header-absent'
  | 'region-mismatch'
  | 'service-mismatch'
  | 'scope-date-mismatch'
  | 'host-mismatch'
  | 'missing-security-token'
  | 'security-token-mismatch'
  | 'security-token-not-signed'
  | 'content-sha256-mismatch'
  | 'bad-date'
  | 'date-skew'
  | 'signature-mismatch'

/** Outcome of {@link verifySigV4}. */
export type SigV4Verdict =
  | { ok: true; accessKeyId: string; signedHeaders: string[] }
  | { ok: false; reason: SigV4FailureReason; status: number; code: string; message: string }

interface ParsedAuthorization {
  accessKeyId: string
  scopeDate: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

const AUTH_RE = new RegExp('^AWS4-HMAC-SHA256 ' +
  String.raw`Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*` +
  String.raw`SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$`)

const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your ' +
  'AWS Secret Access Key and signing method. Consult the service documentation for details.'
const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.'

/** Parses an `AWS4-HMAC-SHA256` authorization header; `undefined` when malformed. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const m = AUTH_RE.exec(value.trim())
  if (m === null) return undefined
  return {
    accessKeyId: m[1] as string,
    scopeDate: m[2] as string,
    region: m[3] as string,
    service: m[4] as string,
    signedHeaders: (m[5] as string).split(';'),
    signature: m[6] as string,
  }
}

/** Parses a SigV4 `YYYYMMDDTHHMMSSZ` timestamp to epoch milliseconds. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[]
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s)
}

function fail(reason: SigV4FailureReason, message: string, code = 'InvalidSignatureException',
  status = 403): SigV4Verdict {
  return { ok: false, reason, status, code, message }
}

function single(headers: Record<string, string[]>, name: string): string | undefined {
  const values = headers[name]
  return values === undefined ? undefined : values.join(',')
}

/**
 * Verifies the SigV4 `Authorization` header of a received request and recomputes its signature
 * with `aws4`. Returns the first failed check, in the order a careful AWS front end would apply.
 */
export function verifySigV4(req: ReceivedRequest, options: SigV4VerifierOptions): SigV4Verdict {
  const header = single(req.headers, 'authorization')
  if (header === undefined) {
    return fail('missing-authorization', 'Missing Authentication Token',
      'MissingAuthenticationToken')
  }
  const auth = parseAuthorization(header)
  if (auth === undefined) {
    return fail('malformed-authorization',
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`,
      'IncompleteSignatureException')
  }
  const known = typeof options.credentials === 'function'
    ? options.credentials()
    : options.credentials
  const secret = known[auth.accessKeyId]
  if (secret === undefined) {
    return fail('unknown-access-key', INVALID_TOKEN_MESSAGE, 'UnrecognizedClientException')
  }
  const structural = checkStructure(req, auth, secret, options)
  if (structural !== undefined) return structural
  const expected = recomputeSignature(req, auth, secret)
  const matches = timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(auth.signature, 'hex'))
  if (!matches) return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE)
  return { ok: true, accessKeyId: auth.accessKeyId, signedHeaders: auth.signedHeaders }
}

function checkStructure(req: ReceivedRequest, auth: ParsedAuthorization, secret: KnownCredential,
  options: SigV4VerifierOptions): SigV4Verdict | undefined {
  if (!auth.signedHeaders.includes('host')) {
    return fail('host-not-signed',
      `'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.`,
      'IncompleteSignatureException')
  }
  if (!auth.signedHeaders.includes('x-amz-date')) {
    return fail('date-not-signed',
      `'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.`,
      'IncompleteSignatureException')
  }
  const absent = auth.signedHeaders.find((name) => req.headers[name] === undefined)
  if (absent !== undefined) {
    return fail('signed-header-absent', `Signed header '${absent}' is missing from the request.`,
      'IncompleteSignatureException')
  }
  if (auth.region !== options.expected.region) {
    return fail('region-mismatch',
      `Credential should be scoped to a valid region, not '${auth.region}'. `)
  }
  if (auth.service !== options.expected.service) {
    return fail('service-mismatch',
      `Credential should be scoped to correct service: '${options.expected.service}'. `)
  }
  const host = single(req.headers, 'host')
  if (options.expected.host !== undefined && host !== options.expected.host) {
    return fail('host-mismatch', SIGNATURE_MISMATCH_MESSAGE)
  }
  return checkTokenBodyAndDate(req, auth, secret, options)
}

function checkTokenBodyAndDate(req: ReceivedRequest, auth: ParsedAuthorization,
  secret: KnownCredential, options: SigV4VerifierOptions): SigV4Verdict | undefined {
  const token = single(req.headers, 'x-amz-security-token')
  if (secret.sessionToken !== undefined) {
    if (token === undefined) {
      return fail('missing-security-token', INVALID_TOKEN_MESSAGE, 'UnrecognizedClientException')
    }
    if (token !== secret.sessionToken) {
      return fail('security-token-mismatch', INVALID_TOKEN_MESSAGE, 'UnrecognizedClientException')
    }
    if (!auth.signedHeaders.includes('x-amz-security-token')) {
      return fail('security-token-not-signed', SIGNATURE_MISMATCH_MESSAGE)
    }
  }
  const contentSha = single(req.headers, 'x-amz-content-sha256')
  const bodySha = createHash('sha256').update(req.body).digest('hex')
  if (contentSha !== undefined && contentSha !== bodySha) {
    return fail('content-sha256-mismatch',
      `The provided 'x-amz-content-sha256' header does not match what was computed.`,
      'XAmzContentSHA256Mismatch', 400)
  }
  const amzDate = single(req.headers, 'x-amz-date') ?? ''
  const signedAt = parseAmzDate(amzDate)
  if (signedAt === undefined) {
    return fail('bad-date', `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`,
      'IncompleteSignatureException', 400)
  }
  if (amzDate.slice(0, 8) !== auth.scopeDate) {
    return fail('scope-date-mismatch', 'Date in Credential scope does not match YYYYMMDD ' +
      `from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}'`)
  }
  const now = options.now?.() ?? Date.now()
  const maxSkew = options.maxSkewMs ?? 5 * 60_000
  if (Math.abs(now - signedAt) > maxSkew) {
    return fail('date-skew', `Signature expired: ${amzDate} is outside the allowed 5 min. window.`)
  }
  return undefined
}

/** `aws4`'s request options plus the untyped `extraHeadersToInclude` it reads. */
type Aws4VerifyRequest = Aws4Request & { extraHeadersToInclude: Record<string, boolean> }

function recomputeSignature(req: ReceivedRequest, auth: ParsedAuthorization,
  secret: KnownCredential): string {
  const headers: Record<string, string> = {}
  const include: Record<string, boolean> = {}
  for (const name of auth.signedHeaders) {
    headers[name] = single(req.headers, name) as string
    include[name] = true
  }
  const request: Aws4VerifyRequest = {
    method: req.method,
    path: req.rawPath,
    headers,
    body: req.body,
    service: auth.service,
    region: auth.region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: include,
  }
  const signer = new aws4.RequestSigner(request, {
    accessKeyId: auth.accessKeyId,
    secretAccessKey: secret.secretAccessKey,
    ...(secret.sessionToken === undefined ? {} : { sessionToken: secret.sessionToken }),
  })
  signer.datetime = single(req.headers, 'x-amz-date') as string
  return signer.signature()
}
