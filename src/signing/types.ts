/**
 * AWS credentials as the signing layer uses them.
 *
 * Callers treat a credentials object as immutable: one object stands for one consistent
 * (access key, secret, session token) triple, which lets the signer be reused per object.
 * `AwsCredentialIdentity` from the AWS SDK fits this shape.
 */
export interface SigningCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  /** The STS session token of temporary credentials; absent (or empty) for long-term keys. */
  readonly sessionToken?: string
}

/**
 * An arbitrary HTTP request, for `signHttpRequest` (the general signer of the conformance checks).
 *
 * Only `headers` end up signed: `host` is not added from `hostname`, so include a `host`
 * header. `path` and `query` are used as given (see {@link CanonicalSigningOptions.uriEscapePath}).
 */
export interface HttpRequestToSign {
  readonly method: string
  /** Host name without port; informational, the `host` header is what is signed. */
  readonly hostname: string
  /** The path; with `uriEscapePath` it is normalized and URI-encoded once more. */
  readonly path: string
  /** Decoded query parameters; repeated keys as arrays. */
  readonly query: Readonly<Record<string, string | readonly string[]>>
  /** Header names in any case; names equal up to case are joined with ','. */
  readonly headers: Readonly<Record<string, string>>
  /** The body, hashed for the canonical request unless an `x-amz-content-sha256` header is set. */
  readonly body?: string | Uint8Array
}

/** Per-call settings of {@link signHttpRequest} and {@link explainSignature}. */
export interface CanonicalSigningOptions {
  readonly region: string
  readonly service: string
  readonly signingDate: Date
  /** Add and sign `x-amz-content-sha256` (the AWS SDKs do for S3; the AWS suite does not). */
  readonly applyChecksum: boolean
  /**
   * Normalize and URI-encode the path again for the canonical request. AWS requires this for
   * every service except S3. Default true.
   */
  readonly uriEscapePath?: boolean
}
