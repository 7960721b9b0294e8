import { hash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { WebIdentityConfig } from '../../config/index.js'
import { SignerError } from '../../errors.js'
import type { AwsCredentials } from '../awsCredentials.js'
import type { CallerContext } from '../callerContext.js'
import type { CredentialCache } from '../credentialCache.js'
import type { StsLike } from '../credentialSources.js'
import type { IdentityLookup } from '../identityLookup.js'
import { readClaim } from './claimPath.js'
import { RoleMapper } from './roleMapper.js'
import { sessionNameFrom } from './sessionName.js'
import { extractToken, tokenHeaderOf, type ExtractedToken } from './tokenSource.js'
import { TokenVerifier, type CallerClaims } from './tokenVerifier.js'
import { assumeRoleWithWebIdentity } from './webIdentitySts.js'

export interface WebIdentityResolverOptions {
  readonly name: string
  readonly config: WebIdentityConfig
  readonly cache: CredentialCache
  readonly sts: StsLike
  readonly stsTimeoutMs: number
  readonly maxEntries: number
  readonly now: () => number
  readonly readFile: (path: string) => string
  /** Called when a CEL rule fails to evaluate (the rule then does not match). */
  readonly onRuleError?: (rule: number, message: string) => void
}

/**
 * A `web_identity` identity: the caller's token → claims (verified or not) → role → STS
 * `AssumeRoleWithWebIdentity`, cached per caller. The cache key holds the identity, role, session
 * name and the caller: the verified issuer + subject, or a digest of the token when it was not
 * verified — so credentials are never served to another caller, even one claiming the same `sub`.
 */
export class WebIdentityResolver {
  private readonly verifier: TokenVerifier
  private readonly roles: RoleMapper
  /** Claims of tokens verified recently, by token digest: repeated requests skip the crypto. */
  private readonly verifiedTokens: LRUCache<string, CallerClaims>

  constructor(private readonly options: WebIdentityResolverOptions) {
    this.verifier = new TokenVerifier(options.config.verify, { now: options.now, readFile: options.readFile })
    this.roles = new RoleMapper(options.config.roles, options.config.fallback_role_arn, options.onRuleError)
    this.verifiedTokens = new LRUCache({ max: options.maxEntries, ttlAutopurge: false, perf: { now: options.now } })
  }

  /** The token header when it is not `authorization` (which signing always replaces). */
  get extraHeadersToStrip(): readonly string[] {
    const header = tokenHeaderOf(this.options.config.token)
    return header === 'authorization' ? [] : [header]
  }

  /** Credentials for the caller of this request; throws `SignerError` for token problems. */
  lookup(caller: CallerContext): IdentityLookup {
    const extracted = extractToken(this.options.config.token, caller)
    const digest = sha256(extracted.token)
    const claims = this.claimsOf(extracted, digest)
    if (!(claims instanceof Promise)) return this.forCaller(claims, extracted, digest)
    const pending = claims.then((verified) => {
      const lookup = this.forCaller(verified, extracted, digest)
      return 'ready' in lookup ? lookup.ready : lookup.pending
    })
    return { pending }
  }

  /**
   * The caller's claims when they are trustworthy — verified locally or by Envoy's jwt_authn —
   * for decisions such as a policy's agent; `undefined` otherwise (never throws).
   */
  async verifiedClaims(caller: CallerContext): Promise<Readonly<Record<string, unknown>> | undefined> {
    try {
      const extracted = extractToken(this.options.config.token, caller)
      const claims = await this.claimsOf(extracted, sha256(extracted.token))
      return claims.verified ? claims.claims : undefined
    } catch {
      return undefined
    }
  }

  /**
   * The claims of a token: from the verified-token cache, verified now (the only asynchronous
   * case), or without local verification. Synchronous failures throw at once.
   */
  private claimsOf(extracted: ExtractedToken, digest: string): CallerClaims | Promise<CallerClaims> {
    const known = this.verifiedTokens.get(digest)
    if (known !== undefined) {
      this.checkEnvoyClaims(known, extracted)
      return known
    }
    if (!this.verifier.verifiesLocally) return this.trustedClaims(extracted)
    return this.verifier.verify(extracted.token).then((claims) => {
      this.checkEnvoyClaims(claims, extracted)
      this.rememberVerified(digest, claims)
      return claims
    })
  }

  /** Claims without local verification: Envoy's jwt_authn payload, or the decoded token. */
  private trustedClaims(extracted: ExtractedToken): CallerClaims {
    const decoded = this.verifier.decode(extracted.token)
    if (extracted.envoyClaims === undefined) return decoded
    const envoy = extracted.envoyClaims
    const claims: CallerClaims = {
      claims: envoy,
      verified: true,
      ...(typeof envoy.iss === 'string' ? { issuer: envoy.iss } : {}),
      ...(typeof envoy.sub === 'string' ? { subject: envoy.sub } : {}),
    }
    this.checkEnvoyClaims(decoded, extracted)
    return claims
  }

  /** The token in the header must be the one jwt_authn verified: same issuer and subject. */
  private checkEnvoyClaims(token: CallerClaims, extracted: ExtractedToken): void {
    const envoy = extracted.envoyClaims
    if (envoy === undefined) return
    if (token.claims.iss !== envoy.iss || token.claims.sub !== envoy.sub) {
      throw new SignerError(
        'ERR_TOKEN_INVALID',
        'cannot authenticate the caller: the token does not match the jwt_authn payload',
      )
    }
  }

  private rememberVerified(digest: string, claims: CallerClaims): void {
    const cacheMs = (this.options.config.verify?.cache_seconds ?? 0) * 1000
    const untilExpiry = claims.expiresAt !== undefined ? claims.expiresAt - this.options.now() : cacheMs
    const ttl = Math.min(cacheMs, untilExpiry)
    if (ttl > 0) this.verifiedTokens.set(digest, claims, { ttl })
  }

  private forCaller(claims: CallerClaims, extracted: ExtractedToken, digest: string): IdentityLookup {
    const { config, name } = this.options
    const role = this.roles.select(claims.claims)
    if (role === undefined) {
      throw new SignerError('ERR_ROLE_NOT_MAPPED', `cannot sign for the caller: no role mapping of identity "${name}" matches`)
    }
    const sessionClaim = readClaim(claims.claims, config.session_name_claim)
    if (typeof sessionClaim !== 'string' || sessionClaim === '') {
      throw new SignerError(
        'ERR_TOKEN_INVALID',
        `cannot authenticate the caller: the token has no "${config.session_name_claim}" claim to name the session`,
      )
    }
    const sessionName = sessionNameFrom(`${config.session_name_prefix}${sessionClaim}`)
    const caller =
      claims.verified && claims.issuer !== undefined && claims.subject !== undefined
        ? `verified\n${claims.issuer}\n${claims.subject}`
        : `token\n${digest}`
    // The scope-down of the matched rule is part of the key: a caller whose claims now select a
    // scoped rule of the same role must not keep an unscoped set.
    const scope = JSON.stringify([role.sessionPolicy ?? null, role.policyArns ?? [], role.durationSeconds ?? null])
    const key = `web_identity:${name}:${sha256([role.roleArn, sessionName, caller, scope].join('\n'))}`
    const fetch = (): Promise<AwsCredentials> =>
      assumeRoleWithWebIdentity(
        this.options.sts,
        { identity: name, role, sessionName, token: extracted.token, durationSeconds: config.duration_seconds },
        this.options.stsTimeoutMs,
      )
    const fetchOptions = { fingerprint: digest }
    const cached = this.options.cache.peek(key, fetch, fetchOptions)
    return cached !== undefined
      ? { ready: cached.credentials }
      : { pending: this.options.cache.get(key, fetch, fetchOptions) }
  }
}

/** Hex SHA-256 of the text as UTF-8, without a Hash object (this runs on every request). */
function sha256(text: string): string {
  return hash('sha256', text, 'hex')
}
