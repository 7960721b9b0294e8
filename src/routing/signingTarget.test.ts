import { describe, expect, it } from 'vitest'
import { isSignerError, type SignerErrorCode } from '../errors.js'
import { printMetadataShortDebugString } from '../../test/harness/textFormatPrinter.js'
import type { JsonObject } from './jsonValue.js'
import { resolveSigningTarget, type SigningTargetInput } from './signingTarget.js'

const ROUTE = 'httproute/mcp/aws-mcp/rule/0/match/0/gw_example_com'
const AWS_MCP = 'aws-mcp.us-east-1.api.aws'

function leaf(key: string): string {
  return `xds.route_metadata.filter_metadata['mcp_sigv4']['${key}']`
}

function metadataText(namespaces: Record<string, JsonObject>): string {
  return printMetadataShortDebugString({ filter_metadata: namespaces })
}

/** EG route metadata with one HTTPRoute resource per annotation set. */
function gatewayText(...annotations: Array<Record<string, string>>): string {
  const resources = annotations.map((a) => ({ kind: 'HTTPRoute', name: 'aws-mcp', annotations: a }))
  return metadataText({ 'envoy-gateway': { resources } })
}

function input(overrides: Partial<SigningTargetInput>): SigningTargetInput {
  return { callMetadata: {}, attributes: {}, requestPath: '/mcp', ...overrides }
}

