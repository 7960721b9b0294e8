/** What the orchestrator, the server process and the load generator agree on. */

/** Upstream host of the signed routes (region and service are inferred from it). */
export const BENCH_HOST = 'aws-mcp.us-east-1.api.aws'
/** The web_identity role every bench caller maps to. */
export const BENCH_ROLE = 'arn:aws:iam::123456789012:role/mcp-bench'
export const BENCH_ISSUER = 'https://idp.bench.example'
export const BENCH_AUDIENCE = 'mcp-gateway'

/** How the server process is configured (passed as JSON in `BENCH_SERVER_SPEC`). */
export interface ServerSpec {
  /** Fake STS endpoint for the `caller` web_identity identity. */
  readonly stsEndpoint: string
  /** `credentials.max_entries`. */
  readonly maxEntries: number
}

/** The server's YAML configuration for a spec. */
export function serverConfigYaml(spec: ServerSpec): string {
  return `
server:
  grpc_address: 127.0.0.1:0
  http_address: 127.0.0.1:0
  credential_wait_timeout_ms: 10000
logging: { level: info }
credentials: { max_entries: ${spec.maxEntries} }
sts: { region: us-east-1, timeout_ms: 10000 }
identities:
  default:
    kind: default_chain
    warm: true
  caller:
    kind: web_identity
    roles:
      - { role_arn: "${BENCH_ROLE}", match: { claim: groups, values: [bench] } }
    endpoint: ${spec.stsEndpoint}
`
}

/**
 * A session token of a realistic length (1,021 characters). STS promises no size; the tokens it
 * returns are commonly several hundred to over a thousand characters, and a short example would
 * understate what a request costs: the token is hashed into every canonical request and sent in
 * every answer.
 */
const BENCH_SESSION_TOKEN = `FwoGZXIvYXdzE${'BenchSessionTokenExample0123456789+/'.repeat(28)}`

/**
 * Environment of the server process: long-term example keys with a session token for the
 * default provider chain (its environment provider answers first), and no IMDS lookups.
 */
export const SERVER_ENV: Readonly<Record<string, string>> = Object.freeze({
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: BENCH_SESSION_TOKEN,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
})

/** The routes the load generator plays. */
export type BenchRoute = 'passthrough' | 'signed' | 'caller'
