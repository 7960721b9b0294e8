export { freezeCredentials } from './awsCredentials.js'
export type { AwsCredentials, CredentialSource } from './awsCredentials.js'
export { CredentialCache } from './credentialCache.js'
export type {
  CachedLookup,
  CredentialCacheEvent,
  CredentialCacheOptions,
  FetchOptions,
} from './credentialCache.js'
export { createCredentialSource, createSdkStsClient, describeSdkError } from './credentialSources.js'
export type { CredentialSourceContext, StsClientOptions, StsLike } from './credentialSources.js'
export { EMPTY_CALLER } from './callerContext.js'
export type { CallerContext } from './callerContext.js'
export type { IdentityLookup } from './identityLookup.js'
export { IdentityResolver } from './identityResolver.js'
export type { IdentityResolverOptions } from './identityResolver.js'
export { isTokenBoundFailure } from './webIdentity/webIdentitySts.js'
export { sessionNameFrom } from './webIdentity/sessionName.js'
export { RoleMapper } from './webIdentity/roleMapper.js'
export type { RoleChoice } from './webIdentity/roleMapper.js'
