import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { captureLogLines } from '../../test/support/logCapture.js'
import { createLogger } from './logger.js'
import { logProcessWarnings } from './processWarnings.js'

function warning(name: string, message: string, code?: string): Error & { code?: string } {
  const err: Error & { code?: string } = new Error(message)
  err.name = name
  if (code !== undefined) err.code = code
  return err
}

describe('logProcessWarnings', () => {
  it("replaces Node's printer with one JSON warn line per warning, multi-line message whole", () => {
    const source = new EventEmitter()
    const printed: unknown[] = []
    source.on('warning', (w) => printed.push(w))
    const { lines, sink } = captureLogLines()
    logProcessWarnings(createLogger('info', sink), source)

    source.emit('warning', warning('Warning', 'NodeVersionSupportWarning: first line\nsecond line'))
    source.emit('warning', warning('DeprecationWarning', 'old API', 'DEP0005'))

    expect(printed).toEqual([])
    expect(lines().map(({ level, msg, warning: w }) => ({ level, msg, warning: w }))).toEqual([
      { level: 'warn', msg: 'process warning', warning: { name: 'Warning', message: 'NodeVersionSupportWarning: first line\nsecond line' } },
      { level: 'warn', msg: 'process warning', warning: { name: 'DeprecationWarning', message: 'old API', code: 'DEP0005' } },
    ])
  })

  it('logs nothing when Node prints no warnings (--no-warnings: no listener of its own)', () => {
    const source = new EventEmitter()
    const { lines, sink } = captureLogLines()
    logProcessWarnings(createLogger('info', sink), source)
    source.emit('warning', warning('Warning', 'ignored'))
    expect(lines()).toEqual([])
    expect(source.listenerCount('warning')).toBe(0)
  })

  it('puts the previous listeners back when undone', () => {
    const source = new EventEmitter()
    const printed: string[] = []
    source.on('warning', (w: Error) => printed.push(w.message))
    const { lines, sink } = captureLogLines()
    const undo = logProcessWarnings(createLogger('info', sink), source)
    undo()
    source.emit('warning', warning('Warning', 'after undo'))
    expect(printed).toEqual(['after undo'])
    expect(lines()).toEqual([])
  })

  it("the real process: Node's own printer is the listener replaced", async () => {
    const { lines, sink } = captureLogLines()
    const before = process.listeners('warning')
    const undo = logProcessWarnings(createLogger('info', sink), process)
    try {
      expect(process.listeners('warning')).toHaveLength(before.length === 0 ? 0 : 1)
      process.emitWarning('from the test', { code: 'TEST_WARNING' })
      await new Promise((resolve) => setImmediate(resolve))
      if (before.length > 0) {
        expect(lines()).toMatchObject([{ msg: 'process warning', warning: { name: 'Warning', code: 'TEST_WARNING', message: 'from the test' } }])
      }
    } finally {
      undo()
    }
    expect(process.listeners('warning')).toEqual(before)
  })
})
