import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config/index.js'
import type { Config } from '../../src/config/index.js'
import {
  GATEWAY_ANNOTATION_PREFIX,
  GATEWAY_NAMESPACE,
  ROUTE_KEYS,
  resolveSigningTarget,
} from '../../src/routing/index.js'
import type { JsonObject } from '../../src/routing/index.js'
import { keySpellings } from '../../src/routing/routeKeys.js'
import { printMetadataShortDebugString } from '../harness/textFormatPrinter.js'
import { arrayAt, at, isRecord, only, recordAt, stringAt } from './jsonAccess.js'
import type { JsonRecord } from './jsonAccess.js'

const GATEWAY_DIR = fileURLToPath(new URL('../../envoy/gateway/', import.meta.url))
const ENVOY_YAML = fileURLToPath(new URL('../../envoy/envoy.yaml', import.meta.url))
const MAIN_FILE = 'mcp-sigv4.yaml'
const MONITORING_FILE = 'podmonitor.yaml'

// EG's CRD pattern for processingMode.*.attributes items (api/v1alpha1/ext_proc_types.go).
const EG_ATTRIBUTE_PATTERN =
  /^(connection\.|source\.|destination\.|request\.|response\.|upstream\.|xds\.route_)[a-z_1-9]*$/
// EG copies only annotations with this prefix into route metadata, with the prefix stripped.
const EG_PREFIX = 'gateway.envoyproxy.io/'
const SIGV4_KEYS = ['host', 'path', 'region', 'service', 'identity']
/** The oldest Envoy Gateway release the manifests claim to work on (their first line says so). */
const MIN_EG = '1.6'

// ---------------------------------------------------------------------------------------------
// Allowlists of the Envoy Gateway and Gateway API fields the manifests may use: exactly those the
// fact sheet (shared/reference/envoy-gateway.md §1.1, §3) documents, with the EG release that
// added them. A field the fact sheet names without describing its contents is `opaque`. Fields
// that exist in the CRDs but are not in the fact sheet (Gateway API `sectionName`, `hostnames`,
// Exact / RegularExpression path matches, BackendTLSPolicy `caCertificateRefs`, …) are left out
// on purpose: add them here, from the CRD, when a manifest needs them.
// ---------------------------------------------------------------------------------------------

/** The allowed form of a value. */
type Shape =
  | { readonly type: 'object'; readonly fields: Readonly<Record<string, Field>> }
  | { readonly type: 'array'; readonly items: Shape; readonly maxItems?: number }
  | {
      readonly type: 'string'
      /** Allowed values, each with the EG release that accepts it. */
      readonly values?: Readonly<Record<string, string>>
      readonly pattern?: RegExp
    }
  | { readonly type: 'number' | 'boolean' | 'stringMap' | 'opaque' }

/** A field: its shape and, for EG fields, the release that added it. */
interface Field {
  readonly shape: Shape
  readonly since?: string
}

const str: Shape = { type: 'string' }
const num: Shape = { type: 'number' }
const bool: Shape = { type: 'boolean' }
const opaque: Shape = { type: 'opaque' }
const stringMap: Shape = { type: 'stringMap' }
const field = (shape: Shape, since?: string): Field =>
  since === undefined ? { shape } : { shape, since }
const obj = (fields: Record<string, Shape | Field>): Shape => ({
  type: 'object',
  fields: Object.fromEntries(
    Object.entries(fields).map(([key, f]) => [key, 'shape' in f ? f : field(f)]),
  ),
})
const arr = (items: Shape, maxItems?: number): Shape =>
  maxItems === undefined ? { type: 'array', items } : { type: 'array', items, maxItems }
const oneOf = (...values: string[]): Shape => ({
  type: 'string',
  values: Object.fromEntries(values.map((value) => [value, '0'])),
})
const pattern = (regex: RegExp): Shape => ({ type: 'string', pattern: regex })

