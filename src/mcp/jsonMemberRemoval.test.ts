import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SignerError } from '../errors.js'
import { jsonMemberRemovalSpans, removeJsonMembers } from './jsonMemberRemoval.js'
import type { JsonMemberPath } from './jsonMemberRemoval.js'

/** A small deterministic generator, so one fast-check integer drives a whole formatting. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SPACES = ['', '', '', ' ', '\n', '\t', '  ', '\r\n  ']

/** Serializes `value` with random whitespace, number spellings and string escapes. */
function format(value: unknown, rand: () => number): string {
  const ws = () => SPACES[Math.floor(rand() * SPACES.length)] as string
  if (typeof value === 'number') return formatNumber(value, rand)
  if (typeof value === 'string') return formatString(value, rand)
  if (Array.isArray(value)) {
    if (value.length === 0) return `[${ws()}]`
    return `[${value.map((item) => ws() + format(item, rand) + ws()).join(',')}]`
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
    if (entries.length === 0) return `{${ws()}}`
    const members = entries.map(
      ([key, item]) =>
        `${ws()}${formatString(key, rand)}${ws()}:${ws()}${format(item, rand)}${ws()}`,
    )
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value)
}

function formatNumber(value: number, rand: () => number): string {
  const plain = JSON.stringify(value)
  if (!/^-?\d+$/.test(plain)) return rand() < 0.5 ? plain : plain.toUpperCase()
  const spellings = [plain, `${plain}.0`, `${plain}e0`, `${plain}.000E+0`]
  return spellings[Math.floor(rand() * spellings.length)] as string
}

function formatString(value: string, rand: () => number): string {
  let out = '"'
  for (const unit of value.split('')) {
    const code = unit.charCodeAt(0)
    out +=
      rand() < 0.2 ? `\\u${code.toString(16).padStart(4, '0')}` : JSON.stringify(unit).slice(1, -1)
  }
  return `${out}"`
}

/** Every path to an object member in `value`. */
function memberPaths(
  value: unknown,
  prefix: Array<string | number> = [],
): Array<Array<string | number>> {
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => memberPaths(item, [...prefix, index]))
  }
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([key, item]) => [
    [...prefix, key],
    ...memberPaths(item, [...prefix, key]),
  ])
}

function deleteAt(root: unknown, path: JsonMemberPath): void {
  let node: unknown = root
  for (const step of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return
    node = (node as Record<string | number, unknown>)[step]
  }
  const last = path[path.length - 1]
  if (
    typeof node === 'object' &&
    node !== null &&
    !Array.isArray(node) &&
    typeof last === 'string'
  ) {
    delete (node as Record<string, unknown>)[last]
  }
}

