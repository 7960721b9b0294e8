/**
 * The text `explain` prints: target, request, canonical request, string to sign, whether
 * `@smithy/signature-v4` agrees, and header mutations, with every credential-derived value
 * redacted.
 */

import type { AwsCredentials } from '../credentials/index.js'
import type { RouteKeySource, SigningTarget } from '../routing/index.js'
import type { RequestExplanation, SignatureHeaderPlan } from '../signing/index.js'
import {
  maskAccessKeyId,
  maskSessionToken,
  redactAuthorization,
  redactCanonicalRequest,
  scrubSecrets,
} from './redact.js'

/** The line before the canonical request (so it can be cut out and compared). */
export const CANONICAL_REQUEST_BEGIN = '----- canonical request -----'
/** The line before the string to sign. */
export const STRING_TO_SIGN_BEGIN = '----- string to sign -----'
/** The line after the canonical request and after the string to sign. */
export const BLOCK_END = '----- end -----'
/** The independent signer `explain` cross-checks the signature with. */
const CROSS_CHECK_SIGNER = '@smithy/signature-v4'

/** Everything one explanation found. */
export interface ExplainFacts {
  readonly target: SigningTarget
  readonly method: string
  readonly contentType: string | undefined
  readonly body: { readonly file: string | undefined; readonly bytes: number }
  readonly credentials: AwsCredentials
  readonly credentialsDescription: string
  readonly explanation: RequestExplanation
  readonly mutations: SignatureHeaderPlan
}

/** The report, secrets redacted (and the finished text scrubbed once more). */
export function formatExplainReport(facts: ExplainFacts): string {
  const text = [
    ...targetSection(facts.target),
    ...requestSection(facts),
    ...canonicalSection(facts.explanation),
    ...mutationSection(facts.mutations),
    ...notes(facts),
  ].join('\n')
  return scrubSecrets(`${text}\n`, facts.credentials, facts.explanation.signature)
}

function targetSection(target: SigningTarget): string[] {
  const { sources } = target
  const rows: Array<[string, string, string]> = [
    ['host', target.host, sourceLabel(sources.host, 'host', target.routeName)],
    ['path', target.path, pathSource(target)],
    ['query', target.query === '' ? '(none)' : target.query, 'the request (--path)'],
    ['region', target.region, sourceLabel(sources.region, 'region', target.routeName)],
    ['service', target.service, sourceLabel(sources.service, 'service', target.routeName)],
    ['identity', target.identity, sourceLabel(sources.identity, 'identity', target.routeName)],
  ]
  if (target.allowedIdentities.length > 0) {
    const source = sourceLabel(sources.identities, 'identities', target.routeName)
    rows.push(['identities', target.allowedIdentities.join(','), source])
  }
  if (target.policy !== undefined) {
    rows.push(['policy', target.policy, sourceLabel(sources.policy, 'policy', target.routeName)])
  }
  return [`Signing target (route "${target.routeName}")`, ...table(rows), '']
}

function pathSource(target: SigningTarget): string {
  const { sources, routeName } = target
  if (sources.path !== undefined) return sourceLabel(sources.path, 'path', routeName)
  if (sources.path_prefix !== undefined) {
    const prefix = sourceLabel(sources.path_prefix, 'path_prefix', routeName)
    return `the request path after the path_prefix rewrite (keys from ${prefix})`
  }
  return 'the request (--path)'
}

function sourceLabel(source: RouteKeySource | undefined, key: string, routeName: string): string {
  switch (source) {
    case 'grpc_metadata':
      return `gRPC metadata x-mcp-sigv4-${key.replaceAll('_', '-')} (--route)`
    case 'attribute':
      return `attribute xds.route_metadata.filter_metadata['mcp_sigv4']['${key}']`
    case 'route_metadata':
      return 'xds.route_metadata, filter_metadata["mcp_sigv4"]'
    case 'gateway_annotation':
      return `xds.route_metadata, Envoy Gateway annotation mcp-sigv4-${key.replaceAll('_', '-')}`
    case 'static_config':
      return `configuration routes.${routeName}`
    case 'inferred':
      return 'inferred from host'
    case 'default':
      return 'default'
    case undefined:
      return '(not set)'
  }
}

