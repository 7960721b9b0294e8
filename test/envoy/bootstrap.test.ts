import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Root } from 'protobufjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadEnvoyRoot } from './envoyProtos.js'
import { arrayAt, at, isRecord, only, recordAt, stringAt } from './jsonAccess.js'
import type { JsonRecord } from './jsonAccess.js'
import { checkProtoJson } from './protoJsonChecker.js'

const ENVOY_YAML = fileURLToPath(new URL('../../envoy/envoy.yaml', import.meta.url))
const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap'
const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc'

// JSON paths of the pieces the negative tests mutate.
const HCM = '$.static_resources.listeners[0].filter_chains[0].filters[0].typed_config'
const EXT_PROC = `${HCM}.http_filters[0].typed_config`
const ROUTES = `${HCM}.route_config.virtual_hosts[0].routes`

let root: Root
let config: JsonRecord

beforeAll(() => {
  root = loadEnvoyRoot()
  config = recordAt(parse(readFileSync(ENVOY_YAML, 'utf8')))
})

function hcmOf(doc: unknown): JsonRecord {
  const listener = at(doc, 'static_resources', 'listeners', 0)
  return recordAt(listener, 'filter_chains', 0, 'filters', 0, 'typed_config')
}

function httpFilter(doc: unknown, name: string): JsonRecord {
  const filters = arrayAt(hcmOf(doc), 'http_filters').filter(isRecord)
  return only(filters, (f) => f['name'] === name, `http filter ${name}`)
}

function extProcOf(doc: unknown): JsonRecord {
  return recordAt(httpFilter(doc, EXT_PROC_FILTER), 'typed_config')
}

function routeNamed(doc: unknown, name: string): JsonRecord {
  const routes = arrayAt(hcmOf(doc), 'route_config', 'virtual_hosts', 0, 'routes').filter(isRecord)
  return only(routes, (r) => r['name'] === name, `route ${name}`)
}

function clusterNamed(doc: unknown, name: string): JsonRecord {
  const clusters = arrayAt(doc, 'static_resources', 'clusters').filter(isRecord)
  return only(clusters, (c) => c['name'] === name, `cluster ${name}`)
}

