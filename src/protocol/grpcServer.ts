import { Server, ServerCredentials, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js'
import { EXT_PROC_PROTO, HEALTH_PROTO, loadProtoPackage } from './protoLoader.js'
import { HealthService } from './healthService.js'
import type { ProcessCall } from './extProcService.js'

/** Fully-qualified name of the ext_proc service, as health checks name it. */
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor'

export interface GrpcServerParts {
  readonly server: Server
  readonly health: HealthService
  /** Binds and starts; resolves with the bound port. */
  listen(address: string): Promise<number>
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

/** Builds the gRPC server with the ext_proc and health services registered. */
export function createGrpcServer(processHandler: (call: ProcessCall) => void): GrpcServerParts {
  const pkg = protoPackage()
  const server = new Server({
    // Envoy multiplexes many streams on few HTTP/2 connections.
    'grpc.max_concurrent_streams': 10_000,
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  })
  const health = new HealthService([EXT_PROC_SERVICE_NAME])
  server.addService(serviceDefinition(pkg, EXT_PROC_SERVICE_NAME), { Process: processHandler })
  server.addService(serviceDefinition(pkg, 'grpc.health.v1.Health'), health.handlers())
  return {
    server,
    health,
    listen: (address) =>
      new Promise((resolve, reject) => {
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
          if (err) reject(err)
          else resolve(port)
        })
      }),
  }
}
