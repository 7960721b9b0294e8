import { z } from 'zod'
import { HTTP2_DEFAULT_WINDOW_BYTES, HTTP2_MAX_WINDOW_BYTES } from './receiveWindows.js'

/**
 * The configuration schema. Every object is strict: an unknown key is an error, so a typo in a
 * YAML file is reported at load instead of silently ignored. Defaults sit next to each field.
 */

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected "host:port", e.g. "0.0.0.0:50051"')

/** An HTTP/2 flow-control window: at least HTTP/2's default, at most its maximum. */
const windowBytes = z.number().int().min(HTTP2_DEFAULT_WINDOW_BYTES).max(HTTP2_MAX_WINDOW_BYTES)

const roleArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
    'expected an IAM role ARN such as "arn:aws:iam::123456789012:role/name"',
  )

/** A name an identity or a route refers to: letters, digits, `_`, `-`, `.`. */
export const identityName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected 1-64 characters of [A-Za-z0-9_.-]')

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region such as "us-east-1"')

/** Resolve the identity at start-up; `/readyz` waits for it. */
const warm = z.boolean().default(false)

const defaultChainIdentity = z.strictObject({
  kind: z.literal('default_chain'),
  warm,
})

const profileIdentity = z.strictObject({
  kind: z.literal('profile'),
  warm,
  /** The profile name in the shared credentials / config files. */
  profile: z.string().min(1),
  /** Path of the shared credentials file; default: `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`. */
  credentials_file: z.string().min(1).optional(),
  /** Path of the shared config file; default: `AWS_CONFIG_FILE` or `~/.aws/config`. */
  config_file: z.string().min(1).optional(),
})

const assumeRoleIdentity = z.strictObject({
  kind: z.literal('assume_role'),
  warm,
  role_arn: roleArn,
  /**
   * The identity whose credentials call STS (role chaining). Absent: the default provider chain.
   */
  source: identityName.optional(),
  external_id: z.string().min(2).max(1224).optional(),
  /** `RoleSessionName`; AWS allows `[\w+=,.@-]`, 2-64 characters. */
  session_name: z
    .string()
    .regex(/^[\w+=,.@-]{2,64}$/, 'expected 2-64 characters of [A-Za-z0-9_+=,.@-]')
    .default('mcp-sigv4-extproc'),
  /** 900-43200 seconds; the role's maximum session duration must allow it. */
  duration_seconds: z.number().int().min(900).max(43200).default(3600),
  /** The `SourceIdentity` STS parameter (recorded in CloudTrail), not the `source` identity. */
  source_identity: z
    .string()
    .regex(/^[\w+=,.@-]{2,64}$/, 'expected 2-64 characters of [A-Za-z0-9_+=,.@-]')
    .optional(),
  /** STS region; default: the `sts.region` setting. */
  region: region.optional(),
  /** STS endpoint URL (VPC endpoint, FIPS, tests); default: the regional STS endpoint. */
  endpoint: z.url().optional(),
})

const policyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]{1,512}$/, 'expected an IAM policy ARN')

/** A claim test: the claim (dotted path) equals one of `values`, or contains one when it is a list. */
const claimMatch = z.strictObject({
  claim: z.string().min(1),
  values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1),
})

/** A CEL expression over `claims` that must evaluate to `true`. */
const celMatch = z.strictObject({ cel: z.string().min(1) })

const roleRule = z.strictObject({
  role_arn: roleArn,
  /** Lower wins; rules without a priority come after those with one; ties keep rule order. */
  priority: z.number().int().min(0).optional(),
  match: z.union([claimMatch, celMatch]),
  /** Inline session policy (JSON) that scopes the role down. */
  session_policy: z
    .string()
    .max(2048)
    .refine((text) => isJsonObject(text), 'expected a JSON policy document')
    .optional(),
  /** Managed policies that scope the role down (at most 10). */
  policy_arns: z.array(policyArn).max(10).optional(),
  duration_seconds: z.number().int().min(900).max(43200).optional(),
})

