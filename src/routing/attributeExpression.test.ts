import { describe, expect, it } from 'vitest'
import { leafAttributeKey, selectionPath } from './attributeExpression.js'

describe('leafAttributeKey', () => {
  it.each([
    [`xds.route_metadata.filter_metadata['mcp_sigv4']['host']`, 'host'],
    [`xds.route_metadata.filter_metadata["mcp_sigv4"]["region"]`, 'region'],
    [`xds.route_metadata.filter_metadata[ 'mcp_sigv4' ][ "service" ]`, 'service'],
    [`  xds . route_metadata.filter_metadata ['mcp_sigv4'] ['path']  `, 'path'],
    ['xds.route_metadata.filter_metadata.mcp_sigv4.identity', 'identity'],
    [`xds.route_metadata.filter_metadata.mcp_sigv4['path_prefix']`, 'path_prefix'],
    [
      `xds.route_metadata.filter_metadata['mcp_sigv4']['path-prefix-replacement']`,
      'path_prefix_replacement',
    ],
  ])('maps %s to %s', (expression, key) => {
    expect(leafAttributeKey(expression)).toBe(key)
  })

  it.each([
    'xds.route_metadata',
    'xds.route_name',
    `xds.route_metadata.filter_metadata['other']['host']`,
    `xds.route_metadata.filter_metadata['mcp_sigv4']['unknown']`,
    `xds.route_metadata.filter_metadata['mcp_sigv4']['host']['x']`,
    `xds.route_metadata.filter_metadata['mcp_sigv4']['HOST']`,
    `xds.cluster_metadata.filter_metadata['mcp_sigv4']['host']`,
    `xds.route_metadata.filter_metadata['mcp_sigv4']['host'] + 'x'`,
    `xds.route_metadata.filter_metadata['mcp_sigv4']['ho\\'st']`,
    `xds.route_metadata.filter_metadata['mcp_sigv4"]['host']`,
    'request.headers["x"]',
    '',
  ])('ignores %j', (expression) => {
    expect(leafAttributeKey(expression)).toBeUndefined()
  })
})

describe('selectionPath', () => {
  it('splits dotted and bracketed selections', () => {
    expect(selectionPath(`a.b['c.d']["e"].f`)).toEqual(['a', 'b', 'c.d', 'e', 'f'])
  })

  it('rejects a leading dot, two names in a row and trailing garbage', () => {
    expect(selectionPath('.a')).toBeUndefined()
    expect(selectionPath('a b')).toBeUndefined()
    expect(selectionPath('a.b(')).toBeUndefined()
    expect(selectionPath('a.')).toBeUndefined()
  })
})
