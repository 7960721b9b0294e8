import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import type { WebIdentityConfig } from '../../config/index.js'
import { SignerError } from '../../errors.js'

/** A caller's claims and how far they can be trusted. */
export interface CallerClaims {
  readonly claims: Readonly<Record<string, unknown>>
  /** True when the signature was checked (locally, or by Envoy's jwt_authn). */
  readonly verified: boolean
  readonly issuer?: string
  readonly subject?: string
  /** Token expiry (epoch ms), when the token has `exp`. */
  readonly expiresAt?: number
}

export interface TokenVerifierOptions {
  readonly now: () => number
  readonly readFile: (path: string) => string
}

/**
 * Checks caller tokens. With `verify` configured, the signature, issuer, audience and times are
 * checked with `jose` against a remote (cached) or static JWKS. Without it, the token is only
 * decoded and its `exp` checked: STS verifies it, and the cache keys on the token's digest.
 */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey | undefined

  constructor(
    private readonly config: WebIdentityConfig['verify'],
    private readonly options: TokenVerifierOptions,
  ) {
    if (config === undefined) this.keys = undefined
    else if (config.jwks_file !== undefined) {
      this.keys = createLocalJWKSet(JSON.parse(options.readFile(config.jwks_file)) as Parameters<typeof createLocalJWKSet>[0])
    } else {
      this.keys = createRemoteJWKSet(new URL(config.jwks_url as string), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
      })
    }
  }

  /** True when tokens are verified locally (`verify` is configured). */
  get verifiesLocally(): boolean {
    return this.keys !== undefined
  }

  /** Decodes without verifying: structure and `exp` only. Synchronous. */
  decode(token: string): CallerClaims {
    let payload: JWTPayload
    try {
      payload = decodeJwt(token)
    } catch {
      throw new SignerError('ERR_TOKEN_INVALID', 'cannot authenticate the caller: the token cannot be decoded')
    }
    const tolerance = (this.config?.clock_tolerance_seconds ?? 30) * 1000
    if (typeof payload.exp === 'number' && payload.exp * 1000 + tolerance <= this.options.now()) {
      throw new SignerError('ERR_TOKEN_INVALID', 'cannot authenticate the caller: the token has expired')
    }
    return toCallerClaims(payload, false)
  }

  /** Verifies signature and claims; rejects with `ERR_TOKEN_INVALID` naming the failed check. */
  async verify(token: string): Promise<CallerClaims> {
    const config = this.config
    if (config === undefined || this.keys === undefined) return this.decode(token)
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: config.issuer,
        ...(config.audiences !== undefined ? { audience: config.audiences } : {}),
        ...(config.algorithms !== undefined ? { algorithms: config.algorithms } : {}),
        clockTolerance: config.clock_tolerance_seconds,
        currentDate: new Date(this.options.now()),
      })
      return toCallerClaims(payload, true)
    } catch (err) {
      throw verificationError(err)
    }
  }
}

function toCallerClaims(payload: JWTPayload, verified: boolean): CallerClaims {
  return {
    claims: payload as Record<string, unknown>,
    verified,
    ...(typeof payload.iss === 'string' ? { issuer: payload.iss } : {}),
    ...(typeof payload.sub === 'string' ? { subject: payload.sub } : {}),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
  }
}

/**
 * jose errors that mean the key set could not be obtained (not that the token is bad): a
 * timeout, a non-200 or non-JSON answer (generic JOSEError), or a malformed key set.
 */
const KEY_SET_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JOSE_GENERIC', 'ERR_JWKS_INVALID'])

/** jose's error codes name the failed check without echoing the token. */
function verificationError(err: unknown): SignerError {
  const unavailable =
    err instanceof joseErrors.JOSEError ? KEY_SET_UNAVAILABLE.has(err.code) : err instanceof Error
  if (unavailable) {
    return new SignerError('ERR_CREDENTIALS_UNAVAILABLE', 'cannot verify the caller token: the key set is unavailable', {
      cause: err,
    })
  }
  const reason =
    err instanceof joseErrors.JWTExpired
      ? 'the token has expired'
      : err instanceof joseErrors.JWTClaimValidationFailed
        ? `claim "${err.claim}" is not accepted (${err.reason})`
        : err instanceof joseErrors.JWKSNoMatchingKey
          ? 'no key in the key set matches the token'
          : err instanceof joseErrors.JWSSignatureVerificationFailed
            ? 'the signature does not verify'
            : 'the token is malformed or uses a disallowed algorithm'
  return new SignerError('ERR_TOKEN_INVALID', `cannot authenticate the caller: ${reason}`, { cause: err })
}