/** Gateway API `Duration` (GEP-2257), the type of `messageTimeout` and route `timeouts`. */
const DURATION_PATTERN = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/
const DURATION = pattern(DURATION_PATTERN)
const METADATA = obj({ name: str, namespace: str, labels: stringMap, annotations: stringMap })
const targetRefs = (...kinds: string[]): Shape =>
  arr(obj({ group: str, kind: oneOf(...kinds), name: str }))

const EXT_PROC_PHASE = obj({
  body: field(
    {
      type: 'string',
      // FullDuplexStreamed: a Go constant in v1.4, accepted by the CRD enum from v1.5 (#6103).
      values: {
        Streamed: '1.1',
        Buffered: '1.1',
        BufferedPartial: '1.1',
        FullDuplexStreamed: '1.5',
      },
    },
    '1.1',
  ),
  attributes: field(arr(pattern(EG_ATTRIBUTE_PATTERN)), '1.3'),
})

const EXT_PROC = obj({
  backendRefs: field(
    arr(
      obj({
        group: str,
        kind: { type: 'string', values: { Service: '1.1', Backend: '1.1', ServiceImport: '1.5' } },
        name: str,
        namespace: str,
        port: num,
        weight: num,
        fallback: bool,
      }),
      16,
    ),
    '1.1',
  ),
  // `BackendCluster` settings of the ext_proc cluster: names only in the fact sheet.
  backendSettings: field(
    obj(
      Object.fromEntries(
        ['loadBalancer', 'retry', 'proxyProtocol', 'tcpKeepalive', 'healthCheck',
          'circuitBreaker', 'timeout', 'connection', 'dns', 'http2'].map((k) => [k, opaque]),
      ),
    ),
    '1.2',
  ),
  messageTimeout: field(DURATION, '1.1'),
  failOpen: field(bool, '1.1'),
  processingMode: field(
    obj({
      request: EXT_PROC_PHASE,
      response: EXT_PROC_PHASE,
      allowModeOverride: field(bool, '1.3'),
    }),
    '1.1',
  ),
  metadata: field(
    obj({
      accessibleNamespaces: arr(str),
      writableNamespaces: arr(pattern(/^(?!envoy\.filters\.http)/), 8),
    }),
    '1.3',
  ),
  shadowMode: field(bool, '1.9'),
  statusOnError: field(opaque, '1.9'),
  // `backendRef` (singular) is deprecated and rejected by a CEL rule: deliberately absent.
})

/** Per kind: accepted apiVersions (with the EG release) and the shape of `spec`. */
const RESOURCE_SHAPES: Readonly<
  Record<string, { apiVersions: Readonly<Record<string, string>>; spec: Shape }>
