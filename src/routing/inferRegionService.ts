/**
 * Signing region and service inferred from the host, for routes that do not set them.
 *
 * Patterns (after `mcp-proxy-for-aws` `get_service_name_and_region_from_endpoint`, plus the
 * classic `amazonaws.com` endpoint form and its China partition `amazonaws.com.cn`):
 * - `…bedrock-agentcore.<region>.amazonaws.com[.cn]` → (`bedrock-agentcore`, region): the
 *   AgentCore runtime, and gateways `<id>.gateway.bedrock-agentcore.<region>.amazonaws.com`;
 * - `<service>.<region>.api.aws` (exactly 4 labels) → (service, region), e.g. the AWS MCP
 *   Server `aws-mcp.us-east-1.api.aws`;
 * - `<service>.<region>.amazonaws.com[.cn]` (exactly 4 [5] labels) → (service, region).
 * FIPS and dual-stack names are not inferred: their first label is not reliably the signing
 * name, so such routes must set `service` and `region`.
 */

import { REGION_PATTERN, SERVICE_PATTERN } from './routeValueChecks.js'

/** What could be inferred; a missing member could not. */
export interface InferredRegionService {
  readonly region?: string
  readonly service?: string
}

const AGENTCORE = 'bedrock-agentcore'

/** Infers (region, service) from an authority: a trailing dot and a port are ignored. */
export function inferRegionService(authority: string): InferredRegionService {
  if (authority.startsWith('[')) return {}
  const hostname = authority.toLowerCase().replace(/:[0-9]*$/, '').replace(/\.$/, '')
  const labels = hostname.split('.')
  const found = matchAgentCore(labels) ?? matchFourLabels(labels)
  if (found === undefined || !REGION_PATTERN.test(found.region)) return {}
  if (!SERVICE_PATTERN.test(found.service)) return { region: found.region }
  return found
}

/** Labels without the `amazonaws.com` / `amazonaws.com.cn` suffix, if it is there. */
function withoutAmazonawsSuffix(labels: readonly string[]): readonly string[] | undefined {
  const n = labels.length
  if (labels[n - 2] === 'amazonaws' && labels[n - 1] === 'com') return labels.slice(0, n - 2)
  if (labels[n - 3] === 'amazonaws' && labels[n - 2] === 'com' && labels[n - 1] === 'cn') {
    return labels.slice(0, n - 3)
  }
  return undefined
}

function matchAgentCore(labels: readonly string[]): Required<InferredRegionService> | undefined {
  const head = withoutAmazonawsSuffix(labels)
  if (head === undefined || head.length < 2 || head[head.length - 2] !== AGENTCORE) return undefined
  return { service: AGENTCORE, region: head[head.length - 1] as string }
}

function matchFourLabels(labels: readonly string[]): Required<InferredRegionService> | undefined {
  const [service, region] = labels
  if (service === undefined || region === undefined) return undefined
  const isApiAws = labels.length === 4 && labels[2] === 'api' && labels[3] === 'aws'
  const head = withoutAmazonawsSuffix(labels)
  if (isApiAws || head?.length === 2) return { service, region }
  return undefined
}
