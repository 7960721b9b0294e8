import { readFileSync } from 'node:fs'
import type { Config } from '../config/index.js'
import { SignerError } from '../errors.js'
import type { AwsCredentials, CredentialSource } from './awsCredentials.js'
import { EMPTY_CALLER, type CallerContext } from './callerContext.js'
import type { CredentialCache } from './credentialCache.js'
import {
  createCredentialSource,
  createSdkStsClient,
  type StsClientOptions,
  type StsLike,
} from './credentialSources.js'
import type { IdentityLookup } from './identityLookup.js'
import { WebIdentityResolver } from './webIdentity/webIdentityResolver.js'

export type { IdentityLookup } from './identityLookup.js'

export interface IdentityResolverOptions {
  readonly config: Pick<Config, 'identities' | 'sts' | 'credentials'>
  readonly cache: CredentialCache
  readonly createStsClient?: (options: StsClientOptions) => StsLike
  /** Epoch milliseconds; injectable for tests. */
  readonly now?: () => number
  readonly readFile?: (path: string) => string
  /** Reports a CEL role rule that failed to evaluate (the rule then does not match). */
  readonly onRuleError?: (identity: string, rule: number, message: string) => void
}

/**
 * Maps configured identity names to cached credentials: shared identities (default chain,
 * profile, assume_role) by name, `web_identity` ones per caller.
 */
export class IdentityResolver {
  private readonly shared = new Map<string, CredentialSource>()
  private readonly perCaller = new Map<string, WebIdentityResolver>()
  private readonly cache: CredentialCache

  constructor(options: IdentityResolverOptions) {
    this.cache = options.cache
    const createSts = options.createStsClient ?? createSdkStsClient
    const stsRegion = options.config.sts.region ?? 'us-east-1'
    for (const [name, identity] of Object.entries(options.config.identities)) {
      if (identity.kind === 'web_identity') {
        this.perCaller.set(
          name,
          new WebIdentityResolver({
            name,
            config: identity,
            cache: options.cache,
            sts: createSts({
              region: identity.region ?? stsRegion,
              ...(identity.endpoint !== undefined ? { endpoint: identity.endpoint } : {}),
              maxConcurrentCalls: options.config.sts.max_concurrent_calls,
            }),
            stsTimeoutMs: options.config.sts.timeout_ms,
            maxEntries: options.config.credentials.max_entries,
            now: options.now ?? Date.now,
            readFile: options.readFile ?? ((path) => readFileSync(path, 'utf8')),
            onRuleError: (rule, message) => options.onRuleError?.(name, rule, message),
          }),
        )
        continue
      }
      this.shared.set(
        name,
        createCredentialSource(identity, {
          name,
          resolveIdentity: (source) => this.resolve(source),
          createStsClient: createSts,
          stsRegion,
          stsTimeoutMs: options.config.sts.timeout_ms,
          stsMaxConcurrentCalls: options.config.sts.max_concurrent_calls,
        }),
      )
    }
  }

  /** The configured identity names. */
  get names(): readonly string[] {
    return [...this.shared.keys(), ...this.perCaller.keys()]
  }

  /** Cache key of a shared identity. */
  static cacheKey(name: string): string {
    return `identity:${name}`
  }

  /**
   * The configured identity name a cache key belongs to (`identity:<name>`,
   * `web_identity:<name>:<digest>`): a bounded label for metrics.
   */
  static identityOfKey(key: string): string {
    const [, name] = key.split(':', 3)
    return name ?? 'unknown'
  }

  /**
   * Looks the credentials for a request up, without waiting when they are cached. Throws
   * `SignerError` when the identity is unknown or the caller's token is unusable.
   */
  lookup(name: string, caller: CallerContext = EMPTY_CALLER): IdentityLookup {
    const perCaller = this.perCaller.get(name)
    if (perCaller !== undefined) return perCaller.lookup(caller)
    const source = this.sharedSource(name)
    const key = IdentityResolver.cacheKey(name)
    const cached = this.cache.peek(key, source)
    return cached !== undefined ? { ready: cached.credentials } : { pending: this.cache.get(key, source) }
  }

  /** Verified caller claims for a `web_identity` identity; `undefined` for others or unverified. */
  verifiedClaims(name: string, caller: CallerContext): Promise<Readonly<Record<string, unknown>> | undefined> {
    return this.perCaller.get(name)?.verifiedClaims(caller) ?? Promise.resolve(undefined)
  }

  /** Request headers that carry the identity's token and must not reach AWS. */
  headersToStrip(name: string): readonly string[] {
    return this.perCaller.get(name)?.extraHeadersToStrip ?? []
  }

  /** Resolves a shared identity's credentials (role chaining), waiting for a fetch when needed. */
  resolve(name: string): Promise<AwsCredentials> {
    try {
      return this.cache.get(IdentityResolver.cacheKey(name), this.sharedSource(name))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private sharedSource(name: string): CredentialSource {
    const source = this.shared.get(name)
    if (source !== undefined) return source
    throw new SignerError(
      'ERR_IDENTITY_UNKNOWN',
      this.perCaller.has(name)
        ? `cannot use identity "${name}" without a caller: web_identity cannot be a role-chaining source`
        : `cannot sign: identity "${name}" is not configured`,
    )
  }
}