function errorOf(value: SigningTargetInput, code: SignerErrorCode): string {
  try {
    resolveSigningTarget(value)
  } catch (err) {
    expect(isSignerError(err, code)).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected an error')
}

describe('resolveSigningTarget: pass-through', () => {
  it('returns null when no source sets host', () => {
    expect(resolveSigningTarget(input({}))).toBeNull()
    const attributes = {
      'xds.route_name': ROUTE,
      'xds.route_metadata': metadataText({
        mcp_sigv4: { region: 'us-east-1' },
        other: { host: 'x' },
      }),
      [leaf('region')]: 'us-east-1',
    }
    const callMetadata = { 'x-mcp-sigv4-region': 'us-east-1' }
    expect(resolveSigningTarget(input({ attributes, callMetadata }))).toBeNull()
  })

  it('treats empty and blank values as absent', () => {
    const attributes = {
      [leaf('host')]: '   ',
      'xds.route_metadata': metadataText({ mcp_sigv4: { host: '' } }),
    }
    const callMetadata = { 'x-mcp-sigv4-host': '' }
    expect(resolveSigningTarget(input({ attributes, callMetadata }))).toBeNull()
  })
})

describe('resolveSigningTarget: identities and policy keys', () => {
  it('reads the identity allowlist (comma-separated, deduplicated) and the policy name', () => {
    const callMetadata = {
      'x-mcp-sigv4-host': 'aws-mcp.us-east-1.api.aws',
      'x-mcp-sigv4-identities': ' prod , staging,prod ',
      'x-mcp-sigv4-policy': 'ops-tools',
    }
    const target = resolveSigningTarget(input({ callMetadata, requestPath: '/mcp' }))
    expect(target?.allowedIdentities).toEqual(['prod', 'staging'])
    expect(target?.policy).toBe('ops-tools')
  })

  it('rejects a malformed allowlist or policy name, naming the key', () => {
    const base = { 'x-mcp-sigv4-host': 'aws-mcp.us-east-1.api.aws' }
    expect(() => resolveSigningTarget(input({ callMetadata: { ...base, 'x-mcp-sigv4-identities': 'a,,b' }, requestPath: '/' }))).toThrow(/identities/)
    expect(() => resolveSigningTarget(input({ callMetadata: { ...base, 'x-mcp-sigv4-policy': 'bad name' }, requestPath: '/' }))).toThrow(/policy/)
  })
})

describe('resolveSigningTarget: sources', () => {
  it('reads gRPC initial metadata and infers region and service from the host', () => {
    const callMetadata = { 'x-mcp-sigv4-host': ' AWS-MCP.us-east-1.api.aws ' }
    expect(resolveSigningTarget(input({ callMetadata, requestPath: '/mcp?a=1' }))).toEqual({
      routeName: 'unknown',
      host: AWS_MCP,
      path: '/mcp',
      query: 'a=1',
      region: 'us-east-1',
      service: 'aws-mcp',
      identity: 'default',
      allowedIdentities: [],
      policy: undefined,
      sources: {
        host: 'grpc_metadata',
        region: 'inferred',
        service: 'inferred',
        identity: 'default',
      },
    })
  })

  it('accepts - and _ spellings in gRPC metadata names', () => {
    const callMetadata = {
      'x-mcp-sigv4-host': 'h.example',
      'x-mcp-sigv4-path_prefix': '/a',
      'x-mcp-sigv4-path-prefix-replacement': '/b',
      'x-mcp-sigv4-region': 'us-west-2',
      'x-mcp-sigv4-service': 'svc',
      'x-mcp-sigv4-identity': 'team',
      'x-mcp-sigv4-unknown': 'ignored',
    }
    expect(resolveSigningTarget(input({ callMetadata, requestPath: '/a/mcp' }))).toMatchObject({
      host: 'h.example',
      path: '/b/mcp',
      region: 'us-west-2',
      service: 'svc',
      identity: 'team',
    })
  })

  it('prefers the - spelling when both are present', () => {
    const callMetadata = {
      'x-mcp-sigv4-host': AWS_MCP,
      'x-mcp-sigv4-path_prefix': '/snake',
      'x-mcp-sigv4-path-prefix': '/dash',
      'x-mcp-sigv4-path-prefix-replacement': '/',
    }
    expect(resolveSigningTarget(input({ callMetadata, requestPath: '/dash/x' }))?.path).toBe('//x')
  })

  it('reads leaf attributes in any reasonable spelling of the CEL expression', () => {
    const attributes = {
      'xds.route_name': ROUTE,
      [`xds.route_metadata.filter_metadata["mcp_sigv4"]["host"]`]:
        'bedrock-agentcore.eu-central-1.amazonaws.com',
      [`xds.route_metadata.filter_metadata[ 'mcp_sigv4' ][ 'path' ]`]: '/runtimes/arn/invocations',
      'xds.route_metadata.filter_metadata.mcp_sigv4.identity': 'agents',
    }
    const requestPath = '/x?qualifier=DEFAULT'
    expect(resolveSigningTarget(input({ attributes, requestPath }))).toEqual({
      routeName: ROUTE,
      host: 'bedrock-agentcore.eu-central-1.amazonaws.com',
      path: '/runtimes/arn/invocations',
      query: 'qualifier=DEFAULT',
      region: 'eu-central-1',
      service: 'bedrock-agentcore',
      identity: 'agents',
      allowedIdentities: [],
      policy: undefined,
      sources: {
        host: 'attribute',
        path: 'attribute',
        identity: 'attribute',
        region: 'inferred',
        service: 'inferred',
      },
    })
  })

  it('reads the plain mcp_sigv4 namespace of xds.route_metadata', () => {
    const mcpSigv4 = {
      host: 'mcp.example.com',
      path_prefix: '/aws-mcp/',
      'path-prefix-replacement': '/',
      region: 'eu-west-1',
      service: 'execute-api',
      unknown: 5,
    }
    const text = metadataText({ mcp_sigv4: mcpSigv4, unrelated: { x: [1, { y: null }] } })
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': text }
    expect(resolveSigningTarget(input({ attributes, requestPath: '/aws-mcp/mcp' }))).toMatchObject({
      host: 'mcp.example.com',
      path: '/mcp',
      region: 'eu-west-1',
      service: 'execute-api',
      sources: {
        host: 'route_metadata',
        path_prefix: 'route_metadata',
        path_prefix_replacement: 'route_metadata',
        region: 'route_metadata',
        service: 'route_metadata',
      },
    })
  })

  it('reads Envoy Gateway annotations with - or _ in the key, first resource first', () => {
    const text = gatewayText(
      { 'mcp-sigv4-host': AWS_MCP, 'mcp-sigv4-path_prefix': '/aws-mcp', other: 'x' },
      {
        'mcp-sigv4-host': 'second.example',
        'mcp-sigv4-path-prefix-replacement': '/mcp',
        'mcp-sigv4-identity': 'eg',
      },
    )
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': text }
    expect(resolveSigningTarget(input({ attributes, requestPath: '/aws-mcp' }))).toEqual({
      routeName: ROUTE,
      host: AWS_MCP,
      path: '/mcp',
      query: '',
      region: 'us-east-1',
      service: 'aws-mcp',
      identity: 'eg',
      allowedIdentities: [],
      policy: undefined,
      sources: {
        host: 'gateway_annotation',
        path_prefix: 'gateway_annotation',
        path_prefix_replacement: 'gateway_annotation',
        identity: 'gateway_annotation',
        region: 'inferred',
        service: 'inferred',
      },
    })
  })

  it('parses the EG form written with multi-line whitespace and UTF-8 escapes', () => {
    const text = [
      'filter_metadata {',
      '  key: "envoy-gateway"',
      '  value {',
      '    fields { key: "resources" value { list_value { values { struct_value {',
      '      fields { key: "annotations" value { struct_value {',
      `        fields { key: "mcp-sigv4-host"  value {  string_value:  "${AWS_MCP}" } }`,
      '        fields { key: "note" value { string_value: "caf\\303\\251" } }',
      '      } } }',
      '    } } } } }',
      '  }',
      '}',
    ].join('\n')
    const attributes = { 'xds.route_metadata': text }
    expect(resolveSigningTarget(input({ attributes }))?.host).toBe(AWS_MCP)
  })

  it('lets plain mcp_sigv4 win over EG annotations, per key', () => {
    const text = metadataText({
      mcp_sigv4: { host: 'plain.us-east-1.api.aws' },
      'envoy-gateway': {
        resources: [
          { annotations: { 'mcp-sigv4-host': 'eg.example', 'mcp-sigv4-region': 'eu-west-3' } },
        ],
      },
    })
    const target = resolveSigningTarget(input({ attributes: { 'xds.route_metadata': text } }))
    expect(target).toMatchObject({
      host: 'plain.us-east-1.api.aws',
      region: 'eu-west-3',
      service: 'plain',
      sources: { host: 'route_metadata', region: 'gateway_annotation', service: 'inferred' },
    })
  })

  it('uses static routes by xds.route_name only', () => {
    const staticRoutes = {
      [ROUTE]: { host: AWS_MCP, path: '/mcp', identity: 'static' },
      unknown: { host: 'never.example' },
    }
    const attributes = { 'xds.route_name': ROUTE }
    expect(resolveSigningTarget(input({ attributes, staticRoutes, requestPath: '/x?y' }))).toEqual({
      routeName: ROUTE,
      host: AWS_MCP,
      path: '/mcp',
      query: 'y',
      region: 'us-east-1',
      service: 'aws-mcp',
      identity: 'static',
      allowedIdentities: [],
      policy: undefined,
      sources: {
        host: 'static_config',
        path: 'static_config',
        identity: 'static_config',
        region: 'inferred',
        service: 'inferred',
      },
    })
    expect(resolveSigningTarget(input({ staticRoutes }))).toBeNull()
    const inherited = { 'xds.route_name': 'constructor' }
    expect(resolveSigningTarget(input({ attributes: inherited, staticRoutes }))).toBeNull()
  })
})

describe('resolveSigningTarget: precedence', () => {
  const allSources = (): SigningTargetInput => ({
    callMetadata: { 'x-mcp-sigv4-host': 'grpc.us-east-1.api.aws' },
    attributes: {
      'xds.route_name': ROUTE,
      [leaf('host')]: 'attr.us-east-1.api.aws',
      [leaf('region')]: 'eu-west-1',
      'xds.route_metadata': metadataText({
        mcp_sigv4: { host: 'meta.us-east-1.api.aws', region: 'eu-west-2', service: 'meta-svc' },
        'envoy-gateway': {
          resources: [
            {
              annotations: {
                'mcp-sigv4-host': 'eg.example',
                'mcp-sigv4-service': 'eg-svc',
                'mcp-sigv4-path': '/eg',
              },
            },
          ],
        },
      }),
    },
    requestPath: '/mcp',
    staticRoutes: {
      [ROUTE]: {
        host: 'static.example',
        region: 'ap-south-1',
        service: 's',
        path: '/static',
        identity: 'ops',
      },
    },
  })

  it('takes each key from the highest source that has it', () => {
    expect(resolveSigningTarget(allSources())).toEqual({
      routeName: ROUTE,
      host: 'grpc.us-east-1.api.aws',
      path: '/eg',
      query: '',
      region: 'eu-west-1',
      service: 'meta-svc',
      identity: 'ops',
      allowedIdentities: [],
      policy: undefined,
      sources: {
        host: 'grpc_metadata',
        region: 'attribute',
        service: 'route_metadata',
        path: 'gateway_annotation',
        identity: 'static_config',
      },
    })
  })

  it('falls through a level whose value is blank', () => {
    const target = resolveSigningTarget({
      ...allSources(),
      callMetadata: { 'x-mcp-sigv4-host': ' ' },
    })
    expect(target?.host).toBe('attr.us-east-1.api.aws')
    expect(target?.sources.host).toBe('attribute')
  })
})

describe('resolveSigningTarget: errors', () => {
  it('names route, host and key when the region cannot be inferred', () => {
    const attributes = { 'xds.route_name': ROUTE, [leaf('host')]: 'mcp.internal.example.com' }
    expect(errorOf(input({ attributes }), 'ERR_ROUTE_TARGET_INCOMPLETE')).toBe(
      `cannot resolve signing region for route "${ROUTE}": host "mcp.internal.example.com" ` +
        'is not of a form it can be inferred from (<service>.<region>.api.aws, ' +
        '<service>.<region>.amazonaws.com, *.bedrock-agentcore.<region>.amazonaws.com); ' +
        'set the route key "region"',
    )
  })

  it('names the service key when only the region is known', () => {
    const callMetadata = {
      'x-mcp-sigv4-host': 'mcp.example.com',
      'x-mcp-sigv4-region': 'us-east-1',
    }
    expect(errorOf(input({ callMetadata }), 'ERR_ROUTE_TARGET_INCOMPLETE')).toMatch(
      /^cannot resolve signing service for route "unknown": host "mcp.example.com" .*"service"$/,
    )
    const withService = { ...callMetadata, 'x-mcp-sigv4-service': 'execute-api' }
    expect(resolveSigningTarget(input({ callMetadata: withService }))).toMatchObject({
      region: 'us-east-1',
      service: 'execute-api',
      sources: { region: 'grpc_metadata', service: 'grpc_metadata' },
    })
  })

  it('rejects a request outside path_prefix with ERR_PATH_REWRITE_MISMATCH', () => {
    const text = gatewayText({
      'mcp-sigv4-host': AWS_MCP,
      'mcp-sigv4-path-prefix': '/aws-mcp',
      'mcp-sigv4-path-prefix-replacement': '/mcp',
    })
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': text }
    const outside = input({ attributes, requestPath: '/other?x' })
    expect(errorOf(outside, 'ERR_PATH_REWRITE_MISMATCH')).toBe(
      `cannot rewrite path for route "${ROUTE}": request path "/other" does not start with ` +
        'path_prefix "/aws-mcp"',
    )
  })

  it('rejects invalid values naming route, key and source but not the attribute text', () => {
    const text = metadataText({
      mcp_sigv4: { host: `${AWS_MCP}/mcp`, secret_note: 'do-not-echo' },
    })
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': text }
    const message = errorOf(input({ attributes }), 'ERR_ROUTE_METADATA_INVALID')
    expect(message).toBe(
      `cannot use route key "host" for route "${ROUTE}": the value "${AWS_MCP}/mcp" from ` +
        'route_metadata is not a host name or [IPv6] address with optional :port',
    )
    expect(message).not.toContain('do-not-echo')
  })

  it('rejects a region with bad characters', () => {
    const callMetadata = { 'x-mcp-sigv4-host': AWS_MCP, 'x-mcp-sigv4-region': 'us east 1' }
    expect(errorOf(input({ callMetadata }), 'ERR_ROUTE_METADATA_INVALID')).toBe(
      'cannot use route key "region" for route "unknown": the value "us east 1" from ' +
        'grpc_metadata is not an AWS region like us-east-1',
    )
  })

  it('rejects non-string keys in route metadata, EG annotations and attributes', () => {
    const plain = metadataText({ mcp_sigv4: { host: AWS_MCP, region: 5 } })
    const invalid = 'ERR_ROUTE_METADATA_INVALID'
    expect(errorOf(input({ attributes: { 'xds.route_metadata': plain } }), invalid)).toBe(
      'cannot use route key "region" for route "unknown": the value from route_metadata is ' +
        'a number, expected a string',
    )
    const eg = metadataText({
      'envoy-gateway': { resources: [{ annotations: { 'mcp-sigv4-host': true } }] },
    })
    expect(errorOf(input({ attributes: { 'xds.route_metadata': eg } }), invalid)).toBe(
      'cannot use route key "host" for route "unknown": the value from gateway_annotation is ' +
        'a boolean, expected a string',
    )
    expect(errorOf(input({ attributes: { [leaf('host')]: 42 } }), invalid)).toBe(
      'cannot use route key "host" for route "unknown": the value from attribute is a number, ' +
        'expected a string',
    )
  })

  it('rejects xds.route_metadata that is not text', () => {
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': { filter_metadata: {} } }
    expect(errorOf(input({ attributes }), 'ERR_ROUTE_METADATA_INVALID')).toBe(
      `cannot read route metadata of route "${ROUTE}": attribute xds.route_metadata is an ` +
        'object, expected protobuf text format',
    )
  })

  it('reports malformed text with route name and offset, without echoing it', () => {
    const text =
      'filter_metadata { key: "mcp_sigv4" value { fields { key: "host" value { string_value: ' +
      '"secret-value } } } }'
    const attributes = { 'xds.route_name': ROUTE, 'xds.route_metadata': text }
    expect(errorOf(input({ attributes }), 'ERR_ROUTE_METADATA_INVALID')).toBe(
      `cannot parse route metadata of route "${ROUTE}": unterminated string literal at offset 86`,
    )
  })

  it('applies the text format limits it is given', () => {
    const limited = {
      ...input({ attributes: { 'xds.route_metadata': 'a { b { } }' } }),
      textFormatLimits: { maxDepth: 2 },
    }
    expect(errorOf(limited, 'ERR_ROUTE_METADATA_INVALID')).toBe(
      'cannot parse route metadata of route "unknown": expected nesting of at most 2 messages ' +
        'at offset 6',
    )
  })

  it('tolerates odd content in namespaces it does not read', () => {
    const text =
      'filter_metadata { key: "other" value { fields { key: "k" value { string_value: "\\377" ' +
      `} } } } ${metadataText({ mcp_sigv4: { host: AWS_MCP } })}`
    expect(resolveSigningTarget(input({ attributes: { 'xds.route_metadata': text } }))?.host).toBe(
      AWS_MCP,
    )
  })
})
