/**
 * A fake AWS STS endpoint speaking the real Query protocol: form-encoded POST bodies in,
 * `https://sts.amazonaws.com/doc/2011-06-15/` XML out, and the real `ErrorResponse` shape.
 *
 * Supported actions: `AssumeRole` (SigV4-signed by the caller; the signature is verified with
 * the independent `aws4` package against `callerCredentials`) and `AssumeRoleWithWebIdentity`
 * (unsigned, as in AWS). Every issued credential is new (`ASIA…` key, secret, token) and kept in
 * `issued`, so tests can hand it to the SigV4-verifying upstream.
 *
 * Response shapes follow the STS API reference examples (AssumeRole, AssumeRoleWithWebIdentity,
 * common errors); `Expiration` is ISO-8601 without milliseconds as STS returns it.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { listenOnLoopback } from './loopbackServer.js'
import { verifySigV4 } from './sigv4Verifier.js'
import type { KnownCredential, SigV4FailureReason } from './sigv4Verifier.js'

/** A credential the fake issued. */
export interface IssuedCredential {
  secretAccessKey: string
  sessionToken: string
  expiration: Date
  roleArn: string
  sessionName: string
}

/** One request the fake received. */
export interface StsCall {
  action: string
  params: Record<string, string>
  headers: Record<string, string[]>
  /** `AssumeRole` only: whether the caller's SigV4 signature verified; `undefined` otherwise. */
  signatureValid: boolean | undefined
  signatureFailure?: SigV4FailureReason
  /** HTTP status answered, or `undefined` for a hung call. */
  status: number | undefined
  /** The issued access key id, or the error code answered. */
  accessKeyId?: string
  errorCode?: string
  at: Date
}

/** A programmed STS error. */
export interface StsError {
  code: string
  status: number
  message?: string
  /** `Sender` for 4xx, `Receiver` for 5xx by default. */
  type?: 'Sender' | 'Receiver'
}

/** Programmable misbehaviour; later `setBehaviour` calls merge over earlier ones. */
export interface StsBehaviour {
  /** Delay before each answer. */
  latencyMs: number
  /** Fail the next `count` calls with `error`. */
  failNext: { count: number; error: StsError } | undefined
  /** Accept requests and never answer them. */
  hang: boolean
  /** Answer 200 with truncated, unparseable XML. */
  malformed: boolean
}

/** Options of {@link startFakeSts}. */
export interface FakeStsOptions {
  /** Keys allowed to call `AssumeRole`, by access key id. */
  callerCredentials?: Record<string, KnownCredential>
  /** Reject bad `AssumeRole` signatures (403); default true when `callerCredentials` is given. */
  enforceSignature?: boolean
  /** Signing region the callers use; default `us-east-1`. */
  region?: string
  /** Clock in epoch ms for expirations and signature skew; default `Date.now`. */
  now?: () => number
  /** Force this lifetime on every credential regardless of `DurationSeconds`. */
  expiresInSeconds?: number
  /** Roles that may be assumed; any role when absent. Others get 403 AccessDenied. */
  allowedRoleArns?: string[]
  /** Accept or reject a web identity token; default: any non-empty token. */
  acceptWebIdentityToken?: (token: string) => boolean
  /** Initial behaviour. */
  behaviour?: Partial<StsBehaviour>
}

/** A running fake STS. */
export interface FakeSts {
  endpoint: string
  port: number
  calls: StsCall[]
  issued: Map<string, IssuedCredential>
  setBehaviour(behaviour: Partial<StsBehaviour>): void
  close(): Promise<void>
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'
const ACCOUNT = '123456789012'

/** Starts a fake STS on 127.0.0.1 with an ephemeral port. */
export async function startFakeSts(options: FakeStsOptions = {}): Promise<FakeSts> {
  const state: StsState = {
    options,
    calls: [],
    issued: new Map(),
    behaviour: { latencyMs: 0, failNext: undefined, hang: false, malformed: false,
      ...options.behaviour },
  }
  const server = createServer((req, res) => {
    void handle(state, req, res)
  })
  const { port, close } = await listenOnLoopback(server)
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    calls: state.calls,
    issued: state.issued,
    setBehaviour: (b) => { state.behaviour = { ...state.behaviour, ...b } },
    close,
  }
}

