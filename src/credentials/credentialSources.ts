import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers'
import type { AssumeRoleIdentityConfig, IdentityConfig } from '../config/index.js'
import { SignerError } from '../errors.js'
import { concurrencyLimit } from './concurrencyLimit.js'
import { freezeCredentials, type AwsCredentials, type CredentialSource } from './awsCredentials.js'

/** What a credential source needs from the rest of the system. */
export interface CredentialSourceContext {
  /** The identity's configured name, for error messages. */
  readonly name: string
  /** Resolves another identity (role chaining: the `source` of an `assume_role`). */
  readonly resolveIdentity: (name: string) => Promise<AwsCredentials>
  /** Builds the STS client; injectable so tests can point it at a local fake. */
  readonly createStsClient: (options: StsClientOptions) => StsLike
  /** Default STS region, call timeout and calls in flight per client. */
  readonly stsRegion: string
  readonly stsTimeoutMs: number
  readonly stsMaxConcurrentCalls: number
}

export interface StsClientOptions {
  readonly region: string
  readonly endpoint?: string
  /** Credentials that sign the calls; absent for AssumeRoleWithWebIdentity, which is unsigned. */
  readonly credentials?: () => Promise<AwsCredentials>
  /** Calls in flight at once through this client (`sts.max_concurrent_calls`). */
  readonly maxConcurrentCalls: number
}

/** The STS commands we send. */
export type StsCommand = AssumeRoleCommand | AssumeRoleWithWebIdentityCommand

/** The part of `STSClient` we use. */
export interface StsLike {
  send(command: StsCommand, options?: { abortSignal?: AbortSignal }): Promise<{
    Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date }
  }>
}

/**
 * The default STS client factory: the real SDK client; retries beyond one are left to our cache.
 *
 * At most `maxConcurrentCalls` calls are in flight; further calls wait here, before the SDK does
 * any work for them: started together, the SDK's per-call work blocked the event loop for a
 * whole burst of new callers at once (see README, Performance). Waiting here costs nothing until
 * a slot frees. Calls also start one per event-loop turn (`paced`), so that requests served from
 * the cache are answered between them and answers from STS come back spread out rather than all
 * at once.
 */
export function createSdkStsClient(options: StsClientOptions): StsLike {
  const maxCalls = options.maxConcurrentCalls
  // The agent gets as many sockets as calls may be in flight: the SDK's own default is 50, and a
  // call admitted by the limit must not queue again inside the agent.
  const agent = { keepAlive: true, maxSockets: maxCalls }
  const client = new STSClient({
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    maxAttempts: 2,
    requestHandler: { httpAgent: agent, httpsAgent: agent },
  })
  const limit = concurrencyLimit(maxCalls, { paced: true })
  return {
    send: (command, sendOptions) =>
      limit(() => client.send(command as AssumeRoleCommand, sendOptions), sendOptions?.abortSignal),
  }
}

/** Identities whose credentials do not depend on the caller. */
export type SharedIdentityConfig = Exclude<IdentityConfig, { kind: 'web_identity' }>

/** Builds the source that fetches fresh credentials for one configured identity. */
export function createCredentialSource(
  identity: SharedIdentityConfig,
  context: CredentialSourceContext,
): CredentialSource {
  switch (identity.kind) {
    case 'default_chain':
      return defaultChainSource(context.name)
    case 'profile': {
      const provider = fromIni({
        profile: identity.profile,
        ignoreCache: true,
        ...(identity.credentials_file !== undefined ? { filepath: identity.credentials_file } : {}),
        ...(identity.config_file !== undefined ? { configFilepath: identity.config_file } : {}),
      })
      return fromProvider(context.name, () => provider(), `profile "${identity.profile}"`)
    }
    case 'assume_role':
      return assumeRoleSource(identity, context)
  }
}

type SdkFetch = () => Promise<{
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
  expiration?: Date | undefined
}>

function defaultChainSource(name: string): CredentialSource {
  const chain = fromNodeProviderChain()
  // forceRefresh: our cache decides when to refresh; the chain's own memoization must not hand
  // back the set we are replacing.
  return fromProvider(name, () => chain({ forceRefresh: true }), 'the default provider chain')
}

function fromProvider(name: string, fetch: SdkFetch, what: string): CredentialSource {
  return async () => {
    try {
      return freezeCredentials(await fetch())
    } catch (err) {
      throw new SignerError(
        'ERR_CREDENTIALS_UNAVAILABLE',
        `cannot resolve credentials for identity "${name}" from ${what}: ${describeSdkError(err)}`,
        { cause: err },
      )
    }
  }
}

function assumeRoleSource(
  identity: AssumeRoleIdentityConfig,
  context: CredentialSourceContext,
): CredentialSource {
  const baseCredentials =
    identity.source !== undefined
      ? () => context.resolveIdentity(identity.source as string)
      : defaultChainSource(context.name)
  const client = context.createStsClient({
    region: identity.region ?? context.stsRegion,
    ...(identity.endpoint !== undefined ? { endpoint: identity.endpoint } : {}),
    credentials: baseCredentials,
    maxConcurrentCalls: context.stsMaxConcurrentCalls,
  })
  return async () => {
    const command = new AssumeRoleCommand({
      RoleArn: identity.role_arn,
      RoleSessionName: identity.session_name,
      DurationSeconds: identity.duration_seconds,
      ...(identity.external_id !== undefined ? { ExternalId: identity.external_id } : {}),
      ...(identity.source_identity !== undefined ? { SourceIdentity: identity.source_identity } : {}),
    })
    let output: Awaited<ReturnType<StsLike['send']>>
    try {
      output = await client.send(command, { abortSignal: AbortSignal.timeout(context.stsTimeoutMs) })
    } catch (err) {
      // The source identity's own failure is already a clear SignerError: keep it.
      if (err instanceof SignerError) throw err
      throw new SignerError(
        'ERR_STS_FAILED',
        `cannot assume role for identity "${context.name}": STS AssumeRole failed (${describeSdkError(err)})`,
        { cause: err },
      )
    }
    return credentialsFromSts(output, context.name)
  }
}

/** The temporary credentials of an STS answer, or ERR_STS_FAILED when they are incomplete. */
export function credentialsFromSts(output: Awaited<ReturnType<StsLike['send']>>, identity: string): AwsCredentials {
  const c = output.Credentials
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
    throw new SignerError('ERR_STS_FAILED', `cannot assume role for identity "${identity}": STS returned no credentials`)
  }
  return freezeCredentials({
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  })
}

/**
 * A short, secret-free description of an SDK error: its name (an AWS error code such as
 * `AccessDenied` or a Node error name) and HTTP status. The SDK's message is left out on purpose:
 * it may carry account details, and never our secrets, but clients do not need it.
 */
export function describeSdkError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return 'unknown error'
  const e = err as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } }
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined
  const code = typeof e.code === 'string' ? e.code : undefined
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined
  const parts = [name ?? code ?? 'Error', status !== undefined ? `HTTP ${status}` : undefined]
  return parts.filter((p) => p !== undefined).join(', ')
}
