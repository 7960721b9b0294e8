import { Server, type GrpcObject, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js'
import { EXT_PROC_PROTO, HEALTH_PROTO, loadProtoPackage } from './protoLoader.js'
import { HealthService } from './healthService.js'
import type { ProcessCall } from './extProcService.js'
import {
  createGrpcServerCredentials,
  type GrpcTlsMode,
  type GrpcTlsSettings,
} from './grpcCredentials.js'
import type { ReceiveWindows } from '../config/index.js'
import { applyReceiveWindows } from './http2ReceiveWindows.js'
import { createResponseSerializer } from './responseEncoder.js'

/** Fully-qualified name of the ext_proc service, as health checks name it. */
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor'

/** The gRPC server, its health service, and how to start it. */
export interface GrpcServerParts {
  readonly server: Server
  readonly health: HealthService
  /** How the listener is secured; `off` until `listen` has bound it with TLS. */
  readonly tlsMode: GrpcTlsMode
  /**
   * The HTTP/2 receive windows the listener advertises; `undefined` until `listen` has bound it,
   * and when they could not be applied (the listener then runs with HTTP/2's 64 KiB).
   */
  readonly receiveWindows: ReceiveWindows | undefined
  /**
   * Binds and starts; resolves with the bound port. With `tls`, the certificate files are read
   * and checked first: a bad file rejects with `ERR_CONFIG_INVALID` before anything is bound.
   */
  listen(address: string, tls?: GrpcTlsSettings): Promise<number>
}

let cachedPackage: GrpcObject | undefined

/** Parses the protos once per process; every server instance shares the definitions. */
function protoPackage(): GrpcObject {
  cachedPackage ??= loadProtoPackage([EXT_PROC_PROTO, HEALTH_PROTO])
  return cachedPackage
}

function serviceDefinition(pkg: GrpcObject, path: string): ServiceDefinition {
  let node: unknown = pkg
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part]
  return (node as { service: ServiceDefinition }).service
}

/** The ext_proc service, with the common answers encoded without the generic serializer. */
function extProcDefinition(pkg: GrpcObject): ServiceDefinition {
  const definition = serviceDefinition(pkg, EXT_PROC_SERVICE_NAME)
  const process = definition['Process'] as MethodDefinition<unknown, unknown>
  return {
    ...definition,
    Process: { ...process, responseSerialize: createResponseSerializer(process.responseSerialize) },
  }
}

/** How the gRPC listener is tuned. */
export interface GrpcServerOptions {
  /** HTTP/2 receive windows to advertise; without, HTTP/2's 64 KiB defaults. */
  readonly receiveWindows?: ReceiveWindows
}

/** Builds the gRPC server with the ext_proc and health services registered. */
export function createGrpcServer(
  processHandler: (call: ProcessCall) => void,
  options: GrpcServerOptions = {},
): GrpcServerParts {
  const pkg = protoPackage()
  const server = new Server({
    // Envoy multiplexes many streams on few HTTP/2 connections.
    'grpc.max_concurrent_streams': 10_000,
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  })
  const health = new HealthService([EXT_PROC_SERVICE_NAME])
  server.addService(extProcDefinition(pkg), { Process: processHandler })
  server.addService(serviceDefinition(pkg, 'grpc.health.v1.Health'), health.handlers())
  let tlsMode: GrpcTlsMode = 'off'
  let receiveWindows: ReceiveWindows | undefined
  return {
    server,
    health,
    get tlsMode() {
      return tlsMode
    },
    get receiveWindows() {
      return receiveWindows
    },
    listen: (address, tls) =>
      new Promise((resolve, reject) => {
        const listener = createGrpcServerCredentials(tls)
        server.bindAsync(address, listener.credentials, (err, port) => {
          if (err) {
            reject(err)
          } else {
            tlsMode = listener.mode
            const wanted = options.receiveWindows
            if (wanted && applyReceiveWindows(server, wanted)) receiveWindows = wanted
            resolve(port)
          }
        })
      }),
  }
}
