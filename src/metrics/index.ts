export { Metrics } from './metrics.js'
export { createOpsHttpServer } from './opsHttpServer.js'
export type { OpsHttpServerOptions } from './opsHttpServer.js'
export { createRequestObserver } from './requestObserver.js'