function requestSection(facts: ExplainFacts): string[] {
  const { explanation, credentials } = facts
  const where = facts.body.file === undefined ? 'empty body' : `body file ${facts.body.file}`
  const token = credentials.sessionToken
  return [
    'Request',
    ...table([
      ['method', facts.method, ''],
      ['payload', `${facts.body.bytes} bytes`, where],
      ['payload sha256', explanation.signed.contentSha256, 'x-amz-content-sha256'],
      ['content-type', facts.contentType ?? '(none: not signed)', ''],
      ['x-amz-date', explanation.signed.amzDate, ''],
      ['credentials', facts.credentialsDescription, ''],
      ['access key id', maskAccessKeyId(credentials.accessKeyId), ''],
      ['session token', token === undefined ? '(none)' : maskSessionToken(token), ''],
    ]),
    '',
  ]
}

function canonicalSection(explanation: RequestExplanation): string[] {
  return [
    "AWS's SignatureDoesNotMatch message shows the canonical request and the string to sign",
    'that AWS computed: compare them line by line with these; the first line that differs names',
    'what changed between signing and AWS (host, path, query, a signed header, the payload hash).',
    CANONICAL_REQUEST_BEGIN,
    redactCanonicalRequest(explanation.canonicalRequest),
    BLOCK_END,
    `canonical request sha256: ${explanation.canonicalRequestSha256}`,
    STRING_TO_SIGN_BEGIN,
    explanation.stringToSign,
    BLOCK_END,
    ...crossCheckLines(explanation.smithyAgrees),
    '',
  ]
}

/** Whether `@smithy/signature-v4`, signing the same request on its own, got the same header. */
function crossCheckLines(smithyAgrees: boolean): string[] {
  if (smithyAgrees) return [`cross-check: ${CROSS_CHECK_SIGNER} agrees (same authorization header)`]
  return [
    `WARNING cross-check: ${CROSS_CHECK_SIGNER} signs this request differently (please report it):`,
    'one of the two signers is wrong here, so AWS may compute another canonical request.',
  ]
}

function mutationSection(plan: SignatureHeaderPlan): string[] {
  const lines = plan.set.map(([name, value]) => `  set     ${name}: ${redactHeader(name, value)}`)
  for (const name of plan.remove) lines.push(`  remove  ${name}`)
  return ['Header mutations the server would send (secrets redacted)', ...lines]
}

function redactHeader(name: string, value: string): string {
  if (name === 'authorization') return redactAuthorization(value)
  if (name === 'x-amz-security-token') return maskSessionToken(value)
  return value
}

function notes(facts: ExplainFacts): string[] {
  const found: string[] = []
  if (facts.credentials.sessionToken !== undefined) {
    found.push('the session token is shown redacted; the hash covers its real value')
  }
  if (facts.body.bytes > 0 && facts.contentType === undefined) {
    found.push('no content-type header was given: the server signs content-type only when the ' +
      'request carries one (pass --header "content-type: ...")')
  }
  if (facts.target.allowedIdentities.length > 0 || facts.target.policy !== undefined) {
    found.push('the route has an MCP policy or identity overrides: the server signs the body it ' +
      'forwards (a per-call identity override is cut out of it, and may switch the identity)')
  }
  return found.length === 0 ? [] : ['', 'Notes', ...found.map((note) => `  - ${note}`)]
}

function table(rows: ReadonlyArray<readonly [string, string, string]>): string[] {
  const width = Math.max(...rows.map(([label]) => label.length))
  return rows.map(([label, value, source]) => {
    const line = `  ${label.padEnd(width)}  ${value}`
    return source === '' ? line : `${line}   [${source}]`
  })
}
