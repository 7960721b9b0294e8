/**
 * The configuration used when neither `--config` nor `MCP_SIGV4_CONFIG` names a file, so that
 * `npm start` runs on a fresh clone. Every other setting takes its schema default.
 */
export const DEFAULT_CONFIG_YAML = `# mcp-sigv4-extproc embedded default configuration
server:
  grpc_address: 0.0.0.0:50051
  http_address: 0.0.0.0:9090
identities:
  default:
    kind: default_chain
`
