import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { resolveUpstreamPath, splitRequestPath } from './pathRewrite.js'

describe('splitRequestPath', () => {
  it.each([
    ['/mcp', { path: '/mcp', query: '' }],
    ['/mcp?a=1&b=%20', { path: '/mcp', query: 'a=1&b=%20' }],
    ['/mcp?', { path: '/mcp', query: '' }],
    ['/mcp?a=1?b', { path: '/mcp', query: 'a=1?b' }],
    ['/mcp#frag', { path: '/mcp', query: '' }],
    ['/mcp?a#f?x', { path: '/mcp', query: 'a' }],
    ['', { path: '/', query: '' }],
    ['?x', { path: '/', query: 'x' }],
  ])('splits %j', (requestPath, expected) => {
    expect(splitRequestPath(requestPath)).toEqual(expected)
  })
})

describe('resolveUpstreamPath', () => {
  it('replaces the whole path with `path` and keeps the request query', () => {
    expect(resolveUpstreamPath('r', { path: '/mcp' }, '/aws-mcp/anything?x=1')).toEqual({
      path: '/mcp',
      query: 'x=1',
    })
  })

  it('prefers `path` over a prefix rewrite', () => {
    const values = { path: '/full', path_prefix: '/nope', path_prefix_replacement: '/x' }
    expect(resolveUpstreamPath('r', values, '/other')).toEqual({ path: '/full', query: '' })
  })

  it.each([
    ['/aws-mcp', '/', '/aws-mcp/mcp?q', { path: '//mcp', query: 'q' }],
    ['/aws-mcp/', '/', '/aws-mcp/mcp', { path: '/mcp', query: '' }],
    ['/aws-mcp', '/mcp', '/aws-mcp', { path: '/mcp', query: '' }],
    ['/aws-mcp', '/v1', '/aws-mcpx', { path: '/v1x', query: '' }],
    ['/', '/base/', '/mcp?x=1', { path: '/base/mcp', query: 'x=1' }],
  ])('rewrites prefix %j to %j in %j like Envoy prefix_rewrite', (prefix, to, path, expected) => {
    const values = { path_prefix: prefix, path_prefix_replacement: to }
    expect(resolveUpstreamPath('r', values, path)).toEqual(expected)
  })

  it('uses the request path when no path key is set', () => {
    expect(resolveUpstreamPath('r', {}, '/mcp?x')).toEqual({ path: '/mcp', query: 'x' })
  })

  it('rejects a request outside the prefix, naming route and prefix', () => {
    const values = { path_prefix: '/aws-mcp', path_prefix_replacement: '/' }
    try {
      resolveUpstreamPath('httproute/mcp/aws/rule/0', values, '/Aws-mcp/mcp?secret=1')
      throw new Error('expected an error')
    } catch (err) {
      expect(isSignerError(err, 'ERR_PATH_REWRITE_MISMATCH')).toBe(true)
      expect((err as Error).message).toBe(
        'cannot rewrite path for route "httproute/mcp/aws/rule/0": request path "/Aws-mcp/mcp" ' +
          'does not start with path_prefix "/aws-mcp"',
      )
    }
  })
})
