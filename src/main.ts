#!/usr/bin/env node
import { pathToFileURL } from 'node:url'
import { runExplain } from './cli/explainCommand.js'
import { ConfigInvalidError, loadConfig } from './config/index.js'
import { isSignerError } from './errors.js'
import { runServer, type ServerHandle } from './serverRunner.js'

const USAGE = `usage: mcp-sigv4-extproc [--config <file>] [--check-config]
       mcp-sigv4-extproc explain --help

  --config <file>   YAML configuration (default: $MCP_SIGV4_CONFIG, else the embedded default)
  --check-config    validate the configuration, print the result and exit
  --help            show this text
  explain           show how a captured request would be signed (SignatureDoesNotMatch debugging)

Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the configuration.
Environment: MCP_SIGV4_CONFIG (config file), MCP_SIGV4__<SECTION>__<KEY> (override one setting),
MCP_SIGV4_FALLBACK_AGENT, and the standard AWS variables read by the credential providers.
`

/**
 * The composition root's entry point: load the configuration, start the server, and wire the
 * signals (SIGTERM/SIGINT: graceful stop; SIGHUP: reload). Returns the exit code for failures
 * before start; a running server exits 0 after a graceful stop.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  stderr: NodeJS.WritableStream,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  if (argv[0] === 'explain') return runExplain(argv.slice(1), env, stdout, stderr)
  if (argv.includes('--help') || argv.includes('-h')) {
    stderr.write(USAGE)
    return 0
  }
  let server: ServerHandle
  try {
    if (argv.includes('--check-config')) {
      const { source } = loadConfig({ argv, env })
      stderr.write(`configuration ${source} is valid\n`)
      return 0
    }
    server = await runServer({ argv, env, logProcessWarnings: true })
  } catch (err) {
    // Invalid configuration, including TLS files that cannot be loaded at start-up.
    if (err instanceof ConfigInvalidError || isSignerError(err, 'ERR_CONFIG_INVALID')) {
      stderr.write(`${err.message}\n`)
      return 2
    }
    throw err
  }
  wireSignals(server)
  return 0
}

function wireSignals(server: ServerHandle): void {
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('SIGHUP', () => {
    if (!stopping) server.reload()
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2), process.env, process.stderr).then(
    (code) => {
      if (code !== 0) process.exit(code)
    },
    (err: unknown) => {
      process.stderr.write(`fatal: ${(err as Error).message}\n`)
      process.exit(1)
    },
  )
}
