import { createServer, request as httpRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import { listenOnLoopback } from '../harness/loopbackServer.js'

describe('listenOnLoopback', () => {
  it('listens on an ephemeral 127.0.0.1 port', async () => {
    const server = createServer((_req, res) => res.end('ok'))
    const loopback = await listenOnLoopback(server)
    const address = server.address()
    expect(typeof address === 'object' && address !== null ? address.address : '')
      .toBe('127.0.0.1')
    expect(loopback.port).toBeGreaterThan(0)
    expect(typeof address === 'object' && address !== null ? address.port : 0)
      .toBe(loopback.port)
    await loopback.close()
    expect(server.listening).toBe(false)
  })

  it('closes without waiting for a request that is never answered', async () => {
    let arrived: () => void = () => undefined
    const received = new Promise<void>((resolve) => { arrived = resolve })
    const server = createServer(() => arrived())
    const loopback = await listenOnLoopback(server)
    const outcome = new Promise<string>((resolve) => {
      httpRequest(`http://127.0.0.1:${loopback.port}/`, { agent: false }, () => resolve('answered'))
        .on('error', (err) => resolve(err.message)).end()
    })
    await received
    await loopback.close()
    expect(server.listening).toBe(false)
    expect(await outcome).toBe('socket hang up')
  })
})
