import type { Logger } from './logger.js'

/** The part of `process` this module uses, so tests can pass an `EventEmitter`. */
export type WarningSource = Pick<NodeJS.EventEmitter, 'listeners' | 'removeListener' | 'on'>

type Listener = (...args: unknown[]) => void

/**
 * Process warnings (Node's deprecations, experimental features, a library's
 * `process.emitWarning`, such as the AWS SDK's notice about the Node versions it will support)
 * as structured log lines instead of Node's plain, multi-line text on stderr, which a JSON log
 * pipeline cannot parse. One `warn` line per warning: `warning.name`, `warning.code` (when set)
 * and `warning.message` (whole, newlines included, as one JSON string).
 *
 * Only when Node prints warnings itself: with `--no-warnings` or `NODE_NO_WARNINGS=1` it has no
 * listener of its own, and the operator's choice stands (nothing is logged). Node's printer is
 * the only `warning` listener at start-up, so every listener present then is replaced.
 *
 * Returns a function that puts the previous listeners back.
 */
export function logProcessWarnings(logger: Logger, source: WarningSource = process): () => void {
  const previous = source.listeners('warning') as Listener[]
  if (previous.length === 0) return () => undefined
  for (const listener of previous) source.removeListener('warning', listener)
  const onWarning = (warning: Error & { code?: string }): void => {
    const fields: Record<string, string> = { name: warning.name, message: warning.message }
    if (typeof warning.code === 'string') fields['code'] = warning.code
    logger.warn({ warning: fields }, 'process warning')
  }
  source.on('warning', onWarning)
  return () => {
    source.removeListener('warning', onWarning as Listener)
    for (const listener of previous) source.on('warning', listener)
  }
}
