import { JsonScanner } from './jsonScanner.js'
import type { JsonToken } from './jsonScanner.js'

/** Where a duplicate key was found, named by its object's path inside a message. */
export type DuplicateKeyLocation = 'message' | 'params' | 'params._meta' | 'params.arguments'

// The objects whose members the policy and the identity selection read, and how to reach them.
const CHILDREN = new Map<DuplicateKeyLocation, ReadonlyMap<string, DuplicateKeyLocation>>([
  ['message', new Map([['params', 'params']])],
  [
    'params',
    new Map<string, DuplicateKeyLocation>([
      ['_meta', 'params._meta'],
      ['arguments', 'params.arguments'],
    ]),
  ],
])

/**
 * The first object on the path the policy reads that has a duplicate key, or undefined. Checks
 * each message object (the document, or each element of a batch), its `params`, and
 * `params._meta` and `params.arguments`; keys are compared after unescaping (`"m\u0065thod"` is
 * `method`). `JSON.parse` keeps the last of duplicate keys and other parsers the first, so a
 * duplicate there could show the policy one method, tool or identity and the upstream another.
 * `text` must be valid JSON (run `JSON.parse` first); the scan never recurses deeper than the
 * four levels above, so deep documents are safe.
 */
export function findJsonRpcDuplicateKey(text: string): DuplicateKeyLocation | undefined {
  const scanner = new JsonScanner(text)
  const first = scanner.next()
  if (first.type === '{') return checkObject(scanner, 'message')
  if (first.type !== '[') return undefined
  for (let token = scanner.next(); !isClose(token); token = scanner.next()) {
    if (token.type === ',') continue
    const found = token.type === '{' ? checkObject(scanner, 'message') : skip(scanner, token)
    if (found !== undefined) return found
  }
  return undefined
}

function checkObject(
  scanner: JsonScanner,
  where: DuplicateKeyLocation,
): DuplicateKeyLocation | undefined {
  const keys = new Set<string>()
  const children = CHILDREN.get(where)
  for (let token = scanner.next(); !isClose(token); token = scanner.next()) {
    if (token.type === ',') continue
    const key = scanner.stringValue(token)
    if (keys.has(key)) return where
    keys.add(key)
    scanner.next() // the ':' of a member
    const value = scanner.next()
    const child = children?.get(key)
    const found =
      value.type === '{' && child !== undefined ? checkObject(scanner, child) : skip(scanner, value)
    if (found !== undefined) return found
  }
  return undefined
}

function skip(scanner: JsonScanner, first: JsonToken): undefined {
  scanner.skipValue(first)
  return undefined
}

function isClose(token: JsonToken): boolean {
  return token.type === '}' || token.type === ']' || token.type === 'end'
}
