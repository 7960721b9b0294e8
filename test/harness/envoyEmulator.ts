/**
 * An emulator of Envoy's HTTP path with the `ext_proc` filter and the router, for tests that
 * cannot run Envoy. It follows `/work/shared/reference/envoy-ext-proc.md` ("the fact sheet"),
 * in particular its emulator checklist; target behaviour is Envoy ≥ 1.34 with current protos.
 *
 * Emulated (facts from the fact sheet, section in brackets):
 * - one `Process` call per HTTP request, opened lazily; gRPC metadata `x-envoy-internal`,
 *   `x-forwarded-for`, filter `initial_metadata` merged by key with the route's
 *   `grpc_initial_metadata`; `:authority` = cluster name; no `grpc-timeout`
 *   [§2, §10, checklist 1–2];
 * - `request_headers` with `raw_value`-only entries, pseudo headers first, `:authority` instead of
 *   `host`, one entry per value, `end_of_stream` only for body-less requests [§5, checklist 3];
 * - `metadata_context` on every message; `attributes` (key `envoy.filters.http.ext_proc`) once, on
 *   the first request-direction message; `protocol_config` on the first message [§1, §2, §12];
 * - one outstanding message with a per-message timer (STREAMED bodies: pipelined, see below);
 *   `override_message_timeout` once per message within `max_message_timeout`, other fields of
 *   that message ignored [§7];
 * - BUFFERED request body: held while the headers call is outstanding, then one `request_body`
 *   with `end_of_stream: true` (none for body-less requests); 413 `request_payload_too_large`
 *   above the buffer limit, the body never reaching the server [§3];
 * - header mutations: remove before set, `raw_value` only, value-only → "", both → 500, `append`
 *   missing = overwrite, `append_action` ignored, default mutation rules, `disallow_is_error`,
 *   `:`-headers and `host` never removable, `content-length` sets skipped outside BUFFERED [§5];
 * - BUFFERED body response: header mutation on the held headers, then the content-length check
 *   (500 "mismatch between content length and the length of the mutated body"), then the body [§6];
 * - `CONTINUE_AND_REPLACE` on the headers response [§9]; `clear_route_cache` re-selects the route
 *   when the response also has a header mutation, else it is counted as ignored [§9];
 * - `mode_override` only with `allow_mode_override`, only on headers responses, Envoy's merge [§4];
 * - `immediate_response`: status < 200 or absent → 200, headers via the mutation rules, body,
 *   details with whitespace → `_`, not forwarded, stream closed [§8];
 * - 504 `ext_proc_error_per-message_timeout_exceeded`;
 *   500 `ext_proc_error_gRPC_error_<code>{<msg>}`; 500 `spurious_message`; a server OK close
 *   continues unprocessed; `failure_mode_allow` [§7];
 * - close = half-close then cancel right after the last needed response [§10];
 * - router after ext_proc: `host_rewrite_literal`, `prefix_rewrite`, `regex_rewrite` (path only,
 *   query kept), then HTTP/1.1 to the upstream [§11];
 * - response path (`emulator/responseFlow.ts`), needed when `response_header_mode: SEND` or
 *   `response_body_mode` is not NONE (from the config or a request-headers `mode_override`):
 *   - `response_headers`: `:status` first, then the upstream's headers; the reply's header
 *     mutations with the same rules; its `mode_override` (only with `allowModeOverride`; body
 *     modes copied, DEFAULT header/trailer modes unchanged) picks this response's body mode;
 *     `CONTINUE_AND_REPLACE` replaces the body [§4, §5, §9, §10];
 *   - `content-length` removed in STREAMED, and in BUFFERED with response header SKIP [§6];
 *   - NONE: passed through unbuffered (SSE keeps flowing);
 *   - BUFFERED: headers held, whole body buffered (500 `response_payload_too_large` above the
 *     buffer limit), one `response_body{body, end_of_stream: true}` (none for body-less
 *     responses), its header mutation on the held headers, the content-length check (500), the
 *     body mutation, then headers and body downstream [§3, §6];
 *   - STREAMED: one `response_body` per upstream data chunk, each reply's body mutation applied
 *     to its chunk in order (`clear_body` drops it), the result written downstream at once;
 *   - once the response headers went downstream, a failure resets the downstream connection
 *     instead of a local reply (`downstreamReset` in the record) [§7].
 *
 * Not emulated: STREAMED / BUFFERED_PARTIAL / FULL_DUPLEX_STREAMED request bodies,
 * BUFFERED_PARTIAL / FULL_DUPLEX_STREAMED response bodies, and trailers (rejected at start, or a
 * 500 `emulator_cannot_emulate_…` if a `mode_override` asks for them; at response-headers time
 * only the response half of the override is checked);
 * `send_body_without_waiting_for_header_response`; request trailers (HTTP/1.1 test clients send
 * none); local replies do not pass through ext_proc's encoder half (no `response_headers` for a
 * 413 or 504); observability mode; `forward_rules`;
 * `metadata_options` / dynamic metadata (requests always carry an empty `metadata_context`, and
 * `dynamic_metadata` in responses is recorded but not applied); `response_attributes`;
 * `disable_immediate_response`; `allowed_override_modes`; `status_on_error` (always 500);
 * `request_headers_to_add`; retries, timeouts and `auto_host_rewrite` of the router; TLS; the
 * `server` response header; per-route processing-mode overrides.
 *
 * Emulator choices where the fact sheet is silent (each also noted at the code):
 * - hop-by-hop headers (connection, keep-alive, proxy-connection, transfer-encoding, upgrade, te)
 *   are dropped from requests and responses; `expect: 100-continue` is dropped;
 * - client-sent `x-forwarded-proto` / `x-request-id` are replaced by the HCM's own (edge proxy);
 * - a header with an empty value is sent without `raw_value` (proto3 default, as on Envoy's wire),
 *   and other proto3 defaults (`end_of_stream: false`, `NONE` modes) are omitted likewise;
 * - an overwriting `set_headers` keeps the first entry's position; new pseudo headers go after the
 *   existing pseudo headers; `:status`/`:scheme`/authority value checks count as disallowed;
 * - in NONE body mode the body is still read completely before forwarding (no 413 there);
 * - a 413 leaves the connection open (Node drains the rest of the body);
 * - spurious messages or gRPC errors while no message is outstanding fail the next exchange
 *   (e.g. `response_headers`); an OK close while idle just ends processing;
 * - the router adds `x-envoy-expected-rq-timeout-ms: 15000` and, on a path rewrite,
 *   `x-envoy-original-path`, unless `suppressEnvoyHeaders`;
 * - no route → 404 `route_not_found`; upstream connect failure → 503
 *   `upstream_reset_before_response_started{connection_failure}`;
 * - a leaf attribute that is a map or list is omitted (Envoy prints an unspecified placeholder);
 * - client-sent `x-envoy-*` headers are kept (the test client is trusted);
 * - removing a `:` header or `host` is skipped and counted in `rejectedHeaderMutations`;
 * - mutation errors (both value and raw_value, bad names or values, `disallow_is_error`,
 *   content-length mismatch) answer 500 with the message as details (whitespace → `_`), also
 *   with `failure_mode_allow`; only timeouts, gRPC errors and spurious messages fail open;
 * - a `host` entry set by the server (possible only with `allowAllRouting`) is not sent: the
 *   router writes `host` from `:authority`;
 * - `response_headers.end_of_stream` is true for HEAD, 204, 304 and `content-length: 0`;
 * - an immediate response without `details` records empty details; a body gets
 *   `content-type: text/plain` unless the response's headers set another one;
 * - a `content-length` that is not a number is not checked against a mutated body (Envoy's
 *   `SimpleAtoi` fails → no error), on both paths.
 *
 * Response-path choices (Envoy source read where the fact sheet is silent: `ext_proc.cc`,
 * `processor_state.cc`, late 2025; the HTTP/1 codec's `ClientConnectionImpl`):
 * - STREAMED pipelines as Envoy does (`handleDataStreamedMode`: "we pipeline data … to the
 *   external processor"): every chunk is sent as it arrives and queued; replies answer the
 *   oldest chunk. There is one timer, restarted by every send and stopped by every reply, even
 *   with chunks still outstanding (`onStartProcessorCall` / `onFinishProcessorCall`);
 * - one Node `'data'` event = one data callback = one message; the end of an HTTP/1.1 response
 *   is a separate empty `response_body{end_of_stream: true}` (the codec's `onMessageComplete`
 *   delivers an empty end-of-stream data frame), whose reply may still add bytes;
 * - data arriving while `response_headers` is outstanding is held: counted against the limit in
 *   BUFFERED (500 as above), otherwise under a watermark (upstream paused above the limit). In
 *   STREAMED, if the whole body arrived meanwhile it goes in one `response_body{end_of_stream:
 *   true}` handled like a BUFFERED one (header mutation on the held headers, content-length
 *   check); if part arrived, that part is the first chunk (`handleHeadersResponse`);
 * - content-length is removed by the mode in force when `response_headers` is sent (after
 *   sending it, so the server still sees it): a `mode_override` to STREAMED at response-headers
 *   time keeps the upstream's `content-length`, and `content-length` sets are skipped, so the
 *   server has to `remove_headers` it. A body written downstream that does not match a declared
 *   `content-length` resets the connection (`emulator_downstream_content_length_mismatch`);
 * - after an override to BUFFERED, data held before counts against the limit unless the whole
 *   body had already arrived (then it is sent regardless, as Envoy does);
 * - the 500 for `response_payload_too_large` has body `Internal Server Error` and
 *   `content-type: text/plain` (`responseDataTooLarge` → `sendLocalReply`);
 * - BUFFERED with response header SKIP: the headers go downstream at once (without
 *   content-length), header mutations in the body reply are dropped, failures reset;
 * - STREAMED body replies: `header_mutation` ignored (headers already sent); a
 *   `streamed_response` mutation is spurious (also in BUFFERED, following fact sheet §12);
 *   a failure with `failure_mode_allow` or a server OK close writes the queued chunks unmodified
 *   and passes the rest through (`clearAsyncState`);
 * - the stream closes after the `response_headers` reply when the response has no body or its
 *   body mode is NONE, after the reply to the last STREAMED chunk, and after a BUFFERED response
 *   was written (Envoy: when the filter is destroyed);
 * - an upstream reset mid-body resets the downstream, recorded as
 *   `upstream_reset_after_response_started{remote_reset}`; a reset counts no `localReplies`;
 * - `clear_route_cache` in response-direction replies is ignored (decoder-only in Envoy).
 */
