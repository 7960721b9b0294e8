import { SignatureV4 } from '@smithy/signature-v4'
import { SignerError } from '../errors.js'
import { Sha256 } from './sha256.js'
import type { HttpRequestToSign, SigningCredentials } from './types.js'

/** The request object smithy's `sign` takes (structurally smithy's `HttpRequest`). */
export interface SmithyRequest {
  method: string
  protocol: string
  hostname: string
  path: string
  query: Record<string, string | string[]>
  headers: Record<string, string>
  body?: string | Uint8Array
}

/** Where and when a request is signed. */
export interface SigningTarget {
  readonly region: string
  readonly service: string
  readonly signingDate: Date
}

/** The signer settings that smithy takes at construction only. */
export interface SignerSettings {
  readonly applyChecksum: boolean
  readonly uriEscapePath: boolean
}

/**
 * Builds a `SignatureV4` for one credentials object.
 *
 * Region and service are passed on every `sign` call (`signingRegion`/`signingService`), so the
 * constructor's region provider is never consulted; it rejects to make a missing per-call region
 * loud instead of signing for a wrong one.
 */
export function createSigner(
  credentials: SigningCredentials,
  settings: SignerSettings,
): SignatureV4 {
  return new SignatureV4({
    credentials,
    // The error is built only if ever needed: capturing a stack per signer showed in the
    // profile of a burst of new callers (one signer per credential set).
    region: () =>
      Promise.reject(new SignerError('ERR_ROUTE_TARGET_INCOMPLETE', 'cannot sign request: no region')),
    service: '',
    sha256: Sha256,
    applyChecksum: settings.applyChecksum,
    uriEscapePath: settings.uriEscapePath,
  })
}

/**
 * Copies a request into smithy's shape, with lower-case header names.
 *
 * Header names that are equal up to case are joined with ',' in key order, which is how an
 * HTTP message with repeated fields is read. Lower-casing also lets smithy's own
 * `x-amz-security-token` and `x-amz-date` replace a caller's differently cased copy instead of
 * sitting beside it.
 */
export function toSmithyRequest(request: HttpRequestToSign): SmithyRequest {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    const lower = name.toLowerCase()
    headers[lower] = Object.hasOwn(headers, lower) ? `${headers[lower]},${value}` : value
  }
  const query: Record<string, string | string[]> = {}
  for (const [key, value] of Object.entries(request.query)) {
    query[key] = typeof value === 'string' ? value : [...value]
  }
  const copy: SmithyRequest = {
    method: request.method,
    protocol: 'https:',
    hostname: request.hostname,
    path: request.path,
    query,
    headers,
  }
  if (request.body !== undefined) copy.body = request.body
  return copy
}

function assertSignable(credentials: SigningCredentials, target: SigningTarget): void {
  if (target.region === '' || target.service === '') {
    throw new SignerError(
      'ERR_ROUTE_TARGET_INCOMPLETE',
      'cannot sign request: signing region and service must both be non-empty',
    )
  }
  if (Number.isNaN(target.signingDate.getTime())) {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: signing date is invalid')
  }
  if (credentials.accessKeyId === '' || credentials.secretAccessKey === '') {
    throw new SignerError('ERR_SIGNING_FAILED', 'cannot sign request: credentials are incomplete')
  }
}

/**
 * Signs with smithy and returns the complete signed header set.
 *
 * @throws SignerError `ERR_ROUTE_TARGET_INCOMPLETE` for an empty region or service,
 *   `ERR_SIGNING_FAILED` for an invalid date, incomplete credentials or a smithy failure
 */
export async function runSigner(
  signer: SignatureV4,
  credentials: SigningCredentials,
  request: SmithyRequest,
  target: SigningTarget,
): Promise<Record<string, string>> {
  assertSignable(credentials, target)
  try {
    const signed = await signer.sign(request, {
      signingDate: target.signingDate,
      signingRegion: target.region,
      signingService: target.service,
    })
    return { ...(signed.headers as Record<string, string>) }
  } catch (err) {
    // Only the error's class goes into the message; the cause keeps the rest for debugging.
    const kind = err instanceof Error ? err.name : typeof err
    throw new SignerError('ERR_SIGNING_FAILED', `cannot sign request: signer failed (${kind})`, {
      cause: err,
    })
  }
}
