/**
 * The one error base class of the project, with a closed set of codes.
 *
 * Every layer throws `SignerError` (never strings, never bare `Error`s for expected failures),
 * so the protocol layer can map a failure to an HTTP status or gRPC code with one `switch`.
 * Messages follow `cannot <verb> <noun>: <detail>` and never contain a secret: callers put
 * only names (route, identity, host, option) into them.
 */

export type SignerErrorCode =
  /** A stream broke the ext_proc message order (protocol violation by the client, i.e. Envoy). */
  | 'ERR_PROTOCOL_VIOLATION'
  /** The route's metadata is present but cannot be read (malformed text format, bad values). */
  | 'ERR_ROUTE_METADATA_INVALID'
  /** The signing region or service was neither configured nor inferable from the host. */
  | 'ERR_ROUTE_TARGET_INCOMPLETE'
  /** The request path does not fit the route's path rewrite (`path_prefix` does not match). */
  | 'ERR_PATH_REWRITE_MISMATCH'
  /** The route names an identity that is not configured. */
  | 'ERR_IDENTITY_UNKNOWN'
  /** Envoy's processing mode does not let the server see the body it must sign. */
  | 'ERR_BODY_MODE_UNSUPPORTED'
  /** The request body is larger than `max_body_bytes`. */
  | 'ERR_BODY_TOO_LARGE'
  /** No credentials could be resolved for an identity (provider chain, profile, files). */
  | 'ERR_CREDENTIALS_UNAVAILABLE'
  /** STS refused or failed an AssumeRole call. */
  | 'ERR_STS_FAILED'
  /** The signer itself failed (should not happen with valid credentials). */
  | 'ERR_SIGNING_FAILED'
  /** The request carries no caller token where the identity needs one. */
  | 'ERR_TOKEN_MISSING'
  /** The caller token is malformed, expired, or fails local verification. */
  | 'ERR_TOKEN_INVALID'
  /** STS rejected the caller token (InvalidIdentityToken, ExpiredToken, IDPRejectedClaim). */
  | 'ERR_TOKEN_REJECTED'
  /** No role mapping rule matches the caller and there is no fallback role. */
  | 'ERR_ROLE_NOT_MAPPED'
  /** STS denied the caller the role (AccessDenied: the role's trust policy). */
  | 'ERR_STS_DENIED'
  /** The body of a request a policy must read is not JSON-RPC 2.0 (or is ambiguous). */
  | 'ERR_JSON_RPC_PARSE'
  /** The route's policy denies this method or tool to the agent. */
  | 'ERR_POLICY_DENIED'
  /** The route has a policy and the request names no agent (and no fallback applies). */
  | 'ERR_AGENT_MISSING'
  /** A `tools/call` asked for an identity the route does not allow. */
  | 'ERR_IDENTITY_NOT_ALLOWED'
  /** The calls of one batch asked for different identities. */
  | 'ERR_MIXED_IDENTITIES'
  /** The route names a policy that is not configured. */
  | 'ERR_POLICY_UNKNOWN'
  /** The configuration is invalid (load time). */
  | 'ERR_CONFIG_INVALID'

export class SignerError extends Error {
  readonly code: SignerErrorCode

  constructor(code: SignerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'SignerError'
  }
}

/** True when `err` is a `SignerError`, optionally with the given code. */
export function isSignerError(err: unknown, code?: SignerErrorCode): err is SignerError {
  return err instanceof SignerError && (code === undefined || err.code === code)
}