const webIdentity = z.strictObject({
  kind: z.literal('web_identity'),
  token: z
    .strictObject({
      /**
       * `authorization`: `Authorization: Bearer <token>`; `header`: the named header;
       * `jwt_authn`: claims from Envoy's jwt_authn payload in `metadata_context`, token from
       * `header` (default `authorization`).
       */
      from: z.enum(['authorization', 'header', 'jwt_authn']).default('authorization'),
      header: z
        .string()
        .regex(/^[a-z0-9-]+$/, 'expected a lower-case header name')
        .optional(),
      metadata_namespace: z.string().min(1).default('envoy.filters.http.jwt_authn'),
      /** jwt_authn `payload_in_metadata` key. */
      payload_key: z.string().min(1).optional(),
    })
    .prefault({}),
  verify: z
    .strictObject({
      issuer: z.string().min(1),
      audiences: z.array(z.string().min(1)).min(1).optional(),
      jwks_url: z.url().optional(),
      jwks_file: z.string().min(1).optional(),
      algorithms: z.array(z.string().min(1)).min(1).optional(),
      clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
      /** A verified token's claims are reused for at most this long (and never past `exp`). */
      cache_seconds: z.number().int().min(0).max(3600).default(300),
    })
    .optional(),
  roles: z.array(roleRule).default([]),
  fallback_role_arn: roleArn.optional(),
  /** The claim that names the AWS session (`RoleSessionName`), made valid when it is not. */
  session_name_claim: z.string().min(1).default('sub'),
  /**
   * Prepended to the session name, e.g. `idp-a.`: callers of two identity providers with the
   * same subject, mapped to one role, then stay two AWS principals.
   */
  session_name_prefix: z
    .string()
    .regex(/^[\w+=,.@-]{0,32}$/, 'expected at most 32 characters of [A-Za-z0-9_+=,.@-]')
    .default(''),
  duration_seconds: z.number().int().min(900).max(43200).default(3600),
  /** STS region; default: the `sts.region` setting. */
  region: region.optional(),
  /** STS endpoint URL; default: the regional STS endpoint. */
  endpoint: z.url().optional(),
})

export const identitySchema = z.discriminatedUnion('kind', [
  defaultChainIdentity,
  profileIdentity,
  assumeRoleIdentity,
  webIdentity,
])

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/** Route keys given in the configuration, for a route identified by its `xds.route_name`. */
const staticRoute = z.strictObject({
  host: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  path_prefix: z.string().min(1).optional(),
  path_prefix_replacement: z.string().optional(),
  region: region.optional(),
  service: z.string().min(1).optional(),
  identity: identityName.optional(),
  /** Comma-separated identities a `tools/call` may switch to. */
  identities: z.string().min(1).optional(),
  /** Name of the MCP policy under `mcp.policies`. */
  policy: identityName.optional(),
})

const globList = z.array(z.string().min(1))
const agentRules = z.strictObject({
  allow: z.strictObject({ tools: globList.optional(), methods: globList.optional() }).optional(),
  deny: z.strictObject({ tools: globList.optional(), methods: globList.optional() }).optional(),
})

/** A named per-agent access policy (route key `policy`). */
const mcpPolicy = z.strictObject({
  /** Where the agent's identity comes from, most trusted first. */
  agent: z
    .strictObject({
      /** A claim of the caller's verified token (route identity `web_identity` with `verify` or jwt_authn). */
      claim: z.string().min(1).optional(),
      /** A request header Envoy sets; Envoy must strip it from client requests. */
      header: z
        .string()
        .regex(/^[a-z0-9-]+$/, 'expected a lower-case header name')
        .optional(),
      /** Accept `_meta[<key>]` or `arguments[<key>]` from the message itself: spoofable. */
      allow_self_asserted: z.boolean().default(false),
      self_asserted_key: z.string().min(1).default('agent_id'),
    })
    .prefault({}),
  /** Deny every call when no agent identity is found (default); otherwise use the fallbacks. */
  deny_on_missing_agent: z.boolean().default(true),
  /** Agent to use when none is found and `deny_on_missing_agent` is false. */
  fallback_agent: z.string().min(1).optional(),
  agents: z.record(z.string().min(1), agentRules),
})

