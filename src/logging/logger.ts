import { pino, type DestinationStream, type Logger } from 'pino'
import { batchedStdout } from './batchedDestination.js'
import { redactSecrets } from './redact.js'

export type { Logger }

/**
 * A structured JSON logger (one line per event) with secret redaction built in
 * (`redact.ts`, applied to every line whatever the level).
 *
 * Without a destination it writes to stdout, the lines of one event-loop turn in one write
 * (`batchedDestination.ts`): a busy server does not make one write system call per request line.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-sigv4-extproc' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
    },
    destination ?? batchedStdout(),
  )
}
