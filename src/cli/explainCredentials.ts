/**
 * The credentials `explain` signs with: the identity's, resolved by the server's own
 * `IdentityResolver` and cache, or the AWS example key with `--fake-credentials`.
 */

import type { Config } from '../config/index.js'
import {
  CredentialCache,
  IdentityResolver,
  freezeCredentials,
  isTokenBoundFailure,
  type AwsCredentials,
  type CallerContext,
  type StsClientOptions,
  type StsLike,
} from '../credentials/index.js'
import { SignerError } from '../errors.js'

/**
 * The AWS SigV4 test suite's example key pair (a published example, not a credential): what
 * `--fake-credentials` signs with.
 */
export const EXAMPLE_CREDENTIALS: AwsCredentials = freezeCredentials({
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
})

/** What resolving an identity for `explain` needs. */
export interface ExplainCredentialRequest {
  readonly config: Readonly<Config>
  readonly identity: string
  /** The request as identity sources see it (a `web_identity` reads the caller's token). */
  readonly caller: CallerContext
  readonly fake: boolean
  readonly createStsClient?: (options: StsClientOptions) => StsLike
  readonly readFile: (path: string) => string
}

/** The credentials to sign with, how they were obtained, and headers the server strips. */
export interface ExplainCredentials {
  readonly credentials: AwsCredentials
  /** One line for the report, naming the identity and its kind (no secret). */
  readonly description: string
  /** Request headers carrying the identity's caller token (removed before forwarding). */
  readonly stripHeaders: readonly string[]
}

/**
 * Resolves the identity's credentials as the server does, waiting for a fetch (provider chain,
 * profile, STS) when needed. With `fake`, the identity must still be configured, and the
 * example key is used instead.
 *
 * @throws SignerError `ERR_IDENTITY_UNKNOWN`, a token or STS error code, or
 *   `ERR_CREDENTIALS_UNAVAILABLE`
 */
export async function resolveExplainCredentials(
  request: ExplainCredentialRequest,
): Promise<ExplainCredentials> {
  const { config, identity } = request
  const resolver = createResolver(request)
  const stripHeaders = resolver.headersToStrip(identity)
  const kind = Object.hasOwn(config.identities, identity)
    ? config.identities[identity]?.kind
    : undefined
  if (kind === undefined) {
    throw new SignerError(
      'ERR_IDENTITY_UNKNOWN',
      `cannot sign: identity "${identity}" is not configured`,
    )
  }
  if (request.fake) {
    const description = `AWS example key (--fake-credentials), not identity "${identity}" (${kind})`
    return { credentials: EXAMPLE_CREDENTIALS, description, stripHeaders }
  }
  const credentials = await lookUp(resolver, identity, request.caller)
  return { credentials, description: `identity "${identity}" (${kind})`, stripHeaders }
}

/** The server's resolver and cache, built from the same configuration as in `app.ts`. */
function createResolver(request: ExplainCredentialRequest): IdentityResolver {
  const settings = request.config.credentials
  const cache = new CredentialCache({
    maxEntries: settings.max_entries,
    refreshAheadMs: settings.refresh_ahead_seconds * 1000,
    expirySkewMs: settings.expiry_skew_seconds * 1000,
    staticTtlMs: settings.static_refresh_seconds * 1000,
    backoffInitialMs: settings.failure_backoff_initial_ms,
    backoffMaxMs: settings.failure_backoff_max_ms,
    isPermanentFailure: isTokenBoundFailure,
  })
  return new IdentityResolver({
    config: request.config,
    cache,
    readFile: request.readFile,
    ...(request.createStsClient !== undefined ? { createStsClient: request.createStsClient } : {}),
  })
}

async function lookUp(
  resolver: IdentityResolver,
  identity: string,
  caller: CallerContext,
): Promise<AwsCredentials> {
  try {
    const lookup = resolver.lookup(identity, caller)
    return 'ready' in lookup ? lookup.ready : await lookup.pending
  } catch (err) {
    if (err instanceof SignerError) throw err
    // As the server does for a failure that is not already a SignerError.
    throw new SignerError(
      'ERR_CREDENTIALS_UNAVAILABLE',
      `cannot resolve credentials for identity "${identity}": ` +
        `unexpected ${err instanceof Error ? err.name : 'failure'}`,
      { cause: err },
    )
  }
}