import { Agent, createServer } from 'node:http'
import { credentials } from '@grpc/grpc-js'
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import { assertSupportedAttributes } from './emulator/attributes.js'
import type { MessageCodec, StreamDeps } from './emulator/extProcStream.js'
import { resolveMode, unsupportedMode } from './emulator/modes.js'
import type { FlowDeps, ResolvedOptions } from './emulator/flowContext.js'
import { RequestFlow } from './emulator/requestFlow.js'
import type {
  EmulatedRequestRecord, EmulatorStats, EnvoyEmulatorOptions, ProcessingRequestMsg,
} from './emulator/types.js'
import { listenOnLoopback } from './loopbackServer.js'

export type {
  BodySendMode, EmulatedRequestRecord, EmulatedRoute, EmulatorStats, EnvoyEmulatorOptions,
  HeaderSendMode, LocalReplyRecord, MutationRules, ProcessingMode, ProcessingRequestMsg,
  ProcessingResponseMsg, UpstreamRequestRecord,
} from './emulator/types.js'

/** A running emulator. */
export interface EnvoyEmulator {
  /** The HTTP/1.1 listener's port on 127.0.0.1. */
  port: number
  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string
  stats: EmulatorStats
  close(): Promise<void>
}

interface LoadedProtos {
  Client: ServiceClientConstructor
  codec: MessageCodec
  statusCodes: Map<string, number>
}

