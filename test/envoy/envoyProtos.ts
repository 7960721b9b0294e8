/**
 * Loads the upstream Envoy API protos shipped inside `@grpc/grpc-js-xds` (≈ Envoy 1.31 API,
 * CRLF line endings) into one protobufjs `Root`, with proto field names (`keepCase`).
 */

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join } from 'node:path'
import protobuf from 'protobufjs'
import type { Root } from 'protobufjs'

const require = createRequire(import.meta.url)

/** The four proto trees of `@grpc/grpc-js-xds/deps`, in search order. */
export const ENVOY_PROTO_DIRS: readonly string[] = (() => {
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps')
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => join(deps, dir))
})()

// The deps folders do not ship google/protobuf/descriptor.proto (imported by validate.proto and
// the udpa/xds annotations); protobufjs bundles the other google/protobuf files itself and ships
// descriptor.proto in its package folder, so that folder is the last resort.
const PROTOBUFJS_DIR = dirname(require.resolve('protobufjs/package.json'))

/**
 * Every proto file that defines a type used in `envoy/envoy.yaml`: the bootstrap plus the
 * `typed_config` extensions (HCM, ext_proc, router, stdout access log, TLS, HTTP protocol options).
 */
export const ENVOY_YAML_PROTO_FILES: readonly string[] = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
]

/** Finds an import in the deps folders; unknown names are returned as-is (protobufjs fails). */
export function resolveEnvoyProto(_origin: string, target: string): string {
  if (isAbsolute(target)) return target
  for (const dir of [...ENVOY_PROTO_DIRS, PROTOBUFJS_DIR]) {
    const candidate = join(dir, target)
    if (existsSync(candidate)) return candidate
  }
  return target
}

/** Loads `files` (paths relative to the deps folders) and resolves every type reference. */
export function loadEnvoyRoot(files: readonly string[] = ENVOY_YAML_PROTO_FILES): Root {
  const root = new protobuf.Root()
  root.resolvePath = resolveEnvoyProto
  root.loadSync([...files], { keepCase: true })
  // Fails loudly if an import was missing, so no field is left with an unresolved type.
  root.resolveAll()
  return root
}
