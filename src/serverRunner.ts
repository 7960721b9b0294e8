import { startApp, type AppOptions, type RunningApp } from './app.js'
import { ConfigInvalidError, loadConfig, type LoadConfigOptions } from './config/index.js'
import { createLogger, type Logger } from './logging/logger.js'
import { logProcessWarnings } from './logging/processWarnings.js'

export interface ServerHandle {
  readonly app: RunningApp
  /**
   * Reads the configuration again (same `--config` / environment). A valid one applies to new
   * streams; an invalid one is rejected with every problem listed, and the running one stays.
   */
  reload(): { readonly applied: boolean; readonly problems: readonly string[]; readonly restartNeeded: readonly string[] }
  stop(graceMs?: number): Promise<void>
}

export interface RunServerOptions extends Pick<LoadConfigOptions, 'argv' | 'env' | 'readFile'> {
  readonly logger?: Logger
  /**
   * Log the process's warnings as JSON lines instead of Node's text on stderr (the process
   * entry point sets it; in-process tests leave the test runner's warnings alone).
   */
  readonly logProcessWarnings?: boolean
  readonly app?: Omit<AppOptions, 'config' | 'logger'>
}

/** Loads the configuration and starts the app; throws ConfigInvalidError for a bad configuration. */
export async function runServer(options: RunServerOptions): Promise<ServerHandle> {
  const load = () => loadConfig({ argv: options.argv ?? [], env: options.env ?? {}, ...(options.readFile ? { readFile: options.readFile } : {}) })
  const loaded = load()
  const logger = options.logger ?? createLogger(loaded.config.logging.level)
  // Before the app starts: constructing an AWS SDK client may emit a warning.
  if (options.logProcessWarnings === true) logProcessWarnings(logger)
  logger.info({ source: loaded.source, overrides: loaded.overrides }, 'configuration loaded')
  const app = await startApp({ ...options.app, config: loaded.config, logger })
  return {
    app,
    reload: () => {
      try {
        const next = load()
        const { restartNeeded } = app.reload(next.config)
        app.metrics.configReloads.inc({ result: 'applied' })
        logger.info({ source: next.source, restart_needed: restartNeeded }, 'configuration reloaded')
        if (restartNeeded.length > 0) logger.warn({ settings: restartNeeded }, 'these settings need a restart to apply')
        return { applied: true, problems: [], restartNeeded }
      } catch (err) {
        if (!(err instanceof ConfigInvalidError)) throw err
        app.metrics.configReloads.inc({ result: 'rejected' })
        logger.error({ problems: err.problems }, 'configuration reload rejected; the running configuration stays')
        return { applied: false, problems: err.problems, restartNeeded: [] }
      }
    },
    stop: (graceMs) => app.stop(graceMs),
  }
}
