import { parseQuery } from '../../src/signing/parseQuery.js'
import type { HttpRequestToSign } from '../../src/signing/types.js'

/**
 * Parses a raw HTTP/1.1 request of the AWS SigV4 test suite (`<case>.req`).
 *
 * - Request line: method up to the first space, version after the last one; the target in
 *   between may contain spaces (`GET /example space/ HTTP/1.1`). The target splits at the first
 *   '?' into path (kept literally) and query.
 * - Headers: `Name:value`, value kept as written (the signer trims). A line starting with a space
 *   or tab continues the previous value (obsolete folding, RFC 7230 §3.2.4), joined by one space.
 *   Names equal up to case are joined with ',' in file order, under the first spelling.
 * - Body: everything after the first blank line; an empty line at the very end of the headers
 *   (a trailing newline) is not a body.
 */
export function parseRawRequest(text: string): HttpRequestToSign {
  const blank = text.indexOf('\n\n')
  const head = blank === -1 ? text : text.slice(0, blank)
  const body = blank === -1 ? undefined : text.slice(blank + 2)
  const [requestLine = '', ...headerLines] = head.split('\n')
  const method = requestLine.slice(0, requestLine.indexOf(' '))
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(' '))
  const queryAt = target.indexOf('?')
  const headers = parseHeaderLines(headerLines)
  const host = Object.entries(headers).find(([name]) => name.toLowerCase() === 'host')?.[1] ?? ''
  const request: HttpRequestToSign = {
    method,
    hostname: host,
    path: queryAt === -1 ? target : target.slice(0, queryAt),
    query: queryAt === -1 ? {} : parseQuery(target.slice(queryAt + 1)),
    headers,
  }
  return body === undefined || body === '' ? request : { ...request, body }
}

function parseHeaderLines(lines: string[]): Record<string, string> {
  const fields: Array<[string, string]> = []
  for (const line of lines) {
    if (line === '') continue
    const last = fields[fields.length - 1]
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last[1] = `${last[1]} ${line.trim()}`
      continue
    }
    const colon = line.indexOf(':')
    fields.push([line.slice(0, colon), line.slice(colon + 1)])
  }
  const headers: Record<string, string> = {}
  const spelling = new Map<string, string>()
  for (const [name, value] of fields) {
    const key = spelling.get(name.toLowerCase()) ?? name
    spelling.set(name.toLowerCase(), key)
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]},${value}` : value
  }
  return headers
}