interface StsState {
  options: FakeStsOptions
  calls: StsCall[]
  issued: Map<string, IssuedCredential>
  behaviour: StsBehaviour
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function handle(state: StsState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req)
  const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')))
  const call: StsCall = {
    action: params.Action ?? '',
    params,
    headers: req.headersDistinct as Record<string, string[]>,
    signatureValid: undefined,
    status: undefined,
    at: new Date(now(state)),
  }
  state.calls.push(call)
  if (state.behaviour.latencyMs > 0) await delay(state.behaviour.latencyMs)
  // Hung calls stay open until the client gives up or `close()` destroys the sockets.
  if (state.behaviour.hang) return
  const answer = decide(state, req, body, call)
  call.status = answer.status
  res.writeHead(answer.status, {
    'content-type': 'text/xml',
    'x-amzn-requestid': answer.requestId,
    'content-length': Buffer.byteLength(answer.xml),
  })
  res.end(answer.xml)
}

interface Answer {
  status: number
  xml: string
  requestId: string
}

function decide(state: StsState, req: IncomingMessage, body: Buffer, call: StsCall): Answer {
  const requestId = randomUUID()
  if (call.action === 'AssumeRole') {
    const denied = checkCallerSignature(state, req, body, call)
    if (denied !== undefined) return errorAnswer(call, denied, requestId)
  }
  const failNext = state.behaviour.failNext
  if (failNext !== undefined && failNext.count > 0) {
    failNext.count -= 1
    return errorAnswer(call, failNext.error, requestId)
  }
  const invalid = validate(state, call)
  if (invalid !== undefined) return errorAnswer(call, invalid, requestId)
  if (state.behaviour.malformed) {
    const open = `<${call.action}Response xmlns="${XMLNS}"><${call.action}Result>`
    return { status: 200, requestId, xml: `${open}<Credentials><AccessKeyId>` }
  }
  const credential = issue(state, call)
  const xml = call.action === 'AssumeRole'
    ? assumeRoleXml(call, credential, requestId)
    : webIdentityXml(call, credential, requestId)
  return { status: 200, xml, requestId }
}

function checkCallerSignature(state: StsState, req: IncomingMessage, body: Buffer,
  call: StsCall): StsError | undefined {
  const callers = state.options.callerCredentials
  if (callers === undefined) return undefined
  const verdict = verifySigV4({
    method: req.method ?? 'POST',
    rawPath: req.url ?? '/',
    headers: req.headersDistinct as Record<string, string[]>,
    body,
  }, {
    credentials: callers,
    expected: { region: state.options.region ?? 'us-east-1', service: 'sts' },
    now: () => now(state),
  })
  call.signatureValid = verdict.ok
  if (verdict.ok) return undefined
  call.signatureFailure = verdict.reason
  if (state.options.enforceSignature === false) return undefined
  if (verdict.reason === 'unknown-access-key' || verdict.reason === 'missing-security-token' ||
    verdict.reason === 'security-token-mismatch') {
    return { code: 'InvalidClientTokenId', status: 403, message: verdict.message }
  }
  if (verdict.reason === 'missing-authorization') {
    return { code: 'MissingAuthenticationToken', status: 403,
      message: 'Request is missing Authentication Token' }
  }
  return { code: 'SignatureDoesNotMatch', status: 403, message: verdict.message }
}

function validate(state: StsState, call: StsCall): StsError | undefined {
  const p = call.params
  if (call.action !== 'AssumeRole' && call.action !== 'AssumeRoleWithWebIdentity') {
    return { code: 'InvalidAction', status: 400,
      message: `Could not find operation ${call.action} for version ${p.Version ?? 'NO_VERSION'}` }
  }
  if (p.Version !== '2011-06-15') {
    return { code: 'InvalidParameterValue', status: 400, message: 'Invalid Version' }
  }
  for (const name of ['RoleArn', 'RoleSessionName']) {
    if (!p[name]) {
      return { code: 'MissingParameter', status: 400,
        message: `The request must contain the parameter ${name}` }
    }
  }
  const duration = p.DurationSeconds === undefined ? 3600 : Number(p.DurationSeconds)
  if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
    return { code: 'ValidationError', status: 400, message: `1 validation error detected: ` +
      `Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint` }
  }
  const allowed = state.options.allowedRoleArns
  if (allowed !== undefined && !allowed.includes(p.RoleArn as string)) {
    return { code: 'AccessDenied', status: 403,
      message: `User: arn:aws:iam::${ACCOUNT}:user/caller is not authorized to perform: ` +
        `sts:${call.action} on resource: ${p.RoleArn}` }
  }
  if (call.action === 'AssumeRoleWithWebIdentity') return validateWebIdentity(state, p)
  return undefined
}

