/**
 * The ext_proc messages the load generator sends, built as Envoy builds them (see
 * `test/harness/emulator/`) and serialized once with the project's protos, so the load
 * generator spends its CPU on gRPC, not on protobuf encoding.
 */
import type { GrpcObject, MethodDefinition, ServiceClientConstructor } from '@grpc/grpc-js'
import type { ProcessingRequestMessage, ProcessingResponseMessage } from '../src/protocol/messages.js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../src/protocol/protoLoader.js'
import type { JsonObject } from '../src/routing/jsonValue.js'
import { printMetadataShortDebugString } from '../test/harness/textFormatPrinter.js'
import { BENCH_HOST, type BenchRoute } from './benchConfig.js'
import { grpcFrame } from './grpcWire.js'

/** The `Process` method with the project's protos. */
export type ProcessMethod = MethodDefinition<ProcessingRequestMessage, ProcessingResponseMessage>

/** The ext_proc service definition, loaded once. */
export function loadExtProc(): { service: ServiceClientConstructor; method: ProcessMethod } {
  const pkg = loadProtoPackage([EXT_PROC_PROTO])
  let node: unknown = pkg
  for (const part of 'envoy.service.ext_proc.v3.ExternalProcessor'.split('.')) node = (node as GrpcObject)[part]
  const service = node as ServiceClientConstructor
  return { service, method: service.service.Process as unknown as ProcessMethod }
}

/** One request's two messages, serialized and framed for gRPC. */
export interface EncodedRequest {
  readonly headers: Buffer
  readonly body: Buffer
}

const ROUTES: Record<BenchRoute, { name: string; metadata: Record<string, JsonObject> }> = {
  // A route without metadata: Envoy prints the empty Metadata message as ''.
  passthrough: { name: 'bench_passthrough', metadata: {} },
  signed: { name: 'bench_signed', metadata: { mcp_sigv4: { host: BENCH_HOST, path: '/mcp' } } },
  caller: { name: 'bench_caller', metadata: { mcp_sigv4: { host: BENCH_HOST, path: '/mcp', identity: 'caller' } } },
}

/** A JSON-RPC `tools/call` of exactly `bytes` bytes (its argument is padding). */
export function jsonRpcBody(bytes: number): Buffer {
  const head = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
  const tail = '"}}}'
  const pad = Math.max(0, bytes - head.length - tail.length)
  return Buffer.from(head + 'x'.repeat(pad) + tail, 'utf8')
}

function header(key: string, value: string): { key: string; raw_value: Buffer } {
  return { key, raw_value: Buffer.from(value, 'utf8') }
}

/** The request_headers message of a POST to the route, with its attributes and protocol_config. */
export function headersMessage(route: BenchRoute, bodyBytes: number, token?: string): ProcessingRequestMessage {
  const { name, metadata } = ROUTES[route]
  const headers = [
    header(':authority', 'gateway.bench.local'),
    header(':path', '/mcp'),
    header(':method', 'POST'),
    header(':scheme', 'https'),
    header('content-type', 'application/json'),
    header('content-length', String(bodyBytes)),
    header('accept', 'application/json, text/event-stream'),
    header('mcp-protocol-version', '2025-06-18'),
    header('mcp-session-id', '6f1c2a3e-bench-session'),
    header('user-agent', 'mcp-bench/1.0'),
    header('x-forwarded-proto', 'https'),
    header('x-request-id', '0b6c7d2e-9f4a-4c53-8a1e-bench000001'),
    ...(token !== undefined ? [header('authorization', `Bearer ${token}`)] : []),
  ]
  return {
    request_headers: { headers: { headers } },
    attributes: {
      'envoy.filters.http.ext_proc': {
        fields: {
          'xds.route_name': { stringValue: name },
          'xds.route_metadata': { stringValue: printMetadataShortDebugString({ filter_metadata: metadata }) },
        },
      },
    },
    metadata_context: {},
    // Envoy leaves proto3 defaults (NONE) off the wire.
    protocol_config: { request_body_mode: 'BUFFERED' },
  }
}

/** Serializes and frames a request's two messages. */
export function encodeRequest(method: ProcessMethod, route: BenchRoute, body: Buffer, token?: string): EncodedRequest {
  return {
    headers: grpcFrame(method.requestSerialize(headersMessage(route, body.length, token))),
    body: grpcFrame(method.requestSerialize({ request_body: { body, end_of_stream: true }, metadata_context: {} })),
  }
}
