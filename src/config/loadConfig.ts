import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import { ConfigInvalidError } from './configError.js'
import { checkCrossReferences } from './crossReferences.js'
import { DEFAULT_CONFIG_YAML } from './defaultConfig.js'
import { checkWebIdentities } from './webIdentityChecks.js'
import { applyEnvOverrides } from './envOverrides.js'
import { configSchema, type Config } from './schema.js'

/** Environment variable naming the configuration file when `--config` is not given. */
export const CONFIG_FILE_ENV = 'MCP_SIGV4_CONFIG'
/** Environment variable giving policies without a `fallback_agent` one. */
export const FALLBACK_AGENT_ENV = 'MCP_SIGV4_FALLBACK_AGENT'

export interface LoadConfigOptions {
  /** Command-line arguments after the script name; `--config <file>` or `--config=<file>`. */
  readonly argv?: readonly string[]
  /** The process environment (overrides and AWS region defaults are read from here only). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** YAML text to use instead of reading a file (tests, reload). */
  readonly text?: string
  /** Reads a file; injectable for tests. */
  readonly readFile?: (path: string) => string
}

export interface LoadedConfig {
  readonly config: Readonly<Config>
  /** Where the configuration came from: a file path, `<embedded default>` or `<text>`. */
  readonly source: string
  /** Environment override variables that were applied. */
  readonly overrides: readonly string[]
}

/**
 * Loads, overrides and validates the configuration. Every problem is collected and reported at
 * once in a `ConfigInvalidError`; nothing is half-applied.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? {}
  const path = configPathFromArgs(options.argv ?? []) ?? nonEmpty(env[CONFIG_FILE_ENV])
  const source = options.text !== undefined ? '<text>' : (path ?? '<embedded default>')
  const text = options.text ?? (path !== undefined ? readConfigFile(path, options) : DEFAULT_CONFIG_YAML)
  const raw = parseYaml(text, source)
  const overrides = applyEnvOverrides(raw, env)
  applyEnvDefaults(raw, env)
  applyFallbackAgent(raw, nonEmpty(env[FALLBACK_AGENT_ENV]))
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    throw new ConfigInvalidError(source, parsed.error.issues.map(formatIssue))
  }
  const problems = [
    ...checkCrossReferences(parsed.data),
    ...checkWebIdentities(parsed.data, options.readFile ?? defaultReadFile),
  ]
  if (problems.length > 0) throw new ConfigInvalidError(source, problems)
  return { config: deepFreeze(parsed.data), source, overrides }
}

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8')
}

function configPathFromArgs(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--config') return nonEmpty(argv[i + 1])
    if (arg.startsWith('--config=')) return nonEmpty(arg.slice('--config='.length))
  }
  return undefined
}

function readConfigFile(path: string, options: LoadConfigOptions): string {
  try {
    return (options.readFile ?? defaultReadFile)(path)
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new ConfigInvalidError(path, [`cannot read the file: ${reason}`])
  }
}

function parseYaml(text: string, source: string): Record<string, unknown> {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines })
  if (doc.errors.length > 0) {
    throw new ConfigInvalidError(
      source,
      doc.errors.map(
        (e) => `YAML ${e.code} at line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`,
      ),
    )
  }
  const value: unknown = doc.toJS() ?? {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigInvalidError(source, ['the top level must be a mapping'])
  }
  return value as Record<string, unknown>
}

/** Defaults that come from the standard AWS environment variables. */
function applyEnvDefaults(raw: Record<string, unknown>, env: LoadConfigOptions['env'] & object): void {
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1'
  const sts = raw.sts
  if (sts === undefined || sts === null) {
    raw.sts = { region }
  } else if (typeof sts === 'object' && !Array.isArray(sts) && !('region' in sts)) {
    ;(sts as Record<string, unknown>).region = region
  }
}

/** `MCP_SIGV4_FALLBACK_AGENT` fills `fallback_agent` of every policy that has none. */
function applyFallbackAgent(raw: Record<string, unknown>, agent: string | undefined): void {
  if (agent === undefined) return
  const policies = (raw.mcp as { policies?: unknown } | undefined)?.policies
  if (typeof policies !== 'object' || policies === null) return
  for (const policy of Object.values(policies as Record<string, unknown>)) {
    if (typeof policy === 'object' && policy !== null && !('fallback_agent' in policy)) {
      ;(policy as Record<string, unknown>).fallback_agent = agent
    }
  }
}

function formatIssue(issue: { path: PropertyKey[]; message: string }): string {
  const path = issue.path.map(String).join('.')
  return path === '' ? issue.message : `${path}: ${issue.message}`
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
