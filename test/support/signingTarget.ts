import type { StreamSigningTarget } from '../../src/protocol/index.js'

/** The AWS MCP Server in us-east-1 as a resolved signing target, for unit tests. */
export const AWS_MCP_TARGET: StreamSigningTarget = Object.freeze({
  routeName: 'aws-mcp',
  host: 'aws-mcp.us-east-1.api.aws',
  path: '/mcp',
  query: '',
  region: 'us-east-1',
  service: 'aws-mcp',
  identity: 'default',
  allowedIdentities: [],
  policy: undefined,
})
