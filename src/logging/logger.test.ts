import { describe, expect, it } from 'vitest'
import { captureLogLines } from '../../test/support/logCapture.js'
import { createLogger } from './logger.js'
import { CENSOR, redactSecrets, SECRET_NAMES } from './redact.js'

describe('createLogger redaction', () => {
  it.each([...SECRET_NAMES])('redacts %s at the top level and one level down', (name) => {
    const { lines, sink } = captureLogLines()
    const logger = createLogger('info', sink)
    logger.info({ [name]: 'SECRET-1', nested: { [name]: 'SECRET-2', keep: 'visible' }, route: 'r' }, 'line')
    const [line] = lines()
    expect(line?.[name]).toBe(CENSOR)
    expect(line?.nested).toEqual({ [name]: CENSOR, keep: 'visible' })
    expect(line?.route).toBe('r')
    expect(JSON.stringify(lines())).not.toContain('SECRET')
  })

  it('redacts headers.authorization at the top level and one level down', () => {
    const { lines, sink } = captureLogLines()
    createLogger('debug', sink).debug(
      { headers: { authorization: 'Bearer SECRET', host: 'h' }, request: { headers: { authorization: 'AWS4 SECRET', accept: '*/*' } } },
      'line',
    )
    const [line] = lines()
    expect(line?.headers).toEqual({ authorization: CENSOR, host: 'h' })
    expect(line?.request).toEqual({ headers: { authorization: CENSOR, accept: '*/*' } })
  })

  it('applies at every level and keeps the message, level and service fields', () => {
    const { lines, sink } = captureLogLines()
    const logger = createLogger('trace', sink)
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) logger[level]({ token: 'SECRET' }, level)
    expect(lines().map((l) => [l.level, l.msg, l.token, l.service])).toEqual(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, level, CENSOR, 'mcp-sigv4-extproc']),
    )
  })

  it('never changes the caller\'s objects and returns a line without secrets as it is', () => {
    const nested = { token: 'SECRET', keep: 1 }
    const line = { nested, other: [{ token: 'in a list: not a redaction path' }] }
    const redacted = redactSecrets(line)
    expect(redacted).toEqual({ nested: { token: CENSOR, keep: 1 }, other: line.other })
    expect(nested.token).toBe('SECRET')
    const clean = { route: 'r', duration_ms: 1.5, target: { host: 'h' } }
    expect(redactSecrets(clean)).toBe(clean)
  })
})