function validateWebIdentity(state: StsState, p: Record<string, string>): StsError | undefined {
  const token = p.WebIdentityToken ?? ''
  const accept = state.options.acceptWebIdentityToken ?? ((t: string) => t.length > 0)
  if (!accept(token)) {
    return { code: 'InvalidIdentityToken', status: 400,
      message: 'Couldn\'t retrieve verification key from your identity provider' }
  }
  return undefined
}

function issue(state: StsState, call: StsCall): IssuedCredential & { accessKeyId: string } {
  const p = call.params
  const seconds = state.options.expiresInSeconds ?? Number(p.DurationSeconds ?? 3600)
  const accessKeyId = `ASIA${randomToken(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`
  const credential: IssuedCredential = {
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
    expiration: new Date(Math.floor(now(state) / 1000) * 1000 + seconds * 1000),
    roleArn: p.RoleArn as string,
    sessionName: p.RoleSessionName as string,
  }
  state.issued.set(accessKeyId, credential)
  call.accessKeyId = accessKeyId
  return { ...credential, accessKeyId }
}

function credentialsXml(c: IssuedCredential & { accessKeyId: string }): string {
  return `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId>` +
    `<SecretAccessKey>${esc(c.secretAccessKey)}</SecretAccessKey>` +
    `<SessionToken>${esc(c.sessionToken)}</SessionToken>` +
    `<Expiration>${c.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration></Credentials>`
}

function assumedRoleUserXml(roleArn: string, sessionName: string): string {
  const roleName = roleArn.split('/').pop() ?? 'role'
  return `<AssumedRoleUser><Arn>arn:aws:sts::${ACCOUNT}:assumed-role/${esc(roleName)}/` +
    `${esc(sessionName)}</Arn><AssumedRoleId>AROA3XFRBF535PLBIFPI4:${esc(sessionName)}` +
    `</AssumedRoleId></AssumedRoleUser>`
}

function assumeRoleXml(call: StsCall, c: IssuedCredential & { accessKeyId: string },
  requestId: string): string {
  const source = call.params.SourceIdentity
  return `<AssumeRoleResponse xmlns="${XMLNS}">\n<AssumeRoleResult>` +
    (source === undefined ? '' : `<SourceIdentity>${esc(source)}</SourceIdentity>`) +
    `${assumedRoleUserXml(c.roleArn, c.sessionName)}${credentialsXml(c)}` +
    `<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>\n` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>\n` +
    `</AssumeRoleResponse>\n`
}

function webIdentityXml(call: StsCall, c: IssuedCredential & { accessKeyId: string },
  requestId: string): string {
  const claims = jwtClaims(call.params.WebIdentityToken ?? '')
  const subject = typeof claims.sub === 'string' ? claims.sub : 'web-identity-subject'
  const audience = typeof claims.aud === 'string' ? claims.aud : 'sts.amazonaws.com'
  const provider = typeof claims.iss === 'string' ? claims.iss : 'oidc.example.com'
  return `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}">\n` +
    `<AssumeRoleWithWebIdentityResult>` +
    `<SubjectFromWebIdentityToken>${esc(subject)}</SubjectFromWebIdentityToken>` +
    `<Audience>${esc(audience)}</Audience>` +
    `${assumedRoleUserXml(c.roleArn, c.sessionName)}${credentialsXml(c)}` +
    `<Provider>${esc(provider)}</Provider></AssumeRoleWithWebIdentityResult>\n` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>\n` +
    `</AssumeRoleWithWebIdentityResponse>\n`
}

function errorAnswer(call: StsCall, error: StsError, requestId: string): Answer {
  call.errorCode = error.code
  const type = error.type ?? (error.status >= 500 ? 'Receiver' : 'Sender')
  const message = error.message ?? defaultMessage(error.code)
  return {
    status: error.status,
    requestId,
    xml: `<ErrorResponse xmlns="${XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n` +
      `    <Code>${esc(error.code)}</Code>\n    <Message>${esc(message)}</Message>\n  </Error>\n` +
      `  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
  }
}

function defaultMessage(code: string): string {
  if (code === 'Throttling') return 'Rate exceeded'
  if (code === 'AccessDenied') return 'Not authorized to perform sts:AssumeRole'
  if (code === 'ExpiredToken') return 'The security token included in the request is expired'
  return 'An internal error occurred'
}

function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1]
  if (payload === undefined) return {}
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    return typeof parsed === 'object' && parsed !== null ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

function randomToken(length: number, alphabet: string): string {
  const bytes = randomBytes(length)
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('')
}

function now(state: StsState): number {
  return state.options.now?.() ?? Date.now()
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
