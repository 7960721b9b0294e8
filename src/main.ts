#!/usr/bin/env node
import { pathToFileURL } from 'node:url'
import { startApp, type RunningApp } from './app.js'
import { ConfigInvalidError, loadConfig } from './config/index.js'
import { createLogger } from './logging/logger.js'

const USAGE = `usage: mcp-sigv4-extproc [--config <file>] [--check-config]

  --config <file>   YAML configuration (default: $MCP_SIGV4_CONFIG, else the embedded default)
  --check-config    validate the configuration, print the result and exit
  --help            show this text

Environment: MCP_SIGV4_CONFIG (config file), MCP_SIGV4__<SECTION>__<KEY> (override one setting),
and the standard AWS variables read by the credential providers.
`

/**
 * The composition root's entry point: load the configuration, start the app, and stop it on
 * SIGTERM/SIGINT. Returns the exit code for failures before start; a running server exits 0
 * after a graceful stop.
 */
export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  stderr: NodeJS.WritableStream,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    stderr.write(USAGE)
    return 0
  }
  let loaded
  try {
    loaded = loadConfig({ argv, env })
  } catch (err) {
    if (err instanceof ConfigInvalidError) {
      stderr.write(`${err.message}\n`)
      return 2
    }
    throw err
  }
  if (argv.includes('--check-config')) {
    stderr.write(`configuration ${loaded.source} is valid\n`)
    return 0
  }
  const logger = createLogger(loaded.config.logging.level)
  logger.info({ source: loaded.source, overrides: loaded.overrides }, 'configuration loaded')
  const app: RunningApp = await startApp({ config: loaded.config, logger })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err_message: (err as Error).message }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  return 0
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
