import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { checkRouteValues, isAuthority, type CheckedRouteValues } from './routeValueChecks.js'
import type { RouteKeySources } from './routeKeys.js'

function errorOf(values: CheckedRouteValues, sources: RouteKeySources): string {
  try {
    checkRouteValues('r1', values, sources)
  } catch (err) {
    expect(isSignerError(err, 'ERR_ROUTE_METADATA_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected an error')
}

const PATH_PROBLEM =
  'must start with "/" and hold no "?", "#", whitespace or non-ASCII character'

describe('isAuthority', () => {
  it.each([
    'aws-mcp.us-east-1.api.aws', 'aws-mcp.us-east-1.api.aws:443', 'aws-mcp.us-east-1.api.aws.',
    'localhost', '127.0.0.1:8080', '[::1]', '[2001:db8::1]:443', '[::ffff:1.2.3.4]', 'a_b.example',
    'x:65535',
  ])('accepts %j', (authority) => {
    expect(isAuthority(authority)).toBe(true)
  })

  it.each([
    '', 'a b', 'host/path', 'host:0', 'host:65536', 'host:', 'host:abc', '-a.example', 'a-.example',
    'a..b', '.a', '[::1', '[zz]', '[1234]', `${'a'.repeat(64)}.com`, 'user@host', 'h\u00e9.com',
    '::1',
  ])('rejects %j', (authority) => {
    expect(isAuthority(authority)).toBe(false)
  })
})

describe('checkRouteValues', () => {
  it('lower-cases the host and keeps valid values', () => {
    const values = {
      host: 'AWS-MCP.us-east-1.API.aws',
      path: '/mcp',
      region: 'us-gov-west-1',
      service: 'aws-mcp',
      identity: 'team-a',
    }
    expect(checkRouteValues('r', values, {})).toEqual({
      ...values,
      host: 'aws-mcp.us-east-1.api.aws',
    })
  })

  it.each(['us-east-1', 'cn-north-1', 'us-iso-east-1', 'us-isob-east-1', 'eusc-de-east-1'])(
    'accepts the region %s',
    (region) => {
      expect(checkRouteValues('r', { host: 'h', region }, {}).region).toBe(region)
    },
  )

  it.each([
    [
      { host: 'bad host' }, { host: 'grpc_metadata' }, 'host',
      '"bad host" from grpc_metadata is not a host name or [IPv6] address with optional :port',
    ],
    [
      { host: 'h', path: 'mcp' }, { path: 'attribute' }, 'path',
      `"mcp" from attribute ${PATH_PROBLEM}`,
    ],
    [
      { host: 'h', path: '/mcp?x=1' }, { path: 'route_metadata' }, 'path',
      `"/mcp?x=1" from route_metadata ${PATH_PROBLEM}`,
    ],
    [
      { host: 'h', path: '/mcp#x' }, { path: 'static_config' }, 'path',
      `"/mcp#x" from static_config ${PATH_PROBLEM}`,
    ],
    [
      { host: 'h', region: 'US-EAST-1' }, { region: 'gateway_annotation' }, 'region',
      '"US-EAST-1" from gateway_annotation is not an AWS region like us-east-1',
    ],
    [
      { host: 'h', region: 'us-east-1;x' }, { region: 'attribute' }, 'region',
      '"us-east-1;x" from attribute is not an AWS region like us-east-1',
    ],
    [
      { host: 'h', service: 'aws mcp' }, { service: 'attribute' }, 'service',
      '"aws mcp" from attribute is not a SigV4 service name',
    ],
    [
      { host: 'h', identity: 'a b' }, { identity: 'attribute' }, 'identity',
      '"a b" from attribute is not 1-128 visible ASCII chars',
    ],
  ] as Array<[CheckedRouteValues, RouteKeySources, string, string]>)(
    'rejects %j',
    (values, sources, key, problem) => {
      expect(errorOf(values, sources)).toBe(
        `cannot use route key "${key}" for route "r1": the value ${problem}`,
      )
    },
  )

  it('requires path_prefix and path_prefix_replacement together, unless path is set', () => {
    expect(errorOf({ host: 'h', path_prefix: '/a' }, { path_prefix: 'route_metadata' })).toBe(
      'cannot use route key "path_prefix" for route "r1": the value from route_metadata needs ' +
        'path_prefix_replacement too (Envoy prefix_rewrite semantics)',
    )
    const replacementOnly = { host: 'h', path_prefix_replacement: '/a' }
    expect(errorOf(replacementOnly, { path_prefix_replacement: 'attribute' })).toBe(
      'cannot use route key "path_prefix_replacement" for route "r1": the value from attribute ' +
        'needs path_prefix too',
    )
    expect(checkRouteValues('r', { host: 'h', path: '/p', path_prefix: '/a' }, {}).path).toBe('/p')
  })

  it('quotes at most a short, sanitized excerpt of the value', () => {
    const message = errorOf({ host: `a b\u0000${'x'.repeat(200)}` }, { host: 'attribute' })
    expect(message).toContain(`"a b?${'x'.repeat(60)}..." from attribute`)
    expect(message.length).toBeLessThan(200)
  })
})
