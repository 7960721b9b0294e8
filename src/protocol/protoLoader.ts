import { fileURLToPath } from 'node:url'
import { loadPackageDefinition } from '@grpc/grpc-js'
import type { GrpcObject } from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import type { Options } from '@grpc/proto-loader'

/**
 * Absolute path of the repository's `proto/` directory.
 *
 * Resolved from this module's own location: `src/protocol` (tests, tsx) and `dist/protocol`
 * (after build) both sit two levels below the repository root, beside `proto/`.
 */
export const PROTO_DIR: string = fileURLToPath(new URL('../../proto', import.meta.url))

/** The ext_proc service definition, relative to {@link PROTO_DIR}. */
export const EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto'

/** The gRPC health service definition, relative to {@link PROTO_DIR}. */
export const HEALTH_PROTO = 'grpc/health/v1/health.proto'

/**
 * The `@grpc/proto-loader` options every caller uses.
 *
 * - `keepCase`: message fields keep their proto names (`request_headers`, `raw_value`). The
 *   well-known types `Struct`/`Value` still come out camelCase (`stringValue`), a proto-loader
 *   quirk that readers of `attributes` must expect.
 * - `longs: Number`: the only 64-bit fields we read are Duration seconds, far below 2^53.
 * - `enums: String`: enum values as their names (`CONTINUE`, `BUFFERED`).
 * - `defaults: false`: absent fields stay absent, so "not sent" and "sent as default" differ.
 * - `oneofs: true`: each decoded oneof also names its set case (`request: 'request_headers'`).
 * - `includeDirs`: imports resolve inside `proto/`; `google/protobuf/*` come from protobufjs.
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
})

/**
 * Loads proto files from {@link PROTO_DIR} and returns the gRPC package object.
 *
 * Parsing is synchronous and not cheap: call it once at start-up and keep the result.
 *
 * @param files - paths relative to {@link PROTO_DIR}, e.g. {@link EXT_PROC_PROTO}
 * @returns the object from `grpc.loadPackageDefinition`, indexed by package path
 */
export function loadProtoPackage(files: string[]): GrpcObject {
  const definition = loadSync(files, { ...PROTO_LOADER_OPTIONS })
  return loadPackageDefinition(definition)
}