> = {
  EnvoyExtensionPolicy: {
    apiVersions: { 'gateway.envoyproxy.io/v1alpha1': '1.1' },
    spec: obj({
      targetRefs: field(
        targetRefs('Gateway', 'ListenerSet', 'HTTPRoute', 'GRPCRoute', 'TCPRoute', 'UDPRoute',
          'TLSRoute'),
        '1.1',
      ),
      targetSelectors: field(opaque, '1.1'),
      mergeType: field(str, '1.9'),
      extProc: field(arr(EXT_PROC, 16), '1.1'),
    }),
  },
  Backend: {
    apiVersions: { 'gateway.envoyproxy.io/v1alpha1': '1.1' },
    spec: obj({
      endpoints: field(arr(obj({ fqdn: obj({ hostname: str, port: num }) })), '1.1'),
      // tls on FQDN backends: v1.5; tls.sni: v1.6.
      tls: field(obj({ wellKnownCACertificates: oneOf('System'), sni: field(str, '1.6') }), '1.5'),
    }),
  },
  BackendTLSPolicy: {
    // v1alpha3 on EG v1.2–v1.5; the manifests target v1.6+, which serves v1.
    apiVersions: { 'gateway.networking.k8s.io/v1': '1.6' },
    spec: obj({
      targetRefs: arr(obj({ group: str, kind: str, name: str })),
      validation: obj({ wellKnownCACertificates: oneOf('System'), hostname: str }),
    }),
  },
  HTTPRoute: {
    apiVersions: { 'gateway.networking.k8s.io/v1': '1.1' },
    spec: obj({
      parentRefs: arr(obj({ name: str, namespace: str })),
      rules: arr(
        obj({
          name: str, // becomes sectionName in the route metadata
          matches: arr(obj({ path: obj({ type: oneOf('PathPrefix'), value: str }) })),
          filters: arr(
            obj({
              type: oneOf('URLRewrite', 'ExtensionRef'),
              urlRewrite: obj({
                hostname: str,
                path: obj({
                  type: oneOf('ReplaceFullPath', 'ReplacePrefixMatch'),
                  replaceFullPath: str,
                  replacePrefixMatch: str,
                }),
              }),
              extensionRef: obj({ group: str, kind: str, name: str }),
            }),
          ),
          backendRefs: arr(obj({ group: str, kind: str, name: str, port: num })),
          timeouts: obj({ request: DURATION, backendRequest: DURATION }),
        }),
      ),
    }),
  },
  ClientTrafficPolicy: {
    apiVersions: { 'gateway.envoyproxy.io/v1alpha1': '1.1' },
    spec: obj({
      targetRefs: targetRefs('Gateway'),
      connection: obj({ bufferLimit: pattern(/^\d+(Ki|Mi|Gi)?$/) }),
    }),
  },
}

/** Prometheus Operator `Duration` (monitoring.coreos.com CRDs). */
const PROM_DURATION = pattern(
  /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/,
)
/** PodMonitor fields used here (prometheus-operator API reference, not the EG fact sheet). */
const POD_MONITOR_SPEC = obj({
  selector: obj({ matchLabels: stringMap }),
  namespaceSelector: obj({ matchNames: arr(str), any: bool }),
  jobLabel: str,
  podMetricsEndpoints: arr(
    obj({
      port: str,
      path: str,
      interval: PROM_DURATION,
      scrapeTimeout: PROM_DURATION,
      scheme: oneOf('http', 'https'),
    }),
  ),
})

/** `a` is a later release than `b` (`major.minor`). */
function newer(a: string, b: string): boolean {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number)
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number)
  return aMajor !== bMajor ? aMajor > bMajor : aMinor > bMinor
}

