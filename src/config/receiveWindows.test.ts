import { describe, expect, it } from 'vitest'
import { ConfigInvalidError } from './configError.js'
import { loadConfig } from './loadConfig.js'
import { HTTP2_MAX_WINDOW_BYTES, receiveWindowProblems, resolveReceiveWindows } from './receiveWindows.js'

const MiB = 1024 * 1024

function problemsOf(yaml: string): readonly string[] {
  try {
    loadConfig({ argv: ['--config', '/c.yaml'], env: {}, readFile: () => yaml })
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.problems
    throw err
  }
  return []
}

describe('resolveReceiveWindows', () => {
  it('defaults to a stream window that holds the largest body whole and a 16 MiB connection window', () => {
    expect(resolveReceiveWindows(MiB)).toEqual({ streamBytes: MiB + 64 * 1024, connectionBytes: 16 * MiB })
    expect(resolveReceiveWindows(2048)).toEqual({ streamBytes: 2048 + 64 * 1024, connectionBytes: 16 * MiB })
  })

  it('grows the default connection window to at least one stream window', () => {
    expect(resolveReceiveWindows(64 * MiB)).toEqual({
      streamBytes: 64 * MiB + 64 * 1024,
      connectionBytes: 64 * MiB + 64 * 1024,
    })
  })

  it('takes configured values as they are, and never exceeds the HTTP/2 maximum', () => {
    expect(resolveReceiveWindows(MiB, { stream_window_bytes: 100_000, connection_window_bytes: 200_000 })).toEqual({
      streamBytes: 100_000,
      connectionBytes: 200_000,
    })
    expect(resolveReceiveWindows(MiB, { stream_window_bytes: HTTP2_MAX_WINDOW_BYTES })).toEqual({
      streamBytes: HTTP2_MAX_WINDOW_BYTES,
      connectionBytes: HTTP2_MAX_WINDOW_BYTES,
    })
  })

  it('reports a connection window smaller than the stream window, naming where the stream window came from', () => {
    expect(receiveWindowProblems(MiB, { connection_window_bytes: 16 * MiB })).toEqual([])
    expect(receiveWindowProblems(MiB, { connection_window_bytes: 70_000 })).toEqual([
      'server.http2.connection_window_bytes (70000) is smaller than the stream window (1114112, from max_body_bytes): ' +
        'one stream could never use its whole window',
    ])
    expect(receiveWindowProblems(MiB, { stream_window_bytes: 80_000, connection_window_bytes: 70_000 })).toEqual([
      'server.http2.connection_window_bytes (70000) is smaller than the stream window (80000): ' +
        'one stream could never use its whole window',
    ])
  })
})

describe('server.http2 in the configuration', () => {
  it('loads the windows and leaves them unset by default', () => {
    const { config } = loadConfig({ argv: [], env: {} })
    expect(config.server.http2).toEqual({})
    const yaml = 'server: { http2: { stream_window_bytes: 2097152, connection_window_bytes: 33554432 } }'
    const loaded = loadConfig({ argv: ['--config', '/c.yaml'], env: {}, readFile: () => yaml }).config
    expect(loaded.server.http2).toEqual({ stream_window_bytes: 2 * MiB, connection_window_bytes: 32 * MiB })
  })

  it('refuses windows outside HTTP/2 limits, unknown keys, and a connection window below the stream window', () => {
    expect(problemsOf('server: { http2: { stream_window_bytes: 1000 } }')).toEqual([
      expect.stringMatching(/^server\.http2\.stream_window_bytes: .*65535/),
    ])
    expect(problemsOf('server: { http2: { connection_window_bytes: 2147483648 } }')).toEqual([
      expect.stringMatching(/^server\.http2\.connection_window_bytes: .*2147483647/),
    ])
    expect(problemsOf('server: { http2: { window: 1 } }')).toEqual([expect.stringMatching(/^server\.http2: .*window/)])
    expect(problemsOf('server: { http2: { connection_window_bytes: 70000 } }')).toEqual([
      expect.stringMatching(/^server\.http2\.connection_window_bytes \(70000\) is smaller than the stream window/),
    ])
  })
})