const mcp = z.strictObject({
  identity_override: z
    .strictObject({
      /** `params._meta` key a `tools/call` names another identity with. */
      meta_key: z.string().min(1).default('mcp-sigv4/identity'),
      /** Also accept the identity as this tool argument (for clients that only fill arguments). */
      argument: z.string().min(1).optional(),
      /** Whether a refused override's error message lists the allowed names. */
      list_allowed_in_errors: z.boolean().default(true),
    })
    .prefault({}),
  policies: z.record(identityName, mcpPolicy).default({}),
})

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      /** gRPC listener for Envoy's ext_proc filter. */
      grpc_address: listenAddress.default('0.0.0.0:50051'),
      /** HTTP listener for /metrics, /healthz and /readyz. */
      http_address: listenAddress.default('0.0.0.0:9090'),
      /** Largest request body accepted for signing; Envoy's default buffer limit is 1 MiB. */
      max_body_bytes: z.number().int().min(1).max(64 * 1024 * 1024).default(1024 * 1024),
      /**
       * When Envoy reports (protocol_config) a request body mode other than BUFFERED, ask for the
       * body with `mode_override`. Only works with `allow_mode_override: true` on the filter;
       * otherwise such requests are rejected with ERR_BODY_MODE_UNSUPPORTED.
       */
      request_body_mode_override: z.boolean().default(false),
      /**
       * While a request waits for credentials that are not cached yet, the server first sends
       * `override_message_timeout` with this value. Envoy honours it only up to its own
       * `max_message_timeout`; 0 disables the override.
       */
      credential_wait_timeout_ms: z.number().int().min(0).max(3_600_000).default(10_000),
      /**
       * HTTP/2 flow control on the gRPC listener: how much Envoy may send before waiting for a
       * WINDOW_UPDATE. Defaults: a stream holds `max_body_bytes` + 64 KiB, a connection 16 MiB
       * (at least one stream's window). HTTP/2's own 64 KiB makes large bodies slow.
       */
      http2: z
        .strictObject({
          stream_window_bytes: windowBytes.optional(),
          connection_window_bytes: windowBytes.optional(),
        })
        .prefault({}),
      /**
       * Milliseconds of ext_proc message handling per event-loop turn. Once a turn has used it,
       * further messages wait for the next turn, so that a burst of new streams does not hold
       * the loop (timers, health checks, other streams' answers) for its whole length. 0 never
       * defers.
       */
      turn_budget_ms: z.number().min(0).max(1000).default(4),
      /** Grace period for in-flight streams on shutdown. */
      shutdown_grace_seconds: z.number().min(0).max(3600).default(20),
      /** TLS on the gRPC listener; with `client_ca_file`, mutual TLS. */
      tls: z
        .strictObject({
          cert_file: z.string().min(1),
          key_file: z.string().min(1),
          /** CA bundle that client certificates must chain to (mTLS). */
          client_ca_file: z.string().min(1).optional(),
          /** Refuse clients without a valid certificate; default true when client_ca_file is set. */
          require_client_cert: z.boolean().optional(),
        })
        .optional(),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  credentials: z
    .strictObject({
      /** Refresh credentials this long before they expire, while still serving them. */
      refresh_ahead_seconds: z.number().int().min(0).max(3600).default(300),
      /** Stop using credentials this long before their expiration (clock skew margin). */
      expiry_skew_seconds: z.number().int().min(0).max(600).default(30),
      /** Credentials without an expiration (static keys) are re-read this often. */
      static_refresh_seconds: z.number().int().min(1).max(86_400).default(3600),
      /** First wait after a failed fetch; doubles per failure up to `failure_backoff_max_ms`. */
      failure_backoff_initial_ms: z.number().int().min(0).max(600_000).default(1000),
      failure_backoff_max_ms: z.number().int().min(0).max(3_600_000).default(60_000),
      /** Upper bound of cached credential sets. */
      max_entries: z.number().int().min(1).max(1_000_000).default(10_000),
    })
    .prefault({}),
  sts: z
    .strictObject({
      /** Region of the STS endpoint used by `assume_role` identities without their own. */
      region: region.optional(),
      /** Timeout of one STS call. */
      timeout_ms: z.number().int().min(100).max(60_000).default(5000),
      /**
       * STS calls in flight at once per STS client (one per `web_identity` or `assume_role`
       * identity); further calls wait their turn. Higher: a burst of new callers is served
       * sooner; lower: requests served from the cache are slowed less meanwhile.
       */
      max_concurrent_calls: z.number().int().min(1).max(1000).default(50),
    })
    .prefault({}),
  identities: z.record(identityName, identitySchema).default({ default: { kind: 'default_chain', warm: false } }),
  /** MCP-aware features: per-call identity override and per-agent policies. */
  mcp: mcp.prefault({}),
  /** Static route keys by `xds.route_name`; the lowest-precedence source of route keys. */
  routes: z.record(z.string().min(1), staticRoute).default({}),
})

export type Config = z.infer<typeof configSchema>
export type IdentityConfig = z.infer<typeof identitySchema>
export type AssumeRoleIdentityConfig = z.infer<typeof assumeRoleIdentity>
export type StaticRouteConfig = z.infer<typeof staticRoute>
export type WebIdentityConfig = z.infer<typeof webIdentity>
export type RoleRuleConfig = z.infer<typeof roleRule>
export type McpPolicyConfig = z.infer<typeof mcpPolicy>
export type McpConfig = z.infer<typeof mcp>
