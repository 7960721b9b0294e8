import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * Paths redacted in every log line, whatever the level: anything that could carry a credential
 * or a caller's token if a future log call passed it by mistake.
 */
const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'accessKeyId',
  '*.accessKeyId',
  'token',
  '*.token',
  'x-amz-security-token',
  '*["x-amz-security-token"]',
  'body',
  '*.body',
]

/** A structured JSON logger (one line per event) with secret redaction built in. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-sigv4-extproc' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}
