export { ERROR_CODE_HEADER, errorReply, httpStatusOf } from './errorReply.js'
export { createProcessHandler, type ProcessHandlerOptions } from './extProcService.js'
export { TurnBudget, type TurnBudgetOptions } from './turnBudget.js'
export type { ProcessCall, StreamLifecycleObserver } from './extProcService.js'
export { createGrpcServer, EXT_PROC_SERVICE_NAME } from './grpcServer.js'
export type { GrpcServerParts } from './grpcServer.js'
export { HealthService } from './healthService.js'
export { PROTO_DIR, PROTO_LOADER_OPTIONS, loadProtoPackage } from './protoLoader.js'
export type { HeaderChanges } from './responses.js'
export type {
  RequestOutcome,
  RequestReport,
  StreamDependencies,
  StreamObserver,
  StreamSettings,
  StreamSigningInput,
  StreamSigningTarget,
  TargetLookupInput,
} from './streamDependencies.js'
export { EXT_PROC_ATTRIBUTES_KEY, StreamProcessor } from './streamProcessor.js'
export type { StreamOutput, StreamState } from './streamProcessor.js'
export { createGrpcServerCredentials, grpcTlsMode } from './grpcCredentials.js'
export type { GrpcTlsMode, GrpcTlsSettings } from './grpcCredentials.js'
