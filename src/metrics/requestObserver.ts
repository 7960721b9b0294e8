import type { Logger } from 'pino'
import type { StreamLifecycleObserver } from '../protocol/extProcService.js'
import type { RequestReport, StreamObserver } from '../protocol/streamDependencies.js'
import type { Metrics } from './metrics.js'

/**
 * Turns stream events into metrics and one info log line per request. Only configured names
 * (route, identity), the method, outcome, error code, sizes and durations are recorded.
 */
export function createRequestObserver(
  metrics: Metrics,
  logger: Logger,
): StreamObserver & StreamLifecycleObserver {
  return {
    requestFinished(report: RequestReport): void {
      metrics.requests.inc({
        route: report.routeName,
        method_class: report.methodClass,
        outcome: report.outcome,
        error_code: report.errorCode ?? '',
      })
      metrics.streamDuration.observe({ outcome: report.outcome }, report.durationMs / 1000)
      if (report.outcome !== 'passed_through') metrics.bodyBytes.observe(report.bodyBytes)
      const line = {
        route: report.routeName,
        method: report.method,
        method_class: report.methodClass,
        tool: report.tool,
        identity: report.identity,
        outcome: report.outcome,
        error_code: report.errorCode,
        duration_ms: Math.round(report.durationMs * 1000) / 1000,
        body_bytes: report.bodyBytes,
        ...(report.target !== undefined
          ? {
              upstream_host: report.target.host,
              region: report.target.region,
              // Not `service`: that field names this program on every line (the logger's base).
              signing_service: report.target.service,
            }
          : {}),
      }
      if (report.outcome === 'error') logger.warn(line, 'request not signed')
      else logger.info(line, 'request')
    },
    signed(seconds: number): void {
      metrics.signDuration.observe(seconds)
    },
    internalError(error: unknown): void {
      logger.error({ err_name: error instanceof Error ? error.name : typeof error, err_message: error instanceof Error ? error.message : undefined }, 'internal error in stream processing')
    },
    streamOpened(): void {
      metrics.activeStreams.inc()
    },
    streamClosed(): void {
      metrics.activeStreams.dec()
    },
    streamFailed(code: string): void {
      metrics.streamErrors.inc({ grpc_code: code })
    },
  }
}
