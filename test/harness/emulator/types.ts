/**
 * Types of the Envoy emulator: its options, its per-request records, and the ext_proc messages
 * as `@grpc/proto-loader` (keepCase, enums as strings, defaults false, oneofs) materialises them.
 */
import type { PrintOptions } from '../textFormatPrinter.js'

/** `ProcessingMode.HeaderSendMode` names. */
export type HeaderSendMode = 'DEFAULT' | 'SEND' | 'SKIP'

/** `ProcessingMode.BodySendMode` names. */
export type BodySendMode =
  | 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED' | 'GRPC'

/** `envoy.extensions.filters.http.ext_proc.v3.ProcessingMode`, fully resolved. */
export interface ProcessingMode {
  request_header_mode: HeaderSendMode
  response_header_mode: HeaderSendMode
  request_body_mode: BodySendMode
  response_body_mode: BodySendMode
  request_trailer_mode: HeaderSendMode
  response_trailer_mode: HeaderSendMode
}

/** `config.common.mutation_rules.v3.HeaderMutationRules` (camelCase). */
export interface MutationRules {
  allowAllRouting?: boolean
  allowEnvoy?: boolean
  disallowSystem?: boolean
  disallowAll?: boolean
  allowExpression?: RegExp
  disallowExpression?: RegExp
  disallowIsError?: boolean
}

/** One emulated route: match, metadata, ext_proc per-route settings, router rewrites. */
export interface EmulatedRoute {
  /** Route name (`xds.route_name`). */
  name: string
  /** Path prefix to match; the first matching route wins. */
  prefix: string
  /** Route metadata, plain JSON per namespace (`xds.route_metadata`). */
  metadata?: { filter_metadata: Record<string, object> }
  /** `route.host_rewrite_literal`: replaces the authority sent upstream. */
  hostRewriteLiteral?: string
  /** `route.prefix_rewrite`: replaces the matched prefix. */
  prefixRewrite?: string
  /**
   * `route.regex_rewrite`, applied to the path without the query (query kept). Every match is
   * replaced (RE2 GlobalReplace); the substitution uses RE2 syntax (`\1` for a group).
   */
  regexRewrite?: { pattern: RegExp; substitution: string }
  /** The cluster's single endpoint. */
  upstream: { host: string; port: number }
  /** `ExtProcPerRoute.overrides.grpc_initial_metadata`, merged over the filter's by key. */
  grpcInitialMetadata?: Record<string, string>
  /** `ExtProcPerRoute.disabled`. */
  extProcDisabled?: boolean
}

/** Options of `startEnvoyEmulator`. */
export interface EnvoyEmulatorOptions {
  /** `127.0.0.1:<port>` of the ext_proc server (insecure gRPC). */
  extProcAddress: string
  routes: EmulatedRoute[]
  /** `request_attributes`; default `['xds.route_metadata', 'xds.route_name']`. */
  requestAttributes?: string[]
  /** `message_timeout`; default 200 ms. */
  messageTimeoutMs?: number
  /** `max_message_timeout`; default 0 = `override_message_timeout` disabled. */
  maxMessageTimeoutMs?: number
  /**
   * Listener `per_connection_buffer_limit_bytes`, for both directions (request 413, BUFFERED
   * response 500, STREAMED watermarks); default 1 MiB.
   */
  bufferLimitBytes?: number
  /**
   * Merged over the emulator default (request headers SEND, request body BUFFERED, rest
   * SKIP/NONE). Request bodies: NONE or BUFFERED; response bodies: NONE, BUFFERED or STREAMED;
   * response trailers: SKIP.
   */
  processingMode?: Partial<ProcessingMode>
  /** `allow_mode_override`; default false. */
  allowModeOverride?: boolean
  /**
   * Runtime guard `envoy.reloadable_features.ext_proc_graceful_grpc_close`; default false
   * (Envoy's default: half-close, then reset every stream).
   */
  gracefulGrpcClose?: boolean
  /** `failure_mode_allow`; default false. */
  failureModeAllow?: boolean
  /** Send `protocol_config` in the first message (Envoy ≥ 1.34); default true. */
  sendProtocolConfig?: boolean
  /** Filter-level `GrpcService.initial_metadata`. */
  initialMetadata?: Record<string, string>
  /** `mutation_rules`; default Envoy's default rules. */
  mutationRules?: MutationRules
  /** Shorthand for `mutationRules.disallowIsError`. */
  disallowIsError?: boolean
  /** gRPC `:authority` of the Process call (the cluster name); default `mcp_sigv4_extproc`. */
  grpcAuthority?: string
  /** Router `suppress_envoy_headers`; default false (adds `x-envoy-expected-rq-timeout-ms`…). */
  suppressEnvoyHeaders?: boolean
  /** How the `xds.route_metadata` text is printed (escaping, whitespace jitter). */
  routeMetadataPrintOptions?: PrintOptions
}

/** A header as a name and a latin1 string holding the raw bytes of its value. */
export interface HeaderEntry {
  key: string
  value: string
}

/** `config.core.v3.HeaderValue`. */
export interface HeaderValueMsg {
  key?: string
  value?: string
  raw_value?: Buffer
}

/** `config.core.v3.HeaderValueOption`. */
export interface HeaderValueOptionMsg {
  header?: HeaderValueMsg
  append?: { value?: boolean }
  append_action?: string
  keep_empty_value?: boolean
}

/** `service.ext_proc.v3.HeaderMutation`. */
export interface HeaderMutationMsg {
  set_headers?: HeaderValueOptionMsg[]
  remove_headers?: string[]
}

