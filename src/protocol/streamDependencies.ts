import type { AwsCredentials, CallerContext, IdentityLookup } from '../credentials/index.js'
import type { McpDependencies } from './mcpRequest.js'
import type { HeaderChanges } from './responses.js'
import type { SigningTarget, SigningTargetInput } from '../routing/index.js'

/** Where and how a request is signed, as the routing layer resolves it. */
export type StreamSigningTarget = Omit<SigningTarget, 'sources'>

/** What the routing layer reads to find a request's signing target. */
export type TargetLookupInput = Pick<SigningTargetInput, 'callMetadata' | 'attributes' | 'requestPath'>

/** What the signing layer needs for one request. */
export interface StreamSigningInput {
  readonly method: string
  readonly target: StreamSigningTarget
  readonly contentType: string | undefined
  readonly payloadSha256Hex: string
  readonly signingDate: Date
  /** Lower-case names of the headers the request carries (to remove stale client values). */
  readonly requestHeaderNames: readonly string[]
  /** Request headers that must not reach AWS besides the signature ones (a caller token header). */
  readonly stripHeaders: readonly string[]
}

/**
 * How a request ended, for logs and metrics: signed, passed through (no target), denied (MCP
 * policy or override refusal), rejected (other client errors: 4xx), error (ours or AWS's: 5xx).
 */
export type RequestOutcome = 'signed' | 'passed_through' | 'denied' | 'rejected' | 'error'

export interface RequestReport {
  readonly routeName: string
  readonly method: string
  /** Bounded method class: `get`, `delete`, MCP method classes, `batch`, `unparsed`, … */
  readonly methodClass: string
  /** The `tools/call` tool, when the body was read (logs only, never a metric label). */
  readonly tool: string | undefined
  readonly identity: string | undefined
  readonly outcome: RequestOutcome
  readonly errorCode: string | undefined
  readonly durationMs: number
  readonly bodyBytes: number
  /** Canonical-request-free signing facts for debug logs: service, region, host. */
  readonly target: Pick<StreamSigningTarget, 'host' | 'region' | 'service'> | undefined
}

/** Observes stream events; implementations log and count, and must not throw. */
export interface StreamObserver {
  requestFinished(report: RequestReport): void
  signed(seconds: number): void
  /** An unexpected failure inside the processor (a bug); the stream ends with INTERNAL. */
  internalError(error: unknown): void
}

export interface StreamSettings {
  readonly maxBodyBytes: number
  readonly requestBodyModeOverride: boolean
  readonly credentialWaitTimeoutMs: number
}

/** Everything a stream processor uses, injected so tests can drive it. */
export interface StreamDependencies {
  readonly settings: StreamSettings
  resolveTarget(input: TargetLookupInput): StreamSigningTarget | null
  lookupIdentity(name: string, caller: CallerContext): IdentityLookup
  /** Headers carrying the identity's caller token, removed before forwarding. */
  headersToStrip(identity: string): readonly string[]
  /** Synchronous: a signature is a few microseconds of CPU and nothing to wait for. */
  sign(input: StreamSigningInput, credentials: AwsCredentials): HeaderChanges
  now(): Date
  /** A monotonic clock in milliseconds, for durations. */
  monotonicMs(): number
  readonly observer: StreamObserver
  /** MCP-aware handling: policies and per-call identity overrides. */
  readonly mcp: McpDependencies
}
