/**
 * The MCP-shaped vector in ../shared/oracles/mcp-sigv4 (expected values from botocore, matched
 * by smithy): a tools/call POST with a session token, `%3A` in the path, a space in a query key
 * and value, and runs of whitespace in a header value.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { explainSignature } from '../../src/signing/explainSignature.js'
import { parseQuery } from '../../src/signing/parseQuery.js'
import { signHttpRequest } from '../../src/signing/signCanonical.js'
import { signRequest } from '../../src/signing/signRequest.js'
import type { CanonicalSigningOptions, HttpRequestToSign } from '../../src/signing/types.js'
import { oraclePath } from './oracles.js'

interface McpVector {
  body_utf8: string
  input: {
    method: string
    url: string
    headers: Array<[string, string]>
    body_b64: string
    region: string
    service: string
    access_key: string
    secret_key: string
    session_token: string
    amz_date: string
  }
  expected: {
    authorization: string
    canonical_request: string
    string_to_sign: string
    signature: string
    x_amz_date: string
    x_amz_security_token: string
    x_amz_content_sha256: string
  }
  smithy_request: {
    method: string
    hostname: string
    path: string
    query: Record<string, string | string[]>
    headers: Record<string, string>
    signer_init: { service: string; region: string; applyChecksum: boolean; uriEscapePath: boolean }
    signingDate: string
  }
}

const vectorPath = oraclePath('mcp-sigv4', 'mcp-tools-call.json')
const vector = JSON.parse(readFileSync(vectorPath, 'utf8')) as McpVector
const { input, expected, smithy_request: smithy } = vector
const body = Buffer.from(input.body_b64, 'base64')
const credentials = Object.freeze({
  accessKeyId: input.access_key,
  secretAccessKey: input.secret_key,
  sessionToken: input.session_token,
})
const options: CanonicalSigningOptions = {
  region: smithy.signer_init.region,
  service: smithy.signer_init.service,
  signingDate: new Date(smithy.signingDate),
  applyChecksum: smithy.signer_init.applyChecksum,
  uriEscapePath: smithy.signer_init.uriEscapePath,
}
const request: HttpRequestToSign = {
  method: smithy.method,
  hostname: smithy.hostname,
  path: smithy.path,
  query: smithy.query,
  headers: smithy.headers,
  // The smithy request shape carries no body; the payload hash in the vector is the body's.
  body,
}

describe('MCP tools/call vector', () => {
  it('carries a body whose SHA-256 is the signed payload hash', () => {
    expect(body.toString('utf8')).toBe(vector.body_utf8)
    expect(createHash('sha256').update(body).digest('hex')).toBe(expected.x_amz_content_sha256)
  })

  it('signHttpRequest gives the expected signed headers', async () => {
    const signed = await signHttpRequest(request, credentials, options)
    expect(signed.headers.authorization).toBe(expected.authorization)
    expect(signed.headers['x-amz-date']).toBe(expected.x_amz_date)
    expect(signed.headers['x-amz-security-token']).toBe(expected.x_amz_security_token)
    expect(signed.headers['x-amz-content-sha256']).toBe(expected.x_amz_content_sha256)
  })

  it('explainSignature gives the expected canonical request and string to sign', async () => {
    const explained = await explainSignature(request, credentials, options)
    expect(explained.canonicalRequest).toBe(expected.canonical_request)
    expect(explained.stringToSign).toBe(expected.string_to_sign)
    expect(explained.signature).toBe(expected.signature)
  })

  it('parseQuery reads the URL query as the smithy request has it', () => {
    const url = new URL(input.url)
    expect(url.pathname).toBe(smithy.path)
    expect(parseQuery(url.search.slice(1))).toEqual(smithy.query)
  })

  it('signRequest matches the path, query and payload lines, and signHttpRequest', async () => {
    // signRequest signs only its minimal header set, not accept or mcp-session-id, so its
    // Authorization differs from the vector's. The header-independent lines of the canonical
    // request must still match, and signHttpRequest over the same minimal set must agree.
    const url = new URL(input.url)
    const contentType = input.headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1]
    const signed = await signRequest(
      {
        method: input.method,
        host: url.host,
        path: url.pathname,
        query: url.search.slice(1),
        contentType,
        payloadSha256Hex: expected.x_amz_content_sha256,
        region: input.region,
        service: input.service,
        signingDate: options.signingDate,
      },
      credentials,
    )
    expect(signed.amzDate).toBe(expected.x_amz_date)
    expect(signed.securityToken).toBe(expected.x_amz_security_token)
    expect(signed.contentSha256).toBe(expected.x_amz_content_sha256)

    const minimal = await explainSignature(
      {
        ...request,
        headers: {
          host: url.host,
          'content-type': contentType ?? '',
          'x-amz-content-sha256': expected.x_amz_content_sha256,
        },
      },
      credentials,
      { ...options, applyChecksum: false },
    )
    expect(signed.authorization).toBe(minimal.headers.authorization)
    const lines = minimal.canonicalRequest.split('\n')
    const expectedLines = expected.canonical_request.split('\n')
    expect(lines.slice(0, 3)).toEqual(expectedLines.slice(0, 3))
    expect(lines.at(-1)).toBe(expectedLines.at(-1))
    expect(lines.at(-2))
      .toBe('content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token')
  })
})