describe('removeJsonMembers', () => {
  it('removes the first, a middle, the last and the only member with the right comma', () => {
    const text = '{"a": 1, "b": 2, "c": 3}'
    expect(removeJsonMembers(text, [['a']])).toBe('{"b": 2, "c": 3}')
    expect(removeJsonMembers(text, [['b']])).toBe('{"a": 1, "c": 3}')
    expect(removeJsonMembers(text, [['c']])).toBe('{"a": 1, "b": 2}')
    expect(removeJsonMembers('{ "a": 1 }', [['a']])).toBe('{  }')
  })

  it('removes runs and scattered members', () => {
    const text = '{"a":1,"b":2,"c":3,"d":4}'
    expect(removeJsonMembers(text, [['a'], ['b']])).toBe('{"c":3,"d":4}')
    expect(removeJsonMembers(text, [['c'], ['d']])).toBe('{"a":1,"b":2}')
    expect(removeJsonMembers(text, [['a'], ['c']])).toBe('{"b":2,"d":4}')
    expect(removeJsonMembers(text, [['b'], ['d']])).toBe('{"a":1,"c":3}')
    expect(removeJsonMembers(text, [['a'], ['b'], ['c'], ['d']])).toBe('{}')
  })

  it('keeps pretty-printed layout intact', () => {
    const text = '{\n  "a": 1,\n  "b": {\n    "x": true\n  },\n  "c": 3\n}\n'
    expect(removeJsonMembers(text, [['b']])).toBe('{\n  "a": 1,\n  "c": 3\n}\n')
    expect(removeJsonMembers(text, [['c']])).toBe('{\n  "a": 1,\n  "b": {\n    "x": true\n  }\n}\n')
    expect(removeJsonMembers(text, [['b', 'x']])).toBe(
      '{\n  "a": 1,\n  "b": {\n    \n  },\n  "c": 3\n}\n',
    )
  })

  it('preserves number spellings and escapes elsewhere', () => {
    const text = '{"id":1.0,"big":12345678901234567890,"s":"\\u00e9\\/","params":{"x":1e2,"y":2}}'
    expect(removeJsonMembers(text, [['params', 'y']])).toBe(
      '{"id":1.0,"big":12345678901234567890,"s":"\\u00e9\\/","params":{"x":1e2}}',
    )
  })

  it('follows array indices in batches', () => {
    const text =
      '[{"id":1,"params":{"_meta":{"k":"v"}}},{"id":2},' +
      '{"id":3,"params":{"_meta":{"mcp-sigv4/identity":"x","o":1}}}]'
    expect(removeJsonMembers(text, [[2, 'params', '_meta', 'mcp-sigv4/identity']])).toBe(
      '[{"id":1,"params":{"_meta":{"k":"v"}}},{"id":2},{"id":3,"params":{"_meta":{"o":1}}}]',
    )
  })

  it('removes a tool argument from a single message', () => {
    const text =
      '{"id":1,"method":"tools/call","params":{"name":"t","arguments":{"q":"x","aws_profile":"p"}}}'
    expect(removeJsonMembers(text, [['params', 'arguments', 'aws_profile']])).toBe(
      '{"id":1,"method":"tools/call","params":{"name":"t","arguments":{"q":"x"}}}',
    )
  })

  it('matches keys after unescaping and removes every duplicate', () => {
    expect(removeJsonMembers('{"\\u0061":1,"b":2}', [['a']])).toBe('{"b":2}')
    expect(removeJsonMembers('{"a":1,"b":2,"a":3}', [['a']])).toBe('{"b":2}')
  })

  it('ignores paths that do not exist or lead through the wrong kind of value', () => {
    const text = '{"a":[{"b":1}],"c":"x"}'
    for (const path of [['z'], ['a', 'b'], ['a', 0, 'z'], ['c', 'x'], [0], ['a', 5, 'b'], []]) {
      expect(removeJsonMembers(text, [path])).toBe(text)
    }
    // Numbers index arrays only: "0" is an object key, 0 is not.
    expect(removeJsonMembers('{"0":1}', [[0]])).toBe('{"0":1}')
    expect(removeJsonMembers('{"0":1}', [['0']])).toBe('{}')
    expect(removeJsonMembers('7', [['a']])).toBe('7')
  })

  it('removes a member and a path below it together', () => {
    expect(removeJsonMembers('{"a":{"b":1},"c":2}', [['a', 'b'], ['a']])).toBe('{"c":2}')
  })

  it('rejects text that is not JSON', () => {
    expect(() => removeJsonMembers('{"a":1', [['a']])).toThrow(SignerError)
    expect(() => removeJsonMembers('', [])).toThrow(/cannot remove JSON members/)
  })

  it('handles deep values off the paths without recursion', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000)
    const text = `{"keep":${deep},"drop":1}`
    expect(removeJsonMembers(text, [['drop']])).toBe(`{"keep":${deep}}`)
  })

  // Containers at the top, random nesting below (fc.jsonValue alone is often a scalar).
  const document = fc.oneof(
    fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 5 }), { maxKeys: 6 }),
    fc.array(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 4 })), {
      maxLength: 4,
    }),
    fc.jsonValue({ maxDepth: 6 }),
  )
  const scenario = fc.tuple(document, fc.integer()).chain(([value, seed]) => {
    const all = memberPaths(value)
    return fc.record({
      value: fc.constant(value),
      seed: fc.constant(seed),
      paths: fc.subarray(all, {
        minLength: Math.min(1, all.length),
        maxLength: Math.min(6, all.length),
      }),
    })
  })

  it('property: the result parses to the original minus the members; only the spans differ', () => {
    let withRemovals = 0
    fc.assert(
      fc.property(scenario, ({ value, seed, paths }) => {
        if (paths.length > 0) withRemovals++
        const text = format(value, random(seed))
        const expected = JSON.parse(text) as unknown
        for (const path of paths) deleteAt(expected, path)
        const result = removeJsonMembers(text, paths)
        expect(JSON.parse(result)).toEqual(expected)

        const spans = jsonMemberRemovalSpans(text, paths)
        expect(spans.length).toBeLessThanOrEqual(paths.length)
        let from = 0
        let rebuilt = ''
        for (const span of spans) {
          expect(span.start).toBeGreaterThanOrEqual(from)
          expect(span.end).toBeGreaterThan(span.start)
          rebuilt += text.slice(from, span.start)
          from = span.end
          // Each cut is whole members, plus whitespace and one comma.
          const cut = text.slice(span.start, span.end).replace(/^[\s,]+|[\s,]+$/g, '')
          expect(Object.keys(JSON.parse(`{${cut}}`) as object).length).toBeGreaterThan(0)
        }
        expect(result).toBe(rebuilt + text.slice(from))
        const removed = spans.reduce((sum, span) => sum + span.end - span.start, 0)
        expect(result.length).toBe(text.length - removed)
        if (paths.length === 0) expect(result).toBe(text)
      }),
      { numRuns: 1000 },
    )
    // The property must mostly exercise actual removals, not empty path lists.
    expect(withRemovals).toBeGreaterThan(600)
  })

  it('property: paths that do not exist leave the text byte-identical', () => {
    const path = fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.nat(3)), { maxLength: 4 })
    fc.assert(
      fc.property(
        document,
        fc.integer(),
        fc.array(path, { maxLength: 4 }),
        (value, seed, paths) => {
          const text = format(value, random(seed))
          const existing = memberPaths(JSON.parse(text)).map((p) => JSON.stringify(p))
          // A path below an existing member still names something that exists: drop those too.
          const missing = paths.filter(
            (p) => !existing.some((e) => JSON.stringify(p).startsWith(e.slice(0, -1))),
          )
          expect(removeJsonMembers(text, missing)).toBe(text)
        },
      ),
      { numRuns: 500 },
    )
  })
})
