import type { AwsCredentials } from './awsCredentials.js'

/** Either credentials usable right now, or a promise the caller has to wait for. */
export type IdentityLookup =
  | { readonly ready: AwsCredentials }
  | { readonly pending: Promise<AwsCredentials> }
