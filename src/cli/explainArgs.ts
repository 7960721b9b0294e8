/**
 * Command-line arguments of `mcp-sigv4-extproc explain`, read into options or a list of every
 * problem found.
 */

import { parseArgs } from 'node:util'
import { CALL_METADATA_PREFIX, ROUTE_KEYS } from '../routing/index.js'

/** The usage text of `explain` (printed by `--help` and after usage errors). */
export const EXPLAIN_USAGE = `\
usage: mcp-sigv4-extproc explain --route host=<authority> [--route <key>=<value> ...]
         [--route-name <xds.route_name>] [--config <file>] [--method <method>]
         --path <path> [--header '<name>: <value>' ...] [--body-file <file>]
         [--date <time>] [--fake-credentials]

Shows what the server would sign for one request, to debug AWS's 403 SignatureDoesNotMatch:
the signing target and the source of each route key, the canonical request, the string to
sign, the SHA-256 of the canonical request, and the header mutations (secrets redacted).

  --route <key>=<value>   a route key, as if sent in the gRPC metadata x-mcp-sigv4-<key>
                          (repeatable): host, path, path_prefix, path_prefix_replacement,
                          region, service, identity, identities, policy
  --route-name <name>     xds.route_name: labels the route and selects routes.<name> of the
                          configuration (lowest-precedence keys)
  --config <file>         configuration (default: $MCP_SIGV4_CONFIG, else the embedded default)
  --method <method>       the request's :method (default POST)
  --path <path>           the request's :path as the client sends it, query included (required)
  --header '<n>: <v>'     a request header (repeatable); content-type is signed when present,
                          client x-amz-* headers are removed
  --body-file <file>      the exact body bytes forwarded upstream (default: an empty body)
  --date <time>           signing time, ISO 8601, e.g. 2026-11-21T10:00:00Z (default: now)
  --fake-credentials      sign with the AWS example key AKIDEXAMPLE instead of resolving the
                          identity (offline). The canonical request is the server's unless the
                          identity's credentials carry a session token; the signature is not.
  --help                  show this text

Exit codes: 0 explained; 1 the server would fail to sign (error code and message printed);
2 usage or configuration error, or no route key host (the request would pass unsigned).
`

/** What `explain` was asked to do. */
export interface ExplainOptions {
  readonly help: boolean
  readonly configFile: string | undefined
  /** Route keys as gRPC initial metadata: `x-mcp-sigv4-<key>` → value. */
  readonly callMetadata: Readonly<Record<string, string>>
  readonly routeName: string | undefined
  readonly method: string
  /** The request's `:path`, query included. */
  readonly requestPath: string
  /** Request headers in order, lower-case names. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly bodyFile: string | undefined
  /** Fixed signing time; `undefined`: now. */
  readonly signingDate: Date | undefined
  readonly fakeCredentials: boolean
}

/** Parsed options, or every problem with the arguments. */
export type ParsedExplainArgs =
  | { readonly ok: true; readonly options: ExplainOptions }
  | { readonly ok: false; readonly problems: readonly string[] }

const OPTIONS = {
  config: { type: 'string' },
  route: { type: 'string', multiple: true },
  'route-name': { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  header: { type: 'string', multiple: true },
  'body-file': { type: 'string' },
  date: { type: 'string' },
  'fake-credentials': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

// An HTTP method and header name are RFC 9110 tokens.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// A date given with a time of day (not just `2026-11-21`, which would silently mean midnight).
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * Reads the arguments that follow `explain` (a leading `explain` itself is skipped). Collects
 * every problem instead of stopping at the first.
 */
export function parseExplainArgs(argv: readonly string[]): ParsedExplainArgs {
  const args = argv[0] === 'explain' ? argv.slice(1) : [...argv]
  let values: RawValues
  try {
    values = parseRaw(args)
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] }
  }
  const problems: string[] = []
  const options: ExplainOptions = {
    help: values.help === true,
    configFile: values.config,
    callMetadata: readRouteKeys(values.route ?? [], problems),
    routeName: values['route-name'],
    method: readMethod(values.method, problems),
    requestPath: readPath(values.path, values.help === true, problems),
    headers: (values.header ?? []).flatMap((h) => readHeader(h, problems)),
    bodyFile: values['body-file'],
    signingDate: readDate(values.date, problems),
    fakeCredentials: values['fake-credentials'] === true,
  }
  return problems.length === 0 || options.help ? { ok: true, options } : { ok: false, problems }
}

function parseRaw(args: string[]) {
  return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values
}

type RawValues = ReturnType<typeof parseRaw>

/** `key=value` pairs as gRPC metadata names; `x-mcp-sigv4-<key>` and `-`/`_` are accepted. */
function readRouteKeys(pairs: readonly string[], problems: string[]): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const name = (eq < 0 ? pair : pair.slice(0, eq)).trim().toLowerCase()
    const prefixed = name.startsWith(CALL_METADATA_PREFIX)
    const key = (prefixed ? name.slice(CALL_METADATA_PREFIX.length) : name).replaceAll('_', '-')
    if (eq < 0) {
      problems.push(`--route "${pair}": expected <key>=<value>`)
    } else if (!ROUTE_KEYS.some((known) => known.replaceAll('_', '-') === key)) {
      problems.push(`--route "${name}": unknown route key (known: ${ROUTE_KEYS.join(', ')})`)
    } else if (Object.hasOwn(metadata, CALL_METADATA_PREFIX + key)) {
      problems.push(`--route "${name}": given twice`)
    } else {
      metadata[CALL_METADATA_PREFIX + key] = pair.slice(eq + 1)
    }
  }
  return metadata
}

function readMethod(method: string | undefined, problems: string[]): string {
  if (method === undefined) return 'POST'
  if (!TOKEN.test(method)) problems.push(`--method "${method}": not an HTTP method`)
  return method
}

function readPath(path: string | undefined, help: boolean, problems: string[]): string {
  if (path === undefined) {
    if (!help) problems.push('--path is required (the request\'s :path, query included)')
    return ''
  }
  if (!path.startsWith('/')) problems.push(`--path "${path}": must start with "/"`)
  return path
}

function readHeader(header: string, problems: string[]): Array<[string, string]> {
  const colon = header.indexOf(':', header.startsWith(':') ? 1 : 0)
  const name = (colon < 0 ? header : header.slice(0, colon)).trim().toLowerCase()
  if (colon < 0 || !TOKEN.test(name)) {
    const hint = name.startsWith(':') ? ' (use --method and --path for pseudo-headers)' : ''
    problems.push(`--header "${name}": expected '<name>: <value>'${hint}`)
    return []
  }
  // Envoy hands header values over without leading or trailing whitespace.
  return [[name, header.slice(colon + 1).trim()]]
}

function readDate(text: string | undefined, problems: string[]): Date | undefined {
  if (text === undefined) return undefined
  const date = new Date(text)
  if (!ISO_DATE_TIME.test(text) || Number.isNaN(date.getTime())) {
    problems.push(`--date "${text}": expected an ISO 8601 time such as 2026-11-21T10:00:00Z`)
    return undefined
  }
  return date
}
