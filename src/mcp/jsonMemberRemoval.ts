import { SignerError } from '../errors.js'
import { JsonScanner } from './jsonScanner.js'
import type { JsonToken } from './jsonScanner.js'

/** A path to an object member: strings name object members, numbers index arrays. */
export type JsonMemberPath = ReadonlyArray<string | number>

/** A span `[start, end)` of the text, in UTF-16 code units. */
export interface TextSpan {
  readonly start: number
  readonly end: number
}

interface PathNode {
  remove: boolean
  readonly children: Map<string | number, PathNode>
}

interface Member {
  readonly start: number
  readonly end: number
  readonly remove: boolean
}

/**
 * Removes the object members at `paths` from JSON `text` by cutting them out of the original
 * text, so every other character (number spellings such as `1.0`, whitespace, key order,
 * escapes) stays as it was. A member's comma goes with it: the one after it, or for the last
 * member the one before it; an object that loses all members keeps its inner whitespace.
 * Paths that do not exist (or are empty) are ignored; keys match after unescaping, and every
 * duplicate of a key is removed.
 *
 * @throws SignerError `ERR_JSON_RPC_PARSE` when `text` is not valid JSON.
 */
export function removeJsonMembers(text: string, paths: ReadonlyArray<JsonMemberPath>): string {
  let result = ''
  let from = 0
  for (const span of jsonMemberRemovalSpans(text, paths)) {
    result += text.slice(from, span.start)
    from = span.end
  }
  return result + text.slice(from)
}

/**
 * The spans {@link removeJsonMembers} cuts out, sorted and disjoint. The walk recurses only
 * along `paths` and skips everything else iteratively, so deep documents are safe.
 *
 * @throws SignerError `ERR_JSON_RPC_PARSE` when `text` is not valid JSON.
 */
export function jsonMemberRemovalSpans(
  text: string,
  paths: ReadonlyArray<JsonMemberPath>,
): TextSpan[] {
  try {
    // The scanner does not check the grammar: only valid JSON may be cut.
    JSON.parse(text)
  } catch {
    const message = 'cannot remove JSON members: the text is not valid JSON'
    throw new SignerError('ERR_JSON_RPC_PARSE', message)
  }
  const spans: TextSpan[] = []
  const scanner = new JsonScanner(text)
  visitValue(scanner, scanner.next(), pathTree(paths), spans)
  return spans.sort((a, b) => a.start - b.start)
}

function pathTree(paths: ReadonlyArray<JsonMemberPath>): PathNode {
  const root: PathNode = { remove: false, children: new Map() }
  for (const path of paths) {
    let node = root
    for (const step of path) {
      let child = node.children.get(step)
      if (child === undefined) {
        child = { remove: false, children: new Map() }
        node.children.set(step, child)
      }
      node = child
    }
    if (node !== root) node.remove = true
  }
  return root
}

/** Reads the value starting at `first`; returns the offset after it. */
function visitValue(
  scanner: JsonScanner,
  first: JsonToken,
  node: PathNode | undefined,
  spans: TextSpan[],
): number {
  if (node === undefined || node.children.size === 0) return scanner.skipValue(first)
  if (first.type === '{') return visitObject(scanner, node, spans)
  if (first.type === '[') return visitArray(scanner, node, spans)
  return first.end
}

function visitObject(scanner: JsonScanner, node: PathNode, spans: TextSpan[]): number {
  const members: Member[] = []
  let token = scanner.next()
  for (; !isClose(token); token = scanner.next()) {
    if (token.type === ',') continue
    const child = node.children.get(scanner.stringValue(token))
    scanner.next() // the ':' of a member
    const remove = child?.remove === true
    // A removed member's value is skipped: paths below it go with it.
    const end = visitValue(scanner, scanner.next(), remove ? undefined : child, spans)
    members.push({ start: token.start, end, remove })
  }
  spans.push(...memberSpans(members))
  return token.end
}

function visitArray(scanner: JsonScanner, node: PathNode, spans: TextSpan[]): number {
  let index = 0
  let token = scanner.next()
  for (; !isClose(token); token = scanner.next()) {
    if (token.type === ',') continue
    visitValue(scanner, token, node.children.get(index), spans)
    index++
  }
  return token.end
}

/**
 * The spans that remove each run of consecutive removed members with exactly one comma:
 * up to the next kept member's key, or (a run at the end) from the previous kept member's value.
 */
function memberSpans(members: readonly Member[]): TextSpan[] {
  const spans: TextSpan[] = []
  let first = 0
  while (first < members.length) {
    if (!members[first].remove) {
      first++
      continue
    }
    let last = first
    while (last + 1 < members.length && members[last + 1].remove) last++
    const atEnd = last + 1 === members.length
    // Only member(s): cut just the members. A run at the end: cut from the previous value.
    const start = first > 0 && atEnd ? members[first - 1].end : members[first].start
    const end = atEnd ? members[last].end : members[last + 1].start
    spans.push({ start, end })
    first = last + 1
  }
  return spans
}

function isClose(token: JsonToken): boolean {
  return token.type === '}' || token.type === ']' || token.type === 'end'
}