/** `service.ext_proc.v3.BodyMutation` (with the proto-loader oneof discriminator). */
export interface BodyMutationMsg {
  mutation?: 'body' | 'clear_body' | 'streamed_response'
  body?: Buffer
  clear_body?: boolean
  streamed_response?: object
}

/** `service.ext_proc.v3.CommonResponse`. */
export interface CommonResponseMsg {
  status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE' | number
  header_mutation?: HeaderMutationMsg
  body_mutation?: BodyMutationMsg
  clear_route_cache?: boolean
}

/** `service.ext_proc.v3.ImmediateResponse`. */
export interface ImmediateResponseMsg {
  status?: { code?: string | number }
  headers?: HeaderMutationMsg
  body?: Buffer
  grpc_status?: { status?: number }
  details?: string
}

/** Names of the `ProcessingResponse.response` oneof. */
export type ResponseCase =
  | 'request_headers' | 'response_headers' | 'request_body' | 'response_body'
  | 'request_trailers' | 'response_trailers' | 'immediate_response'
  | 'streamed_immediate_response'

/** `service.ext_proc.v3.ProcessingResponse` as decoded. */
export interface ProcessingResponseMsg {
  response?: ResponseCase
  request_headers?: { response?: CommonResponseMsg }
  response_headers?: { response?: CommonResponseMsg }
  request_body?: { response?: CommonResponseMsg }
  response_body?: { response?: CommonResponseMsg }
  request_trailers?: { header_mutation?: HeaderMutationMsg }
  response_trailers?: { header_mutation?: HeaderMutationMsg }
  immediate_response?: ImmediateResponseMsg
  streamed_immediate_response?: object
  dynamic_metadata?: object
  mode_override?: Partial<Record<keyof ProcessingMode, string>>
  override_message_timeout?: { seconds?: number; nanos?: number }
  request_drain?: boolean
}

/** A `google.protobuf.Value` in proto-loader's camelCase form. */
export interface StructValueMsg {
  stringValue?: string
  numberValue?: number
  boolValue?: boolean
  nullValue?: string | number
  kind?: string
}

/** `service.ext_proc.v3.ProcessingRequest` as the emulator builds (and tests decode) it. */
export interface ProcessingRequestMsg {
  request?: string
  request_headers?: { headers?: { headers?: HeaderValueMsg[] }; end_of_stream?: boolean }
  response_headers?: { headers?: { headers?: HeaderValueMsg[] }; end_of_stream?: boolean }
  request_body?: { body?: Buffer; end_of_stream?: boolean }
  response_body?: { body?: Buffer; end_of_stream?: boolean }
  metadata_context?: { filter_metadata?: Record<string, unknown> }
  attributes?: Record<string, { fields?: Record<string, StructValueMsg> }>
  observability_mode?: boolean
  protocol_config?: {
    request_body_mode?: BodySendMode
    response_body_mode?: BodySendMode
    send_body_without_waiting_for_header_response?: boolean
  }
}

/** The local reply the emulator sent instead of (or before) forwarding. */
export interface LocalReplyRecord {
  status: number
  /** `%RESPONSE_CODE_DETAILS%`. */
  details: string
  body: string
  /** True when the reply came from the server's `immediate_response`. */
  immediate: boolean
}

/** The request as the router sent it upstream. */
export interface UpstreamRequestRecord {
  method: string
  path: string
  authority: string
  /** Final header list in wire order, `host` first. */
  headers: Array<[string, string]>
  body: Buffer
}

/** Everything the emulator did for one downstream HTTP request. */
export interface EmulatedRequestRecord {
  method: string
  /** The downstream `:path` as received. */
  path: string
  routeName: string | undefined
  streamOpened: boolean
  /** Messages written to the Process stream, as the server decodes them. */
  sent: ProcessingRequestMsg[]
  /** Messages received on the Process stream, decoded. */
  received: ProcessingResponseMsg[]
  /** How the stream ended for the emulator. */
  streamEnd?: 'emulator-closed' | 'server-ok' | 'server-error'
  grpcStatus?: { code: number; details: string }
  localReply?: LocalReplyRecord
  upstream?: UpstreamRequestRecord
  /** Downstream response status actually sent (local or upstream). */
  responseStatus?: number
  /**
   * The encoder's `response_body_mode` once the upstream response headers were processed (after
   * any `mode_override`); `NONE` when ext_proc no longer processed the response (stream closed,
   * failed, or disabled for the route). Unset when no upstream response arrived.
   */
  responseBodyMode?: BodySendMode
  /**
   * Set when the emulator reset the downstream connection instead of replying, because the
   * response headers had already been sent (fact sheet §7): the `%RESPONSE_CODE_DETAILS%` the
   * local reply would have had (whitespace → `_`), `upstream_reset_after_response_started`
   * for an upstream reset mid-body, or `emulator_downstream_content_length_mismatch`.
   */
  downstreamReset?: string
  /** True once the emulator finished with this request. */
  finished: boolean
}

/** Counters mirroring Envoy's `http.<prefix>.ext_proc.*` stats, plus the request records. */
export interface EmulatorStats {
  requests: EmulatedRequestRecord[]
  streamsOpened: number
  messageTimeouts: number
  spuriousMessages: number
  rejectedHeaderMutations: number
  localReplies: number
  failureModeAllowed: number
  overrideMessageTimeoutReceived: number
  overrideMessageTimeoutIgnored: number
  clearRouteCacheIgnored: number
}
