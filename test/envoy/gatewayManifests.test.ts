import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { arrayAt, at, isRecord, only, recordAt, stringAt } from './jsonAccess.js'
import type { JsonRecord } from './jsonAccess.js'

const MANIFESTS = fileURLToPath(new URL('../../envoy/gateway/mcp-sigv4.yaml', import.meta.url))
const ENVOY_YAML = fileURLToPath(new URL('../../envoy/envoy.yaml', import.meta.url))

// EG's CRD pattern for processingMode.*.attributes items (api/v1alpha1/ext_proc_types.go).
const EG_ATTRIBUTE_PATTERN =
  /^(connection\.|source\.|destination\.|request\.|response\.|upstream\.|xds\.route_)[a-z_1-9]*$/
// EG copies only annotations with this prefix into route metadata, with the prefix stripped.
const EG_PREFIX = 'gateway.envoyproxy.io/'
const SIGV4_KEYS = ['host', 'path', 'region', 'service', 'identity']

let docs: JsonRecord[]

beforeAll(() => {
  const parsed = parseAllDocuments(readFileSync(MANIFESTS, 'utf8'))
  for (const doc of parsed) expect(doc.errors).toEqual([])
  docs = parsed.map((doc) => doc.toJS() as unknown).filter(isRecord)
})

function ofKind(kind: string, name?: string): JsonRecord {
  const match = (d: JsonRecord): boolean =>
    d['kind'] === kind && (name === undefined || at(d, 'metadata', 'name') === name)
  return only(docs, match, `${kind} ${name ?? ''}`)
}

/** What EG writes into the route metadata's `annotations` for an HTTPRoute. */
function egRouteAnnotations(route: JsonRecord): Record<string, string> {
  const annotations = recordAt(route, 'metadata', 'annotations')
  return Object.fromEntries(
    Object.entries(annotations)
      .filter(([key]) => key.startsWith(EG_PREFIX))
      .map(([key, value]) => [key.slice(EG_PREFIX.length), String(value)]),
  )
}

/** The signing target the server reads from `mcp-sigv4-<key>` annotations. */
function signingTarget(route: JsonRecord): Record<string, string> {
  const annotations = egRouteAnnotations(route)
  return Object.fromEntries(
    Object.entries(annotations)
      .filter(([key]) => key.startsWith('mcp-sigv4-'))
      .map(([key, value]) => [key.slice('mcp-sigv4-'.length), value]),
  )
}

function urlRewriteOf(route: JsonRecord): JsonRecord {
  const filters = arrayAt(route, 'spec', 'rules', 0, 'filters').filter(isRecord)
  const rewrite = only(filters, (f) => f['type'] === 'URLRewrite', 'URLRewrite filter')
  return recordAt(rewrite, 'urlRewrite')
}

function extProcOf(): JsonRecord {
  return recordAt(ofKind('EnvoyExtensionPolicy'), 'spec', 'extProc', 0)
}

/** Bytes of a Kubernetes binary quantity such as `4Mi`. */
function quantityBytes(quantity: string): number {
  const units: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity)
  if (match === null) throw new Error(`cannot parse quantity: ${quantity}`)
  return Number(match[1]) * (units[match[2] ?? ''] ?? Number.NaN)
}

