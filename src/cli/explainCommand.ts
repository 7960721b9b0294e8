/**
 * `mcp-sigv4-extproc explain`: shows what the server would sign for one request, computed with
 * the server's own routing, credential and signing functions, to debug a 403
 * `SignatureDoesNotMatch` from AWS.
 */

import { readFileSync } from 'node:fs'
import { ConfigInvalidError, loadConfig, type Config } from '../config/index.js'
import type { CallerContext, StsClientOptions, StsLike } from '../credentials/index.js'
import { SignerError } from '../errors.js'
import { resolveSigningTarget, type SigningTarget } from '../routing/index.js'
import { explainRequest, planSignatureHeaders, sha256Hex, type SignatureHeaderPlan } from '../signing/index.js'
import { EXPLAIN_USAGE, parseExplainArgs, type ExplainOptions } from './explainArgs.js'
import { resolveExplainCredentials } from './explainCredentials.js'
import { formatExplainReport } from './explainReport.js'

/** Injectable parts of {@link runExplain}; everything defaults to the real implementation. */
export interface ExplainDependencies {
  /** Signing time when `--date` is not given. */
  readonly now?: () => Date
  /** STS client factory for `assume_role` / `web_identity` identities. */
  readonly createStsClient?: (options: StsClientOptions) => StsLike
  /** Reads a file's bytes: the configuration, the body file, files the identities name. */
  readonly readFile?: (path: string) => Uint8Array
}

/** The configuration and body, read before anything is resolved. */
interface Inputs {
  readonly config: Readonly<Config>
  readonly body: Uint8Array
}

const USAGE_EXIT = 2
const FAILURE_EXIT = 1

/**
 * Runs `explain` with the arguments that follow it on the command line (a leading `explain`
 * is skipped). Writes the report to `out` and problems to `err`.
 *
 * @returns 0 explained (or `--help`); 1 the server would fail to sign, with the `SignerError`
 *   code and message on `err`; 2 usage or configuration error, or a route without `host`
 */
export async function runExplain(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  deps: ExplainDependencies = {},
): Promise<number> {
  const parsed = parseExplainArgs(argv)
  if (!parsed.ok) {
    const count = `${parsed.problems.length} problem(s)`
    err.write(`cannot explain: ${count}\n${bullets(parsed.problems)}\n\n${EXPLAIN_USAGE}`)
    return USAGE_EXIT
  }
  const { options } = parsed
  if (options.help) {
    out.write(EXPLAIN_USAGE)
    return 0
  }
  const readBytes = deps.readFile ?? ((path: string) => readFileSync(path))
  const inputs = readInputs(options, env, readBytes, err)
  if (inputs === undefined) return USAGE_EXIT
  try {
    const report = await explain(options, inputs, deps, readBytes)
    if (report === undefined) {
      err.write(noHostMessage(options))
      return USAGE_EXIT
    }
    out.write(report)
    return 0
  } catch (error) {
    if (!(error instanceof SignerError)) throw error
    err.write(`error ${error.code}: ${error.message}\n`)
    return FAILURE_EXIT
  }
}

/** Loads the configuration and the body; reports a problem on `err` and returns `undefined`. */
function readInputs(
  options: ExplainOptions,
  env: Readonly<Record<string, string | undefined>>,
  readBytes: (path: string) => Uint8Array,
  err: NodeJS.WritableStream,
): Inputs | undefined {
  let config: Readonly<Config>
  try {
    const argv = options.configFile === undefined ? [] : ['--config', options.configFile]
    config = loadConfig({ argv, env, readFile: (path) => decodeUtf8(readBytes(path)) }).config
  } catch (error) {
    if (!(error instanceof ConfigInvalidError)) throw error
    err.write(`${error.message}\n`)
    return undefined
  }
  if (options.bodyFile === undefined) return { config, body: new Uint8Array(0) }
  try {
    return { config, body: readBytes(options.bodyFile) }
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    err.write(`cannot read body file "${options.bodyFile}": ${reason}\n`)
    return undefined
  }
}

/** The report, or `undefined` when the route has no `host` (the server passes it through). */
async function explain(
  options: ExplainOptions,
  inputs: Inputs,
  deps: ExplainDependencies,
  readBytes: (path: string) => Uint8Array,
): Promise<string | undefined> {
  const target = resolveTarget(options, inputs.config)
  if (target === null) return undefined
  const resolved = await resolveExplainCredentials({
    config: inputs.config,
    identity: target.identity,
    caller: callerOf(options.headers),
    fake: options.fakeCredentials,
    readFile: (path) => decodeUtf8(readBytes(path)),
    ...(deps.createStsClient !== undefined ? { createStsClient: deps.createStsClient } : {}),
  })
  const contentType = firstHeader(options.headers, 'content-type')
  const explanation = await explainRequest(
    {
      method: options.method,
      host: target.host,
      path: target.path,
      query: target.query,
      ...(contentType !== undefined ? { contentType } : {}),
      payloadSha256Hex: sha256Hex(inputs.body),
      region: target.region,
      service: target.service,
      signingDate: options.signingDate ?? (deps.now ?? (() => new Date()))(),
    },
    resolved.credentials,
  )
  return formatExplainReport({
    target,
    method: options.method,
    contentType,
    body: { file: options.bodyFile, bytes: inputs.body.length },
    credentials: resolved.credentials,
    credentialsDescription: resolved.description,
    explanation,
    mutations: mutationsOf(options.headers, explanation.signed, resolved.stripHeaders),
  })
}

/** The target as the server resolves it: route keys as gRPC metadata, the request's `:path`. */
function resolveTarget(options: ExplainOptions, config: Readonly<Config>): SigningTarget | null {
  return resolveSigningTarget({
    callMetadata: options.callMetadata,
    attributes: options.routeName === undefined ? {} : { 'xds.route_name': options.routeName },
    requestPath: options.requestPath,
    staticRoutes: config.routes,
  })
}

/** The header changes, composed as the server's `sign` dependency does (`app.ts`). */
function mutationsOf(
  headers: ExplainOptions['headers'],
  signed: Parameters<typeof planSignatureHeaders>[1],
  stripHeaders: readonly string[],
): SignatureHeaderPlan {
  const names = [...new Set(headers.map(([name]) => name))]
  const plan = planSignatureHeaders(names, signed)
  const strip = stripHeaders.filter((name) => names.includes(name))
  return strip.length === 0 ? plan : { set: plan.set, remove: [...plan.remove, ...strip] }
}

function callerOf(headers: ExplainOptions['headers']): CallerContext {
  return { header: (name) => firstHeader(headers, name), metadata: {} }
}

function firstHeader(headers: ExplainOptions['headers'], name: string): string | undefined {
  return headers.find(([key]) => key === name)?.[1]
}

function noHostMessage(options: ExplainOptions): string {
  const route =
    options.routeName === undefined ? '' : ` or routes.${options.routeName} of the configuration`
  return (
    'cannot explain: no route key "host" was found, so the server would pass this request ' +
    'through unsigned.\n' +
    `Give the route's upstream authority with --route host=<authority>${route}.\n`
  )
}

function bullets(lines: readonly string[]): string {
  return lines.map((line) => `  - ${line}`).join('\n')
}

function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes)
}
