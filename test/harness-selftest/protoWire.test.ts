import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { PROTO_DIR } from '../../src/protocol/protoLoader.js'

/**
 * The emulator and the server share the project's hand-written protos, so a wrong field number
 * would pass every emulator test and still break against real Envoy. This compares them with
 * Envoy's own protos as shipped in `@grpc/grpc-js-xds` (≈ Envoy 1.31 API, fact sheet "Sources").
 */
const XDS_DEPS = fileURLToPath(new URL('../../node_modules/@grpc/grpc-js-xds/deps',
  import.meta.url))
const ROOT_FILE = 'envoy/service/ext_proc/v3/external_processor.proto'

function load(dirs: string[]): protobuf.Root {
  const root = new protobuf.Root()
  root.resolvePath = (origin, target) => {
    for (const dir of dirs) {
      const candidate = join(dir, target)
      if (existsSync(candidate)) return candidate
    }
    return protobuf.util.path.resolve(origin, target)
  }
  return root.loadSync(ROOT_FILE, { keepCase: true })
}

function types(ns: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested)
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) types(nested, out)
  }
  return out
}

describe('project protos against the Envoy protos in @grpc/grpc-js-xds', () => {
  it('agree on the number, type and label of every shared field and enum value', () => {
    const project = load([PROTO_DIR])
    const envoy = load(['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
      .map((d) => join(XDS_DEPS, d)))
    const diffs: string[] = []
    let compared = 0
    for (const type of types(project)) {
      if (!type.fullName.startsWith('.envoy.')) continue
      const other = envoy.lookup(type.fullName)
      if (!(other instanceof protobuf.Type)) continue
      for (const field of type.fieldsArray) {
        const theirs = other.fields[field.name]
        if (theirs === undefined) continue
        compared += 1
        const mine = `${field.id} ${field.type} ${field.repeated} ${field.map}`
        const ref = `${theirs.id} ${theirs.type} ${theirs.repeated} ${theirs.map}`
        if (mine !== ref) diffs.push(`${type.fullName}.${field.name}: ${mine} != ${ref}`)
      }
      for (const nested of type.nestedArray) {
        if (!(nested instanceof protobuf.Enum)) continue
        const ref = envoy.lookup(nested.fullName)
        if (!(ref instanceof protobuf.Enum)) continue
        for (const [name, id] of Object.entries(nested.values)) {
          if (ref.values[name] !== undefined && ref.values[name] !== id) {
            diffs.push(`${nested.fullName}.${name}: ${id} != ${ref.values[name]}`)
          }
        }
      }
    }
    expect(diffs).toEqual([])
    expect(compared).toBeGreaterThan(40)
    const headerValue = project.lookupType('envoy.config.core.v3.HeaderValue')
    expect(headerValue.fields.raw_value?.id).toBe(3)
  })
})