describe('envoy/gateway/mcp-sigv4.yaml', () => {
  it('holds exactly the expected resources', () => {
    const kinds = docs.map((d) => `${String(d['kind'])}/${String(at(d, 'metadata', 'name'))}`)
    expect(kinds).toEqual([
      'Namespace/mcp',
      'ServiceAccount/mcp-sigv4-extproc',
      'Deployment/mcp-sigv4-extproc',
      'Service/mcp-sigv4-extproc',
      'EnvoyExtensionPolicy/mcp-sigv4',
      'Backend/aws-mcp-us-east-1',
      'BackendTLSPolicy/aws-mcp-us-east-1-tls',
      'HTTPRoute/aws-mcp',
      'ClientTrafficPolicy/mcp-buffer',
    ])
  })

  it('has HTTPRoute annotations that name the full signing target', () => {
    expect(signingTarget(ofKind('HTTPRoute'))).toEqual({
      host: 'aws-mcp.us-east-1.api.aws',
      path: '/mcp',
      region: 'us-east-1',
      service: 'aws-mcp',
      identity: 'default',
    })
    expect(Object.keys(signingTarget(ofKind('HTTPRoute'))).sort()).toEqual([...SIGV4_KEYS].sort())
  })

  it('rewrites to exactly the host and full path the annotations sign', () => {
    const route = ofKind('HTTPRoute')
    const target = signingTarget(route)
    const rewrite = urlRewriteOf(route)
    expect(rewrite['hostname']).toBe(target['host'])
    expect(rewrite['path']).toEqual({ type: 'ReplaceFullPath', replaceFullPath: target['path'] })
    expect(at(route, 'spec', 'rules', 0, 'timeouts', 'request')).toBe('0s')
  })

  it('sends the rewritten request to a TLS Backend for the signed host', () => {
    const route = ofKind('HTTPRoute')
    const host = signingTarget(route)['host']
    const backendRef = recordAt(route, 'spec', 'rules', 0, 'backendRefs', 0)
    expect(backendRef).toMatchObject({ group: 'gateway.envoyproxy.io', kind: 'Backend', port: 443 })
    const backend = ofKind('Backend', stringAt(backendRef, 'name'))
    expect(at(backend, 'spec', 'endpoints')).toEqual([{ fqdn: { hostname: host, port: 443 } }])
    const tls = ofKind('BackendTLSPolicy')
    expect(at(tls, 'apiVersion')).toBe('gateway.networking.k8s.io/v1')
    expect(at(tls, 'spec', 'targetRefs')).toEqual([
      { group: 'gateway.envoyproxy.io', kind: 'Backend', name: at(backend, 'metadata', 'name') },
    ])
    expect(at(tls, 'spec', 'validation')).toEqual({
      wellKnownCACertificates: 'System',
      hostname: host,
    })
  })

  it('attaches the EnvoyExtensionPolicy to the HTTPRoute, fail closed, body buffered', () => {
    const policy = ofKind('EnvoyExtensionPolicy')
    const route = ofKind('HTTPRoute')
    expect(at(policy, 'metadata', 'namespace')).toBe(at(route, 'metadata', 'namespace'))
    expect(at(policy, 'spec', 'targetRefs')).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'HTTPRoute',
        name: at(route, 'metadata', 'name'),
      },
    ])
    const extProc = extProcOf()
    expect(extProc['messageTimeout']).toBe('2s')
    expect(extProc['failOpen']).toBe(false)
    expect(at(extProc, 'processingMode', 'request', 'body')).toBe('Buffered')
    expect(recordAt(extProc, 'processingMode')['response']).toBeUndefined()
  })

  it('requests xds.route_metadata and only attributes that match EG CRD pattern', () => {
    const attributes = arrayAt(extProcOf(), 'processingMode', 'request', 'attributes')
    expect(attributes).toEqual(expect.arrayContaining(['xds.route_metadata', 'xds.route_name']))
    for (const attribute of attributes) expect(attribute).toMatch(EG_ATTRIBUTE_PATTERN)
    // The reason the server parses the text form: EG rejects CEL leaf paths.
    expect("xds.route_metadata.filter_metadata['mcp_sigv4']['host']").not.toMatch(
      EG_ATTRIBUTE_PATTERN,
    )
  })

  it('points the ext_proc backendRef at the Service gRPC port of the Deployment', () => {
    const ref = recordAt(extProcOf(), 'backendRefs', 0)
    const service = ofKind('Service', stringAt(ref, 'name'))
    const port = only(
      arrayAt(service, 'spec', 'ports').filter(isRecord),
      (p) => p['port'] === ref['port'],
      'Service port for the backendRef',
    )
    expect(port).toMatchObject({ name: 'grpc', port: 50051, targetPort: 'grpc' })
    const container = recordAt(ofKind('Deployment'), 'spec', 'template', 'spec', 'containers', 0)
    expect(container['ports']).toEqual([
      { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
      { name: 'http', containerPort: 9090, protocol: 'TCP' },
    ])
    expect(at(service, 'spec', 'selector')).toEqual(
      at(ofKind('Deployment'), 'spec', 'template', 'metadata', 'labels'),
    )
  })

  it('probes /healthz and /readyz on 9090 and runs non-root', () => {
    const pod = recordAt(ofKind('Deployment'), 'spec', 'template', 'spec')
    const container = recordAt(pod, 'containers', 0)
    expect(at(container, 'livenessProbe', 'httpGet')).toEqual({ path: '/healthz', port: 'http' })
    expect(at(container, 'readinessProbe', 'httpGet')).toEqual({ path: '/readyz', port: 'http' })
    expect(at(pod, 'securityContext', 'runAsNonRoot')).toBe(true)
    expect(at(container, 'securityContext', 'allowPrivilegeEscalation')).toBe(false)
    expect(pod['terminationGracePeriodSeconds']).toBeTypeOf('number')
    expect(pod['serviceAccountName']).toBe(at(ofKind('ServiceAccount'), 'metadata', 'name'))
  })

  it('raises the Gateway buffer limit to the standalone Envoy listener limit', () => {
    const policy = ofKind('ClientTrafficPolicy')
    const parent = recordAt(ofKind('HTTPRoute'), 'spec', 'parentRefs', 0)
    expect(at(policy, 'metadata', 'namespace')).toBe(parent['namespace'])
    expect(at(policy, 'spec', 'targetRefs')).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: parent['name'] },
    ])
    const envoyYaml = parse(readFileSync(ENVOY_YAML, 'utf8')) as unknown
    const listenerLimit = at(envoyYaml, 'static_resources', 'listeners', 0)
    expect(quantityBytes(stringAt(policy, 'spec', 'connection', 'bufferLimit'))).toBe(
      at(listenerLimit, 'per_connection_buffer_limit_bytes'),
    )
  })
})