let loaded: LoadedProtos | undefined

function lookup(root: GrpcObject, path: string): unknown {
  return path.split('.').reduce<unknown>((node, part) => (node as GrpcObject)[part], root)
}

function loadProtos(): LoadedProtos {
  if (loaded !== undefined) return loaded
  const pkg = loadProtoPackage([EXT_PROC_PROTO])
  const Client = lookup(pkg, 'envoy.service.ext_proc.v3.ExternalProcessor') as
    ServiceClientConstructor
  const method = Client.service.Process as NonNullable<typeof Client.service.Process>
  const codec: MessageCodec = {
    roundTrip: (m) => method.requestDeserialize(method.requestSerialize(m)) as ProcessingRequestMsg,
  }
  const statusEnum = lookup(pkg, 'envoy.type.v3.StatusCode') as
    { type: { value: Array<{ name: string; number: number }> } }
  const statusCodes = new Map(statusEnum.type.value.map((v) => [v.name, v.number]))
  loaded = { Client, codec, statusCodes }
  return loaded
}

function resolveOptions(options: EnvoyEmulatorOptions): ResolvedOptions {
  const processingMode = resolveMode(options.processingMode)
  const unsupported = unsupportedMode(processingMode)
  if (unsupported !== undefined) throw new Error(`cannot emulate processing mode: ${unsupported}`)
  const requestAttributes = options.requestAttributes ?? ['xds.route_metadata', 'xds.route_name']
  assertSupportedAttributes(requestAttributes)
  return {
    routes: options.routes,
    requestAttributes,
    messageTimeoutMs: options.messageTimeoutMs ?? 200,
    maxMessageTimeoutMs: options.maxMessageTimeoutMs ?? 0,
    gracefulGrpcClose: options.gracefulGrpcClose ?? false,
    bufferLimitBytes: options.bufferLimitBytes ?? 1024 * 1024,
    processingMode,
    allowModeOverride: options.allowModeOverride ?? false,
    failureModeAllow: options.failureModeAllow ?? false,
    sendProtocolConfig: options.sendProtocolConfig ?? true,
    initialMetadata: options.initialMetadata ?? {},
    mutationRules: {
      ...options.mutationRules,
      ...(options.disallowIsError === undefined
        ? {}
        : { disallowIsError: options.disallowIsError }),
    },
    suppressEnvoyHeaders: options.suppressEnvoyHeaders ?? false,
    routeMetadataPrintOptions: options.routeMetadataPrintOptions,
  }
}