/** Envoy's path_separated_prefix: the path (no query) is the prefix or continues with `/`. */
function matchesSeparatedPrefix(prefix: string, path: string): boolean {
  const justPath = path.split(/[?#]/, 1)[0] ?? ''
  return justPath === prefix || justPath.startsWith(`${prefix}/`)
}

/** Envoy's regex_rewrite: RE2 replaceAll on the path only, `\N` groups, query kept. */
function applyRegexRewrite(path: string, regex: string, substitution: string): string {
  const cut = path.search(/[?#]/)
  const justPath = cut === -1 ? path : path.slice(0, cut)
  const rest = cut === -1 ? '' : path.slice(cut)
  const jsSubstitution = substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1')
  return justPath.replace(new RegExp(regex, 'g'), jsSubstitution) + rest
}

/** The path part of what the router sends upstream for `path`, given a route action. */
function rewrittenPath(action: JsonRecord, matchPrefix: string, path: string): string {
  const justPath = path.split(/[?#]/, 1)[0] ?? ''
  if (typeof action['prefix_rewrite'] === 'string') {
    return action['prefix_rewrite'] + justPath.slice(matchPrefix.length)
  }
  const regex = stringAt(action, 'regex_rewrite', 'pattern', 'regex')
  const substitution = stringAt(action, 'regex_rewrite', 'substitution')
  return applyRegexRewrite(justPath, regex, substitution)
}

/** The path the server signs for `path`, from the `mcp_sigv4` keys (full or prefix form). */
function signedPath(target: Readonly<Record<string, string | undefined>>, path: string): string {
  const justPath = path.split(/[?#]/, 1)[0] ?? ''
  if (target['path'] !== undefined) return target['path']
  const prefix = target['path_prefix'] ?? ''
  return (target['path_prefix_replacement'] ?? '') + justPath.slice(prefix.length)
}

const SAMPLE_SUFFIXES = ['', '/', '/mcp', '/a/b', '?x=1', '/?x=1']

/** Asserts route ↔ cluster ↔ signing target agreement for one AWS-bound route. */
function expectRouteMatchesTarget(doc: unknown, routeName: string, target: Record<string, string>) {
  const route = routeNamed(doc, routeName)
  const action = recordAt(route, 'route')
  const prefix = stringAt(route, 'match', 'path_separated_prefix')
  expect(action['host_rewrite_literal']).toBe(target['host'])
  expect(action['auto_host_rewrite']).toBeUndefined()
  for (const suffix of SAMPLE_SUFFIXES) {
    const path = `${prefix}${suffix}`
    expect(matchesSeparatedPrefix(prefix, path)).toBe(true)
    expect({ path, upstream: rewrittenPath(action, prefix, path) }).toEqual({
      path,
      upstream: signedPath(target, path),
    })
  }
  expect(matchesSeparatedPrefix(prefix, `${prefix}x`)).toBe(false)
  const cluster = clusterNamed(doc, stringAt(action, 'cluster'))
  const tls = recordAt(cluster, 'transport_socket', 'typed_config')
  expect(tls['sni']).toBe(target['host'])
  const validation = at(tls, 'common_tls_context', 'validation_context')
  expect(at(validation, 'match_typed_subject_alt_names')).toEqual([
    { san_type: 'DNS', matcher: { exact: target['host'] } },
  ])
  const endpoint = at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint')
  expect(at(endpoint, 'address', 'socket_address')).toEqual({
    address: target['host'],
    port_value: 443,
  })
}

describe('envoy/envoy.yaml decoded as envoy.config.bootstrap.v3.Bootstrap', () => {
  it('has no problem against the upstream Envoy protos', () => {
    expect(checkProtoJson(root, BOOTSTRAP, config).problems).toEqual([])
  })

  it('resolves every @type to a loaded message type', () => {
    const types = [...new Set(checkProtoJson(root, BOOTSTRAP, config).anyTypes)].sort()
    expect(types).toEqual([
      'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      'envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
      'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      'envoy.extensions.filters.http.router.v3.Router',
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    ])
  })

  it('configures ext_proc: headers + buffered body, no response path, fail closed', () => {
    const extProc = extProcOf(config)
    expect(at(extProc, 'grpc_service', 'envoy_grpc', 'cluster_name')).toBe('mcp_sigv4_extproc')
    expect(extProc['processing_mode']).toEqual({
      request_header_mode: 'SEND',
      response_header_mode: 'SKIP',
      request_body_mode: 'BUFFERED',
      response_body_mode: 'NONE',
      request_trailer_mode: 'SKIP',
      response_trailer_mode: 'SKIP',
    })
    expect(extProc['request_attributes']).toEqual(
      expect.arrayContaining(['xds.route_metadata', 'xds.route_name']),
    )
    expect(extProc['failure_mode_allow']).toBe(false)
    expect(extProc['message_timeout']).toBe('2s')
    expect(extProc['max_message_timeout']).toBe('10s')
    expect(extProc['allow_mode_override']).toBe(true)
    expect(extProc['route_cache_action']).toBe('RETAIN')
  })

  it('runs ext_proc before the router, which is last', () => {
    const names = arrayAt(hcmOf(config), 'http_filters').map((f) => at(f, 'name'))
    expect(names).toEqual([EXT_PROC_FILTER, 'envoy.filters.http.router'])
  })

  it('raises the buffer limit to 4 MiB and disables route timeouts for SSE', () => {
    const listener = at(config, 'static_resources', 'listeners', 0)
    expect(at(listener, 'per_connection_buffer_limit_bytes')).toBe(4 * 1024 * 1024)
    expect(hcmOf(config)['stream_idle_timeout']).toBe('3600s')
    for (const name of ['aws_mcp_us_east_1', 'agentcore_gateway_us_west_2']) {
      expect(at(routeNamed(config, name), 'route', 'timeout')).toBe('0s')
    }
  })

  it('signs the AWS MCP route for exactly the host and path the router sends', () => {
    const route = routeNamed(config, 'aws_mcp_us_east_1')
    const meta = recordAt(route, 'metadata', 'filter_metadata', 'mcp_sigv4')
    expect(meta).toEqual({
      host: 'aws-mcp.us-east-1.api.aws',
      path: '/mcp',
      region: 'us-east-1',
      service: 'aws-mcp',
      identity: 'default',
    })
    expectRouteMatchesTarget(config, 'aws_mcp_us_east_1', meta as Record<string, string>)
  })

  it('signs the AgentCore route from per-route gRPC metadata that mirrors its rewrite', () => {
    const route = routeNamed(config, 'agentcore_gateway_us_west_2')
    const perFilter = recordAt(route, 'typed_per_filter_config', EXT_PROC_FILTER)
    const entries = arrayAt(perFilter, 'overrides', 'grpc_initial_metadata')
    const target = Object.fromEntries(
      entries.map((e) => [stringAt(e, 'key').replace(/^x-mcp-sigv4-/, ''), stringAt(e, 'value')]),
    )
    expect(target).toEqual({
      host: 'my-gateway-a1b2c3d4e5.gateway.bedrock-agentcore.us-west-2.amazonaws.com',
      path: '/mcp',
      region: 'us-west-2',
      service: 'bedrock-agentcore',
      identity: 'default',
    })
    expect(entries.every((e) => stringAt(e, 'key').startsWith('x-mcp-sigv4-'))).toBe(true)
    expectRouteMatchesTarget(config, 'agentcore_gateway_us_west_2', target)
  })

  it('disables ext_proc on the non-AWS route under the filter name', () => {
    const route = routeNamed(config, 'envoy_healthz')
    expect(route['typed_per_filter_config']).toEqual({
      [EXT_PROC_FILTER]: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
        disabled: true,
      },
    })
    expect(route['metadata']).toBeUndefined()
  })

  it('sends response headers on the policy route so tools/list responses can be filtered', () => {
    const route = routeNamed(config, 'aws_mcp_us_east_1_ops')
    const perRoute = recordAt(route, 'typed_per_filter_config', EXT_PROC_FILTER)
    expect(recordAt(perRoute, 'overrides', 'processing_mode')['response_header_mode']).toBe('SEND')
    expect(recordAt(route, 'metadata', 'filter_metadata', 'mcp_sigv4')).toEqual({ host: 'aws-mcp.us-east-1.api.aws', path: '/mcp', policy: 'ops' })
    expect(extProcOf(config)['allow_mode_override']).toBe(true)
  })

  it('closes ext_proc streams gracefully (no stream reset per request)', () => {
    expect(config['layered_runtime']).toEqual({
      layers: [{ name: 'static', static_layer: { 'envoy.reloadable_features.ext_proc_graceful_grpc_close': true } }],
    })
  })

  it('reaches the ext_proc server over HTTP/2 on 127.0.0.1:50051, health on 9090 /readyz', () => {
    const cluster = clusterNamed(config, 'mcp_sigv4_extproc')
    const options = recordAt(
      cluster,
      'typed_extension_protocol_options',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    )
    expect(at(options, 'explicit_http_config', 'http2_protocol_options')).toBeTypeOf('object')
    const endpoint = at(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint')
    expect(at(endpoint, 'address', 'socket_address')).toEqual({
      address: '127.0.0.1',
      port_value: 50051,
    })
    expect(at(endpoint, 'health_check_config', 'port_value')).toBe(9090)
    expect(at(cluster, 'health_checks', 0, 'http_health_check', 'path')).toBe('/readyz')
  })
})

describe('protoJsonChecker catches mistakes fromObject would ignore', () => {
  /** Checks a mutated deep copy of envoy.yaml and returns the problem paths. */
  function problemsAfter(mutate: (doc: JsonRecord) => void): { path: string; message: string }[] {
    const doc = structuredClone(config)
    mutate(doc)
    return checkProtoJson(root, BOOTSTRAP, doc).problems
  }

  function paths(mutate: (doc: JsonRecord) => void): string[] {
    return problemsAfter(mutate).map((p) => p.path)
  }

  it('reports an unknown field', () => {
    const problems = problemsAfter((doc) => {
      extProcOf(doc)['message_timout'] = '2s'
    })
    expect(problems).toEqual([
      {
        path: `${EXT_PROC}.message_timout`,
        message:
          'unknown field "message_timout" of ' +
          'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      },
    ])
  })

  it('reports a misspelled enum value', () => {
    const problems = problemsAfter((doc) => {
      recordAt(extProcOf(doc), 'processing_mode')['request_body_mode'] = 'BUFFER'
    })
    expect(problems.map((p) => p.path)).toEqual([`${EXT_PROC}.processing_mode.request_body_mode`])
    expect(problems[0]?.message).toContain('unknown value "BUFFER" of enum')
  })

  it('reports an @type that does not resolve', () => {
    const problems = problemsAfter((doc) => {
      recordAt(httpFilter(doc, 'envoy.filters.http.router'), 'typed_config')['@type'] =
        'type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr'
    })
    expect(problems.map((p) => p.path)).toEqual([`${HCM}.http_filters[1].typed_config["@type"]`])
  })

  it('reports a bare type name and a foreign type URL prefix', () => {
    expect(
      paths((doc) => {
        recordAt(httpFilter(doc, 'envoy.filters.http.router'), 'typed_config')['@type'] =
          'type.googleapis.com/Router'
        recordAt(extProcOf(doc))['@type'] =
          'example.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor'
      }),
    ).toEqual([
      `${HCM}.http_filters[0].typed_config["@type"]`,
      `${HCM}.http_filters[1].typed_config["@type"]`,
    ])
  })

  it('reports a number where a string is required', () => {
    const problems = problemsAfter((doc) => {
      recordAt(extProcOf(doc), 'grpc_service', 'envoy_grpc')['cluster_name'] = 50051
    })
    expect(problems).toEqual([
      {
        path: `${EXT_PROC}.grpc_service.envoy_grpc.cluster_name`,
        message: 'expected a string, got number 50051',
      },
    ])
  })

  it('reports two members of one oneof (auto_host_rewrite next to host_rewrite_literal)', () => {
    const problems = problemsAfter((doc) => {
      recordAt(routeNamed(doc, 'aws_mcp_us_east_1'), 'route')['auto_host_rewrite'] = true
    })
    expect(problems).toEqual([
      {
        path: `${ROUTES}[0].route`,
        message:
          'oneof host_rewrite_specifier of envoy.config.route.v3.RouteAction has 2 members set: ' +
          'host_rewrite_literal, auto_host_rewrite',
      },
    ])
  })

  const routeIndex = (name: string): number =>
    arrayAt(hcmOf(config), 'route_config', 'virtual_hosts', 0, 'routes').findIndex((r) => isRecord(r) && r['name'] === name)

  it('reports both members of ExtProcPerRoute.override', () => {
    expect(
      paths((doc) => {
        const route = routeNamed(doc, 'envoy_healthz')
        recordAt(route, 'typed_per_filter_config', EXT_PROC_FILTER)['overrides'] = {}
      }),
    ).toEqual([`${ROUTES}[${routeIndex('envoy_healthz')}].typed_per_filter_config["envoy.filters.http.ext_proc"]`])
  })

  it('reports malformed Durations, camelCase keys, non-arrays and nulls', () => {
    const problems = problemsAfter((doc) => {
      const extProc = extProcOf(doc)
      extProc['message_timeout'] = 2
      extProc['max_message_timeout'] = '10 s'
      extProc['request_attributes'] = 'xds.route_name'
      extProc['failureModeAllow'] = false
      extProc['stat_prefix'] = null
    })
    expect(problems.map((p) => p.path)).toEqual([
      `${EXT_PROC}.stat_prefix`,
      `${EXT_PROC}.request_attributes`,
      `${EXT_PROC}.message_timeout`,
      `${EXT_PROC}.max_message_timeout`,
      `${EXT_PROC}.failureModeAllow`,
    ])
    expect(problems[4]?.message).toContain('(use the proto name failure_mode_allow)')
  })

  it('reports deprecated fields and out-of-range integers', () => {
    expect(
      paths((doc) => {
        const listener = recordAt(doc, 'static_resources', 'listeners', 0)
        listener['per_connection_buffer_limit_bytes'] = 2 ** 32
        const validation = recordAt(
          clusterNamed(doc, 'aws_mcp_us_east_1'),
          'transport_socket',
          'typed_config',
          'common_tls_context',
          'validation_context',
        )
        validation['match_subject_alt_names'] = [{ exact: 'aws-mcp.us-east-1.api.aws' }]
      }),
    ).toEqual([
      '$.static_resources.listeners[0].per_connection_buffer_limit_bytes',
      '$.static_resources.clusters[1].transport_socket.typed_config.common_tls_context' +
        '.validation_context.match_subject_alt_names',
    ])
  })

  it('accepts what proto3 JSON allows: uint32 as a string, wrappers as scalars, any Struct', () => {
    expect(
      paths((doc) => {
        const listener = recordAt(doc, 'static_resources', 'listeners', 0)
        listener['per_connection_buffer_limit_bytes'] = '4194304'
        hcmOf(doc)['normalize_path'] = false
        recordAt(routeNamed(doc, 'aws_mcp_us_east_1'), 'metadata', 'filter_metadata')['other'] = {
          nested: [1, 'two', null, { three: true }],
        }
        extProcOf(doc)['message_timeout'] = '0.25s'
      }),
    ).toEqual([])
  })

  it('reports a wrapper given as an object and an Any without @type', () => {
    expect(
      paths((doc) => {
        hcmOf(doc)['normalize_path'] = { value: true }
        delete recordAt(httpFilter(doc, 'envoy.filters.http.router'), 'typed_config')['@type']
      }),
    ).toEqual([`${HCM}.normalize_path`, `${HCM}.http_filters[1].typed_config["@type"]`])
  })
})
