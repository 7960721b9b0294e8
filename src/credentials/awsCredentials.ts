/**
 * One consistent set of AWS credentials. Objects of this type are frozen once created: a request
 * is always signed with the access key, secret and session token of one object, also while
 * another set is being fetched to replace it.
 */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  /** When the credentials stop being valid; absent for long-term keys. */
  readonly expiration?: Date
}

/** Fetches a fresh set of credentials for one identity. */
export type CredentialSource = () => Promise<AwsCredentials>

/** Copies the fields we use into a frozen object, dropping anything else a provider returned. */
export function freezeCredentials(input: {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | undefined
  expiration?: Date | undefined
}): AwsCredentials {
  return Object.freeze({
    accessKeyId: input.accessKeyId,
    secretAccessKey: input.secretAccessKey,
    ...(input.sessionToken ? { sessionToken: input.sessionToken } : {}),
    ...(input.expiration ? { expiration: new Date(input.expiration.getTime()) } : {}),
  })
}
