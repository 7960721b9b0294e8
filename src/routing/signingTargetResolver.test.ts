import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { printMetadataShortDebugString } from '../../test/harness/textFormatPrinter.js'
import type { JsonObject } from './jsonValue.js'
import { resolveSigningTarget, type SigningTargetInput } from './signingTarget.js'
import { createSigningTargetResolver, type RequestTargetInput } from './signingTargetResolver.js'

const AWS_MCP = 'aws-mcp.us-east-1.api.aws'

function metadataText(namespaces: Record<string, JsonObject>): string {
  return printMetadataShortDebugString({ filter_metadata: namespaces })
}

function request(route: string, keys: JsonObject, requestPath = '/mcp', callMetadata = {}): RequestTargetInput {
  return {
    callMetadata,
    attributes: { 'xds.route_name': route, 'xds.route_metadata': metadataText({ mcp_sigv4: keys }) },
    requestPath,
  }
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run()
  } catch (err) {
    return isSignerError(err) ? err.code : 'not a SignerError'
  }
  return undefined
}

const staticRoutes = { from_config: { host: AWS_MCP, path: '/mcp' } }

const CASES: Array<[string, RequestTargetInput]> = [
  ['plain keys with the request query', request('r1', { host: AWS_MCP, path: '/mcp' }, '/x?a=1&b=2')],
  ['prefix rewrite', request('r2', { host: AWS_MCP, path_prefix: '/aws', path_prefix_replacement: '/mcp' }, '/aws/v1?q')],
  ['identities and policy', request('r3', { host: AWS_MCP, identities: 'a, b,a', policy: 'ops', identity: 'caller' })],
  ['gRPC metadata over route metadata', request('r4', { host: AWS_MCP }, '/mcp', { 'x-mcp-sigv4-host': 'other.eu-west-1.api.aws' })],
  ['pass-through (no host)', request('r5', { region: 'us-east-1' })],
  ['static config by route name', { callMetadata: {}, attributes: { 'xds.route_name': 'from_config' }, requestPath: '/p?x' }],
  ['leaf attribute', { callMetadata: {}, attributes: { "xds.route_metadata.filter_metadata['mcp_sigv4']['host']": AWS_MCP }, requestPath: '/' }],
]

describe('createSigningTargetResolver', () => {
  it.each(CASES)('resolves as resolveSigningTarget does, first and second time: %s', (_name, input) => {
    const resolve = createSigningTargetResolver({ staticRoutes })
    const expected = resolveSigningTarget({ ...input, staticRoutes } as SigningTargetInput)
    expect(resolve(input)).toEqual(expected)
    expect(resolve(input)).toEqual(expected)
  })

  it('resolves a route once and the path per request', () => {
    const resolve = createSigningTargetResolver()
    const keys = { host: AWS_MCP, path_prefix: '/aws', path_prefix_replacement: '/mcp' }
    const first = resolve(request('r', keys, '/aws/a?x=1'))
    const second = resolve(request('r', keys, '/aws/b'))
    expect(first).toMatchObject({ path: '/mcp/a', query: 'x=1', region: 'us-east-1', service: 'aws-mcp' })
    expect(second).toMatchObject({ path: '/mcp/b', query: '' })
    // The route-level parts are the very same (frozen) objects: resolved once.
    expect(second?.sources).toBe(first?.sources)
    expect(second?.allowedIdentities).toBe(first?.allowedIdentities)
    expect(Object.isFrozen(first?.sources)).toBe(true)
  })

  it('keeps routes apart by every input that carries keys', () => {
    const resolve = createSigningTargetResolver()
    const a = resolve(request('r', { host: AWS_MCP }))
    const b = resolve(request('r', { host: 'bedrock-agentcore.us-west-2.amazonaws.com' }))
    const c = resolve(request('r', { host: AWS_MCP }, '/mcp', { 'x-mcp-sigv4-identity': 'prod' }))
    expect([a?.host, b?.host, c?.host]).toEqual([AWS_MCP, 'bedrock-agentcore.us-west-2.amazonaws.com', AWS_MCP])
    expect([a?.identity, c?.identity]).toEqual(['default', 'prod'])
    // Other call metadata and attributes that carry no key do not split the cache.
    const d = resolve({ ...request('r', { host: AWS_MCP }), callMetadata: { 'x-request-id': 'abc' } })
    expect(d?.sources).toBe(a?.sources)
  })

  it('reports a path mismatch per request, and region errors after it, without caching errors', () => {
    const resolve = createSigningTargetResolver()
    const keys = { host: 'mcp.example.com', path_prefix: '/aws', path_prefix_replacement: '/mcp' }
    expect(codeOf(() => resolve(request('r', keys, '/other')))).toBe('ERR_PATH_REWRITE_MISMATCH')
    expect(codeOf(() => resolve(request('r', keys, '/aws/x')))).toBe('ERR_ROUTE_TARGET_INCOMPLETE')
    expect(codeOf(() => resolveSigningTarget(request('r', keys, '/other')))).toBe('ERR_PATH_REWRITE_MISMATCH')
    const broken: RequestTargetInput = { callMetadata: {}, attributes: { 'xds.route_metadata': 'filter_metadata {' }, requestPath: '/' }
    expect(codeOf(() => resolve(broken))).toBe('ERR_ROUTE_METADATA_INVALID')
    expect(codeOf(() => resolve(broken))).toBe('ERR_ROUTE_METADATA_INVALID')
    const nonString: RequestTargetInput = { callMetadata: {}, attributes: { 'xds.route_metadata': 42 }, requestPath: '/' }
    expect(codeOf(() => resolve(nonString))).toBe('ERR_ROUTE_METADATA_INVALID')
  })

  it('stays correct when more routes arrive than it remembers', () => {
    const resolve = createSigningTargetResolver({ maxRoutes: 2 })
    for (let round = 0; round < 3; round++) {
      for (const region of ['us-east-1', 'eu-west-1', 'ap-south-1']) {
        const host = `aws-mcp.${region}.api.aws`
        expect(resolve(request(`r-${region}`, { host }))?.region).toBe(region)
      }
    }
  })
})