function newStats(): EmulatorStats {
  return { requests: [], streamsOpened: 0, messageTimeouts: 0, spuriousMessages: 0,
    rejectedHeaderMutations: 0, localReplies: 0, failureModeAllowed: 0,
    overrideMessageTimeoutReceived: 0, overrideMessageTimeoutIgnored: 0,
    clearRouteCacheIgnored: 0 }
}

/**
 * Starts the emulator on 127.0.0.1 with an ephemeral port. It connects to the ext_proc server
 * lazily, on the first request that needs a Process stream.
 */
export async function startEnvoyEmulator(options: EnvoyEmulatorOptions): Promise<EnvoyEmulator> {
  const resolved = resolveOptions(options)
  const protos = loadProtos()
  const client = new protos.Client(options.extProcAddress, credentials.createInsecure(), {
    'grpc.default_authority': options.grpcAuthority ?? 'mcp_sigv4_extproc',
  }) as unknown as StreamDeps['client']
  const stats = newStats()
  const agent = new Agent({ keepAlive: true })
  const deps: FlowDeps = { options: resolved, client, codec: protos.codec, stats,
    statusCodes: protos.statusCodes, agent }
  const server = createServer((req, res) => {
    const record: EmulatedRequestRecord = { method: req.method ?? 'GET', path: req.url ?? '/',
      routeName: undefined, streamOpened: false, sent: [], received: [], finished: false }
    stats.requests.push(record)
    const flow = new RequestFlow(deps, req, res, record)
    flow.run().catch((err: unknown) => {
      flow.abort()
      const details = `emulator_error{${String(err)}}`.replace(/\s/g, '_')
      record.localReply = { status: 500, details, body: '', immediate: false }
      if (!res.headersSent) res.writeHead(500, { 'content-length': '0' })
      res.end()
    })
  })
  const loopback = await listenOnLoopback(server)
  const port = loopback.port
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stats,
    close: async () => {
      // Not awaited yet: its synchronous part destroys the downstream sockets first, so they
      // still go before the upstream agent and the gRPC client do.
      const closing = loopback.close()
      agent.destroy()
      client.close()
      await closing
    },
  }
}
