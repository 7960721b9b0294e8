import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/main.js'

function capture() {
  const stream = new PassThrough()
  const chunks: string[] = []
  stream.on('data', (c: Buffer) => chunks.push(c.toString()))
  return { stream, text: () => chunks.join('') }
}

describe('main', () => {
  it('validates the embedded default configuration with --check-config', async () => {
    const err = capture()
    expect(await main(['--check-config'], {}, err.stream)).toBe(0)
    expect(err.text()).toBe('configuration <embedded default> is valid\n')
  })

  it('exits 2 and lists every problem for an invalid configuration', async () => {
    const err = capture()
    const code = await main(['--check-config'], { MCP_SIGV4__SERVER__GRPC_ADDRESS: 'nope', MCP_SIGV4__LOGGING__LEVEL: 'loud' }, err.stream)
    expect(code).toBe(2)
    expect(err.text()).toContain('2 problem(s)')
    expect(err.text()).toContain('server.grpc_address: expected "host:port"')
    expect(err.text()).toContain('logging.level: ')
  })

  it('prints usage with --help', async () => {
    const err = capture()
    expect(await main(['--help'], {}, err.stream)).toBe(0)
    expect(err.text()).toMatch(/^usage: mcp-sigv4-extproc/)
  })
})
