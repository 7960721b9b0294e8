import type { Config } from '../config/index.js'
import { SignerError } from '../errors.js'
import type { AwsCredentials, CredentialSource } from './awsCredentials.js'
import type { CredentialCache } from './credentialCache.js'
import {
  createCredentialSource,
  createSdkStsClient,
  type StsClientOptions,
  type StsLike,
} from './credentialSources.js'

/** Either credentials usable right now, or a promise the caller has to wait for. */
export type IdentityLookup =
  | { readonly ready: AwsCredentials }
  | { readonly pending: Promise<AwsCredentials> }

export interface IdentityResolverOptions {
  readonly config: Pick<Config, 'identities' | 'sts'>
  readonly cache: CredentialCache
  readonly createStsClient?: (options: StsClientOptions) => StsLike
}

/** Maps configured identity names to cached credentials. */
export class IdentityResolver {
  private readonly sources = new Map<string, CredentialSource>()
  private readonly cache: CredentialCache

  constructor(options: IdentityResolverOptions) {
    this.cache = options.cache
    for (const [name, identity] of Object.entries(options.config.identities)) {
      this.sources.set(
        name,
        createCredentialSource(identity, {
          name,
          resolveIdentity: (source) => this.resolve(source),
          createStsClient: options.createStsClient ?? createSdkStsClient,
          stsRegion: options.config.sts.region ?? 'us-east-1',
          stsTimeoutMs: options.config.sts.timeout_ms,
        }),
      )
    }
  }

  /** The configured identity names. */
  get names(): readonly string[] {
    return [...this.sources.keys()]
  }

  /** Cache key of an identity (later issues add caller-specific keys). */
  static cacheKey(name: string): string {
    return `identity:${name}`
  }

  /** Looks an identity up without waiting when its credentials are cached. */
  lookup(name: string): IdentityLookup {
    const source = this.sourceOf(name)
    const key = IdentityResolver.cacheKey(name)
    const cached = this.cache.peek(key, source)
    return cached !== undefined ? { ready: cached.credentials } : { pending: this.cache.get(key, source) }
  }

  /** Resolves an identity's credentials, waiting for a fetch when needed. */
  resolve(name: string): Promise<AwsCredentials> {
    try {
      return this.cache.get(IdentityResolver.cacheKey(name), this.sourceOf(name))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private sourceOf(name: string): CredentialSource {
    const source = this.sources.get(name)
    if (source === undefined) {
      throw new SignerError('ERR_IDENTITY_UNKNOWN', `cannot sign: identity "${name}" is not configured`)
    }
    return source
  }
}