/** Every way `value` departs from `shape`, as `path: problem` lines. */
function shapeProblems(value: unknown, shape: Shape, path: string): string[] {
  switch (shape.type) {
    case 'object':
      return objectProblems(value, shape.fields, path)
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: expected a list`]
      const tooMany = shape.maxItems !== undefined && value.length > shape.maxItems
      return [
        ...(tooMany ? [`${path}: more than ${shape.maxItems} items`] : []),
        ...value.flatMap((item, i) => shapeProblems(item, shape.items, `${path}[${i}]`)),
      ]
    }
    case 'string':
      return stringProblems(value, shape, path)
    case 'stringMap':
      return isRecord(value) && Object.values(value).every((v) => typeof v === 'string')
        ? []
        : [`${path}: expected a map of strings`]
    case 'opaque':
      return []
    default:
      return typeof value === shape.type ? [] : [`${path}: expected a ${shape.type}`]
  }
}

function objectProblems(
  value: unknown,
  fields: Readonly<Record<string, Field>>,
  path: string,
): string[] {
  if (!isRecord(value)) return [`${path}: expected an object`]
  return Object.entries(value).flatMap(([key, child]) => {
    const known = fields[key]
    if (known === undefined) return [`${path}.${key}: not a field the fact sheet documents`]
    const tooNew = known.since !== undefined && newer(known.since, MIN_EG)
    return [
      ...(tooNew ? [`${path}.${key}: needs EG v${known.since}, manifests target v${MIN_EG}`] : []),
      ...shapeProblems(child, known.shape, `${path}.${key}`),
    ]
  })
}

function stringProblems(value: unknown, shape: Shape & { type: 'string' }, path: string): string[] {
  if (typeof value !== 'string') return [`${path}: expected a string`]
  const problems: string[] = []
  if (shape.values !== undefined) {
    const since = shape.values[value]
    const allowed = Object.keys(shape.values).join('|')
    if (since === undefined) problems.push(`${path}: ${value} is not one of ${allowed}`)
    else if (newer(since, MIN_EG)) problems.push(`${path}: ${value} needs EG v${since}`)
  }
  if (shape.pattern !== undefined && !shape.pattern.test(value)) {
    problems.push(`${path}: ${value} does not match ${String(shape.pattern)}`)
  }
  return problems
}

/** Problems of one Envoy Gateway / Gateway API document. */
function resourceProblems(doc: JsonRecord): string[] {
  const kind = String(doc['kind'])
  const known = RESOURCE_SHAPES[kind]
  if (known === undefined) return [`${kind}: no allowlist for this kind`]
  const since = known.apiVersions[String(doc['apiVersion'])]
  const versionProblems =
    since === undefined
      ? [`${kind}: apiVersion ${String(doc['apiVersion'])} is not allowed`]
      : newer(since, MIN_EG)
        ? [`${kind}: apiVersion needs EG v${since}`]
        : []
  const document = obj({ apiVersion: str, kind: str, metadata: METADATA, spec: known.spec })
  return [...versionProblems, ...shapeProblems(doc, document, kind)]
}

// ---------------------------------------------------------------------------------------------

let docsByFile: Record<string, JsonRecord[]>
let docs: JsonRecord[]

function loadDocuments(file: string): JsonRecord[] {
  const parsed = parseAllDocuments(readFileSync(join(GATEWAY_DIR, file), 'utf8'))
  for (const doc of parsed) expect(doc.errors).toEqual([])
  return parsed.map((doc) => doc.toJS() as unknown).filter(isRecord)
}

beforeAll(() => {
  docsByFile = {
    [MAIN_FILE]: loadDocuments(MAIN_FILE),
    [MONITORING_FILE]: loadDocuments(MONITORING_FILE),
  }
  docs = Object.values(docsByFile).flat()
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

function podSpec(): JsonRecord {
  return recordAt(ofKind('Deployment'), 'spec', 'template', 'spec')
}

function containerOf(): JsonRecord {
  return recordAt(podSpec(), 'containers', 0)
}

/** The container's port number named `name`. */
function containerPort(name: string): number {
  const ports = arrayAt(containerOf(), 'ports').filter(isRecord)
  const port = only(ports, (p) => p['name'] === name, `container port ${name}`)
  return Number(port['containerPort'])
}

/** The server configuration the container starts with (embedded default + its env). */
function containerConfig(): Readonly<Config> {
  const env = Object.fromEntries(
    arrayAt(containerOf(), 'env')
      .filter(isRecord)
      .map((variable) => [stringAt(variable, 'name'), stringAt(variable, 'value')]),
  )
  return loadConfig({ env }).config
}

const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1))

/** Bytes of a Kubernetes binary quantity such as `4Mi`. */
function quantityBytes(quantity: string): number {
  const units: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity)
  if (match === null) throw new Error(`cannot parse quantity: ${quantity}`)
  return Number(match[1]) * (units[match[2] ?? ''] ?? Number.NaN)
}

describe('envoy/gateway manifests', () => {
  it('holds exactly the expected files and resources', () => {
    expect(readdirSync(GATEWAY_DIR).sort()).toEqual([MAIN_FILE, MONITORING_FILE])
    const names = (file: string): string[] =>
      (docsByFile[file] ?? []).map(
        (d) => `${String(d['kind'])}/${String(at(d, 'metadata', 'name'))}`,
      )
    expect(names(MAIN_FILE)).toEqual([
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
    expect(names(MONITORING_FILE)).toEqual(['PodMonitor/mcp-sigv4-extproc'])
  })

  it('states the oldest EG release the allowlists check against', () => {
    const firstLine = readFileSync(join(GATEWAY_DIR, MAIN_FILE), 'utf8').split('\n', 1)[0]
    expect(firstLine).toContain(`EG ≥ v${MIN_EG}`)
  })

  it('uses only fields and values the fact sheet documents, all available in that release', () => {
    const gatewayDocs = docs.filter((d) =>
      /^gateway\.(envoyproxy\.io|networking\.k8s\.io)\//.test(String(d['apiVersion'])),
    )
    expect(gatewayDocs.map((d) => d['kind'])).toEqual([
      'EnvoyExtensionPolicy',
      'Backend',
      'BackendTLSPolicy',
      'HTTPRoute',
      'ClientTrafficPolicy',
    ])
    expect(gatewayDocs.flatMap(resourceProblems)).toEqual([])
  })

  it('allowlist checker reports unknown keys, bad enum values, patterns and newer fields', () => {
    const policy = structuredClone(ofKind('EnvoyExtensionPolicy'))
    const extProc = recordAt(policy, 'spec', 'extProc', 0)
    extProc['backendRef'] = { name: 'x' }
    extProc['shadowMode'] = true
    const request = recordAt(extProc, 'processingMode', 'request')
    request['body'] = 'Buffer'
    request['attributes'] = ["xds.route_metadata.filter_metadata['mcp_sigv4']['host']"]
    extProc['messageTimeout'] = '2 seconds'
    expect(resourceProblems(policy)).toEqual([
      'EnvoyExtensionPolicy.spec.extProc[0].messageTimeout: 2 seconds does not match ' +
        String(DURATION_PATTERN),
      'EnvoyExtensionPolicy.spec.extProc[0].processingMode.request.body: Buffer is not one of ' +
        'Streamed|Buffered|BufferedPartial|FullDuplexStreamed',
      'EnvoyExtensionPolicy.spec.extProc[0].processingMode.request.attributes[0]: ' +
        "xds.route_metadata.filter_metadata['mcp_sigv4']['host'] does not match " +
        String(EG_ATTRIBUTE_PATTERN),
      'EnvoyExtensionPolicy.spec.extProc[0].backendRef: not a field the fact sheet documents',
      `EnvoyExtensionPolicy.spec.extProc[0].shadowMode: needs EG v1.9, manifests target v${MIN_EG}`,
    ])
  })
})

describe('envoy/gateway/mcp-sigv4.yaml', () => {
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

  it('spells every gateway.envoyproxy.io/ annotation as a route key the server reads', () => {
    // The server's keys; a change here means the README and these manifests need a look.
    expect([...ROUTE_KEYS]).toEqual([
      'host', 'path', 'path_prefix', 'path_prefix_replacement', 'region', 'service', 'identity',
      'identities', 'policy',
    ])
    const accepted = ROUTE_KEYS.flatMap((key) =>
      keySpellings(key).map((spelling) => GATEWAY_ANNOTATION_PREFIX + spelling),
    )
    expect(accepted).toContain('mcp-sigv4-path-prefix-replacement')
    expect(accepted).toContain('mcp-sigv4-path_prefix_replacement')
    for (const doc of docs) {
      const annotations = at(doc, 'metadata')
      const keys = isRecord(annotations) && isRecord(annotations['annotations'])
        ? Object.keys(annotations['annotations'])
        : []
      const egKeys = keys.filter((key) => key.startsWith(EG_PREFIX))
      if (doc['kind'] !== 'HTTPRoute') expect(egKeys, String(doc['kind'])).toEqual([])
      for (const key of egKeys) expect(accepted).toContain(key.slice(EG_PREFIX.length))
    }
  })

  it('resolves, in the server, to the target the annotations state (EG route metadata)', () => {
    const route = ofKind('HTTPRoute')
    const resource: JsonObject = {
      kind: 'HTTPRoute',
      name: stringAt(route, 'metadata', 'name'),
      namespace: stringAt(route, 'metadata', 'namespace'),
      sectionName: stringAt(route, 'spec', 'rules', 0, 'name'),
      annotations: egRouteAnnotations(route),
    }
    const text = printMetadataShortDebugString({
      filter_metadata: { [GATEWAY_NAMESPACE]: { resources: [resource] } },
    })
    const target = resolveSigningTarget({
      callMetadata: {},
      attributes: {
        'xds.route_name': 'httproute/mcp/aws-mcp/rule/0/match/0/*',
        'xds.route_metadata': text,
      },
      requestPath: '/aws-mcp?x=1',
    })
    const annotated = signingTarget(route)
    expect(target).toMatchObject({
      host: annotated['host'],
      path: annotated['path'],
      query: 'x=1',
      region: annotated['region'],
      service: annotated['service'],
      identity: annotated['identity'],
      sources: {
        host: 'gateway_annotation',
        path: 'gateway_annotation',
        region: 'gateway_annotation',
        service: 'gateway_annotation',
        identity: 'gateway_annotation',
      },
    })
    expect(Object.keys(containerConfig().identities)).toContain(annotated['identity'])
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
    expect(attributes).toEqual(['xds.route_name', 'xds.route_metadata'])
    for (const attribute of attributes) expect(attribute).toMatch(EG_ATTRIBUTE_PATTERN)
    // The reason the server parses the text form: EG rejects CEL leaf paths.
    expect("xds.route_metadata.filter_metadata['mcp_sigv4']['host']").not.toMatch(
      EG_ATTRIBUTE_PATTERN,
    )
  })

  it('points the ext_proc backendRef at the Service gRPC port of the Deployment', () => {
    const ref = recordAt(extProcOf(), 'backendRefs', 0)
    const service = ofKind('Service', stringAt(ref, 'name'))
    const namespace = at(ofKind('Deployment'), 'metadata', 'namespace')
    expect(at(service, 'metadata', 'namespace')).toBe(namespace)
    const port = only(
      arrayAt(service, 'spec', 'ports').filter(isRecord),
      (p) => p['port'] === ref['port'],
      'Service port for the backendRef',
    )
    expect(port).toMatchObject({ name: 'grpc', port: 50051, targetPort: 'grpc' })
    expect(containerOf()['ports']).toEqual([
      { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
      { name: 'http', containerPort: 9090, protocol: 'TCP' },
    ])
    for (const servicePort of arrayAt(service, 'spec', 'ports').filter(isRecord)) {
      expect(containerPort(stringAt(servicePort, 'targetPort'))).toBeTypeOf('number')
    }
    expect(at(service, 'spec', 'selector')).toEqual(
      at(ofKind('Deployment'), 'spec', 'template', 'metadata', 'labels'),
    )
  })

  it('listens where the container ports and probes say (config from the container env)', () => {
    const config = containerConfig()
    expect(containerPort('grpc')).toBe(portOf(config.server.grpc_address))
    expect(containerPort('http')).toBe(portOf(config.server.http_address))
    const container = containerOf()
    expect(at(container, 'livenessProbe', 'httpGet')).toEqual({ path: '/healthz', port: 'http' })
    expect(at(container, 'readinessProbe', 'httpGet')).toEqual({ path: '/readyz', port: 'http' })
  })

  it('accepts the bodies the ClientTrafficPolicy lets Envoy buffer', () => {
    const bufferLimit = stringAt(ofKind('ClientTrafficPolicy'), 'spec', 'connection', 'bufferLimit')
    expect(containerConfig().server.max_body_bytes).toBe(quantityBytes(bufferLimit))
  })

  it('outlasts preStop plus the server shutdown grace before the kubelet kills it', () => {
    const pod = podSpec()
    const preStop = arrayAt(containerOf(), 'lifecycle', 'preStop', 'exec', 'command')
    expect(preStop).toEqual(['sleep', '5'])
    const graceSeconds = containerConfig().server.shutdown_grace_seconds
    expect(graceSeconds).toBe(20)
    expect(pod['terminationGracePeriodSeconds']).toBeGreaterThan(5 + graceSeconds)
  })

  it('runs non-root, read-only, without privileges, with bounded memory and heap', () => {
    const pod = podSpec()
    const container = containerOf()
    expect(at(pod, 'securityContext')).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    })
    expect(at(pod, 'securityContext', 'runAsUser')).not.toBe(0)
    expect(at(container, 'securityContext')).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    })
    expect(pod['serviceAccountName']).toBe(at(ofKind('ServiceAccount'), 'metadata', 'name'))
    const limit = quantityBytes(stringAt(container, 'resources', 'limits', 'memory'))
    const request = quantityBytes(stringAt(container, 'resources', 'requests', 'memory'))
    expect(request).toBeLessThanOrEqual(limit)
    expect(at(container, 'resources', 'requests', 'cpu')).toBeTypeOf('string')
    const nodeOptions = only(
      arrayAt(container, 'env').filter(isRecord),
      (v) => v['name'] === 'NODE_OPTIONS',
      'NODE_OPTIONS',
    )
    const heap = /--max-old-space-size=(\d+)/.exec(stringAt(nodeOptions, 'value'))
    expect(Number(heap?.[1]) * 2 ** 20).toBeLessThanOrEqual(limit / 2)
  })

  it('leaves the AWS role to EKS Pod Identity or an IRSA annotation on the ServiceAccount', () => {
    const account = ofKind('ServiceAccount')
    const annotations = recordAt(account, 'metadata')['annotations']
    // Pod Identity needs none; IRSA needs eks.amazonaws.com/role-arn with a real role ARN.
    if (isRecord(annotations) && 'eks.amazonaws.com/role-arn' in annotations) {
      const roleArn = annotations['eks.amazonaws.com/role-arn']
      expect(roleArn).toMatch(/^arn:aws[a-z-]*:iam::\d{12}:role\//)
    }
    const text = readFileSync(join(GATEWAY_DIR, MAIN_FILE), 'utf8')
    expect(text).toContain('#   eks.amazonaws.com/role-arn: arn:aws:iam::')
    expect(text).toContain('create-pod-identity-association')
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

describe('envoy/gateway/podmonitor.yaml', () => {
  it('uses only the PodMonitor fields it knows', () => {
    const monitor = ofKind('PodMonitor')
    expect(monitor['apiVersion']).toBe('monitoring.coreos.com/v1')
    const document = obj({ apiVersion: str, kind: str, metadata: METADATA, spec: POD_MONITOR_SPEC })
    expect(shapeProblems(monitor, document, 'PodMonitor')).toEqual([])
  })

  it('selects the Deployment pods in their namespace and scrapes /metrics on the http port', () => {
    const monitor = ofKind('PodMonitor')
    const deployment = ofKind('Deployment')
    expect(at(monitor, 'metadata', 'namespace')).toBe(at(deployment, 'metadata', 'namespace'))
    const podLabels = recordAt(deployment, 'spec', 'template', 'metadata', 'labels')
    const selector = recordAt(monitor, 'spec', 'selector', 'matchLabels')
    expect(Object.keys(selector).length).toBeGreaterThan(0)
    expect(podLabels).toMatchObject(selector)
    const endpoints = arrayAt(monitor, 'spec', 'podMetricsEndpoints').filter(isRecord)
    expect(endpoints).toHaveLength(1)
    for (const endpoint of endpoints) {
      expect(endpoint['path']).toBe('/metrics')
      expect(containerPort(stringAt(endpoint, 'port'))).toBe(
        portOf(containerConfig().server.http_address),
      )
      const seconds = (d: string): number => Number(/^(\d+)s$/.exec(d)?.[1])
      expect(seconds(stringAt(endpoint, 'scrapeTimeout'))).toBeLessThanOrEqual(
        seconds(stringAt(endpoint, 'interval')),
      )
    }
  })
})
