import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js'
import { status as GrpcStatus } from '@grpc/grpc-js'

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN'

interface HealthRequest {
  service?: string
}
interface HealthResponse {
  status: ServingStatus
}

/**
 * `grpc.health.v1.Health`: the overall status (service "") and one per served service. Envoy's
 * gRPC health checks and Kubernetes gRPC probes ask this.
 */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>()
  private readonly watchers = new Set<{ service: string; call: ServerWritableStream<HealthRequest, HealthResponse> }>()

  constructor(services: readonly string[]) {
    for (const service of ['', ...services]) this.statuses.set(service, 'NOT_SERVING')
  }

  /** Sets every known service to SERVING or NOT_SERVING and notifies watchers. */
  setServing(serving: boolean): void {
    for (const service of this.statuses.keys()) this.statuses.set(service, serving ? 'SERVING' : 'NOT_SERVING')
    for (const watcher of this.watchers) watcher.call.write({ status: this.statusOf(watcher.service) })
  }

  statusOf(service: string): ServingStatus {
    return this.statuses.get(service) ?? 'SERVICE_UNKNOWN'
  }

  /** The handlers to register with `server.addService`. */
  handlers(): {
    Check: (call: ServerUnaryCall<HealthRequest, HealthResponse>, callback: sendUnaryData<HealthResponse>) => void
    Watch: (call: ServerWritableStream<HealthRequest, HealthResponse>) => void
  } {
    return {
      Check: (call, callback) => {
        const service = call.request.service ?? ''
        if (!this.statuses.has(service)) {
          callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service "${service}"` })
          return
        }
        callback(null, { status: this.statusOf(service) })
      },
      Watch: (call) => {
        const watcher = { service: call.request.service ?? '', call }
        this.watchers.add(watcher)
        call.write({ status: this.statusOf(watcher.service) })
        const drop = (): void => {
          this.watchers.delete(watcher)
        }
        call.on('cancelled', drop)
        call.on('close', drop)
      },
    }
  }

  /** Ends every Watch stream (on shutdown). */
  closeWatchers(): void {
    for (const watcher of this.watchers) watcher.call.end()
    this.watchers.clear()
  }
}
