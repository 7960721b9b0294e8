import { describe, expect, it } from 'vitest'
import { inferRegionService } from './inferRegionService.js'

describe('inferRegionService', () => {
  it.each([
    ['aws-mcp.us-east-1.api.aws', { service: 'aws-mcp', region: 'us-east-1' }],
    ['eks-mcp.us-west-2.api.aws', { service: 'eks-mcp', region: 'us-west-2' }],
    ['AWS-MCP.EU-CENTRAL-1.API.AWS', { service: 'aws-mcp', region: 'eu-central-1' }],
    ['aws-mcp.us-east-1.api.aws.', { service: 'aws-mcp', region: 'us-east-1' }],
    ['aws-mcp.us-east-1.api.aws:443', { service: 'aws-mcp', region: 'us-east-1' }],
    ['aws-mcp.us-east-1.api.aws.:8443', { service: 'aws-mcp', region: 'us-east-1' }],
    [
      'bedrock-agentcore.us-east-1.amazonaws.com',
      { service: 'bedrock-agentcore', region: 'us-east-1' },
    ],
    [
      'abc123.gateway.bedrock-agentcore.eu-central-1.amazonaws.com',
      { service: 'bedrock-agentcore', region: 'eu-central-1' },
    ],
    [
      'bedrock-agentcore.cn-north-1.amazonaws.com.cn',
      { service: 'bedrock-agentcore', region: 'cn-north-1' },
    ],
    ['s3.us-gov-west-1.amazonaws.com', { service: 's3', region: 'us-gov-west-1' }],
    ['sts.cn-northwest-1.amazonaws.com.cn', { service: 'sts', region: 'cn-northwest-1' }],
    [
      'execute-api.ap-southeast-2.amazonaws.com',
      { service: 'execute-api', region: 'ap-southeast-2' },
    ],
  ])('infers %s', (host, expected) => {
    expect(inferRegionService(host)).toEqual(expected)
  })

  it.each([
    'service.subdomain.us-west-2.api.aws', // 5 labels: not the exact form
    'us-east-1.api.aws', // 3 labels
    'example.com',
    'mcp.internal.example.com',
    'sts-fips.us-east-1.amazonaws.com.example.org',
    'abc.execute-api.us-east-1.amazonaws.com', // 5 labels, not AgentCore
    's3.dualstack.us-east-1.amazonaws.com',
    'aws-mcp.global.api.aws', // not a region shape
    'aws-mcp.us_east_1.api.aws',
    '[::1]:443',
    '127.0.0.1',
    '',
  ])('infers nothing from %j', (host) => {
    expect(inferRegionService(host)).toEqual({})
  })

  it('keeps the region when the first label is no valid service name', () => {
    expect(inferRegionService('aws_mcp.us-east-1.api.aws')).toEqual({ region: 'us-east-1' })
  })
})
