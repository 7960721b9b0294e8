import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts'
import { SignerError } from '../../errors.js'
import type { AwsCredentials } from '../awsCredentials.js'
import { credentialsFromSts, describeSdkError, type StsLike } from '../credentialSources.js'
import type { RoleChoice } from './roleMapper.js'

/**
 * STS error codes that mean "this token will not work": not retried until the token changes.
 * The SDK names its exceptions with an `Exception` suffix (`InvalidIdentityTokenException`),
 * the wire codes are without (`InvalidIdentityToken`); both are compared without it.
 */
const TOKEN_REJECTED = new Set(['InvalidIdentityToken', 'ExpiredToken', 'IDPRejectedClaim'])

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown }).name
  return typeof name === 'string' ? name : undefined
}

export interface WebIdentityExchange {
  readonly identity: string
  readonly role: RoleChoice
  readonly sessionName: string
  readonly token: string
  readonly durationSeconds: number
}

/**
 * `AssumeRoleWithWebIdentity` with the caller's token. The call is unsigned (the token is the
 * credential); `timeoutMs` bounds it whole.
 */
export async function assumeRoleWithWebIdentity(
  client: StsLike,
  exchange: WebIdentityExchange,
  timeoutMs: number,
): Promise<AwsCredentials> {
  const { role } = exchange
  const command = new AssumeRoleWithWebIdentityCommand({
    RoleArn: role.roleArn,
    RoleSessionName: exchange.sessionName,
    WebIdentityToken: exchange.token,
    DurationSeconds: role.durationSeconds ?? exchange.durationSeconds,
    ...(role.sessionPolicy !== undefined ? { Policy: role.sessionPolicy } : {}),
    ...(role.policyArns !== undefined ? { PolicyArns: role.policyArns.map((arn) => ({ arn })) } : {}),
  })
  let output: Awaited<ReturnType<StsLike['send']>>
  try {
    output = await client.send(command, { abortSignal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const name = errorName(err)
    const code = name?.replace(/Exception$/, '')
    const what = `cannot assume a role for the caller (identity "${exchange.identity}"): STS AssumeRoleWithWebIdentity`
    if (code !== undefined && TOKEN_REJECTED.has(code)) {
      throw new SignerError('ERR_TOKEN_REJECTED', `${what} rejected the token (${name})`, { cause: err })
    }
    if (code === 'AccessDenied') {
      throw new SignerError('ERR_STS_DENIED', `${what} denied access (AccessDenied)`, { cause: err })
    }
    throw new SignerError('ERR_STS_FAILED', `${what} failed (${describeSdkError(err)})`, { cause: err })
  }
  return credentialsFromSts(output, exchange.identity)
}

/** Failures that only a new token can fix. */
export function isTokenBoundFailure(error: unknown): boolean {
  return error instanceof SignerError && (error.code === 'ERR_TOKEN_REJECTED' || error.code === 'ERR_STS_DENIED')
}
