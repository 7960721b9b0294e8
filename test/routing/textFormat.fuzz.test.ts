/**
 * Property tests of the text-format parser against the C++-style printer of the test harness:
 * round trips, hostile input, and nesting beyond the depth cap.
 */

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isSignerError } from '../../src/errors.js'
import type { JsonObject, JsonValue } from '../../src/routing/jsonValue.js'
import { parseRouteMetadataText } from '../../src/routing/routeMetadataText.js'
import { parseTextFormat } from '../../src/routing/textFormat.js'
import { printMetadataShortDebugString } from '../harness/textFormatPrinter.js'

const ROUND_TRIP_RUNS = 1000
const GARBAGE_RUNS = 2000
const MUTATION_RUNS = 2000
const DEEP_RUNS = 200
/** Generous bound per case: a linear parser needs well under a millisecond for these inputs. */
const MAX_MS_PER_CASE = 250

/** A small deterministic PRNG (mulberry32), so a failing jitter replays from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 12 }),
  fc.constantFrom('', '\u0000', '\u{1F600}x\u{10FFFF}', '\uFEFFbom', 'h\u00e9llo', `"'\\\n\r\t?`,
    '__proto__', 'constructor', '\u007f\u0080\u00ff', 'a\u2028b'),
)

/** Doubles, biased toward the values whose printing is special (`-0`, `nan`, `inf`, exponents). */
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE, 2 ** 53, 1e21, 1e-7),
)

type JsonArbitraries = { value: JsonValue; list: JsonValue[]; struct: JsonObject }

const { struct } = fc.letrec<JsonArbitraries>((tie) => ({
  value: fc.oneof(
    { maxDepth: 8, depthIdentifier: 'json' },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    tie('list'),
    tie('struct'),
  ),
  list: fc.array(tie('value'), { maxLength: 4, depthIdentifier: 'json' }),
  struct: fc.dictionary(text, tie('value'), {
    maxKeys: 4,
    noNullPrototype: true,
    depthIdentifier: 'json',
  }),
}))

const metadata = fc.dictionary(text, struct, { maxKeys: 3, noNullPrototype: true })

const printOptions = fc.record({
  utf8Safe: fc.boolean(),
  jitterSeed: fc.option(fc.integer(), { nil: undefined }),
})

/** Parses `input`; any failure must be ERR_ROUTE_METADATA_INVALID with a short message. */
function parsesOrFailsCleanly(input: string): void {
  const started = performance.now()
  try {
    parseRouteMetadataText(input)
  } catch (err) {
    if (!isSignerError(err, 'ERR_ROUTE_METADATA_INVALID')) throw err
    expect(err.message.length).toBeLessThan(200)
  }
  expect(performance.now() - started).toBeLessThan(MAX_MS_PER_CASE)
}

describe('text format round trip', () => {
  it(`parses C++-style printed Metadata back to the same value (${ROUND_TRIP_RUNS} runs)`, () => {
    fc.assert(
      fc.property(metadata, printOptions, (namespaces, options) => {
        const printed = printMetadataShortDebugString(
          { filter_metadata: namespaces },
          {
            utf8Safe: options.utf8Safe,
            jitter: options.jitterSeed === undefined ? undefined : prng(options.jitterSeed),
          },
        )
        expect(parseRouteMetadataText(printed)).toEqual(namespaces)
      }),
      { numRuns: ROUND_TRIP_RUNS },
    )
  })
})

describe('text format hostile input', () => {
  const pieces = fc.constantFrom(
    '{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '.', '/', '"', "'", '\\', '#', '\n', ' ',
    '0', '0x', '1e', '.5', 'f', 'inf', 'nan', 'a', '_', 'é', '\u0000', '\\x', '\\u', '\\U00',
    '\\3', '\\777', 'filter_metadata', 'key', 'value', 'fields', 'string_value', 'list_value',
    'struct_value', 'values', 'number_value', 'bool_value', 'null_value', 'NULL_VALUE', '"k"',
    '[type.googleapis.com/x.Y]',
  )

  it(`fails cleanly on random token soup (${GARBAGE_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 80 }), (parts) => {
        parsesOrFailsCleanly(parts.join(''))
      }),
      { numRuns: GARBAGE_RUNS },
    )
  })

  it(`fails cleanly on random Unicode strings (${GARBAGE_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), parsesOrFailsCleanly),
      { numRuns: GARBAGE_RUNS },
    )
  })

  const mutation = fc.record({
    at: fc.nat(),
    length: fc.nat({ max: 12 }),
    op: fc.constantFrom('delete', 'insert', 'replace', 'truncate', 'duplicate'),
    piece: pieces,
  })

  it(`fails cleanly on mutations of valid text (${MUTATION_RUNS} runs)`, () => {
    fc.assert(
      fc.property(metadata, fc.array(mutation, { minLength: 1, maxLength: 4 }), (ns, ops) => {
        let mutated = printMetadataShortDebugString({ filter_metadata: ns })
        for (const { at, length, op, piece } of ops) {
          const i = mutated.length === 0 ? 0 : at % (mutated.length + 1)
          const head = mutated.slice(0, i)
          const tail = mutated.slice(i)
          if (op === 'delete') mutated = head + tail.slice(length)
          else if (op === 'insert') mutated = head + piece + tail
          else if (op === 'replace') mutated = head + piece + tail.slice(length)
          else if (op === 'truncate') mutated = head
          else mutated = head + tail.slice(0, length) + tail
        }
        parsesOrFailsCleanly(mutated)
      }),
      { numRuns: MUTATION_RUNS },
    )
  })
})

describe('text format nesting', () => {
  const depthError = /^cannot parse route metadata text: expected nesting of at most 100 messages/

  it(`rejects nesting beyond the cap cleanly, not by stack overflow (${DEEP_RUNS} runs)`, () => {
    const opener = fc.constantFrom('a {', 'a<', 'a:{', 'a [{', '[x.y] {', 'b: [ <')
    fc.assert(
      fc.property(opener, fc.integer({ min: 100, max: 60_000 }), (open, levels) => {
        const started = performance.now()
        const input = open.repeat(levels)
        expect(() => parseTextFormat(input, { maxBytes: 1 << 20 })).toThrow(depthError)
        expect(performance.now() - started).toBeLessThan(MAX_MS_PER_CASE)
      }),
      { numRuns: DEEP_RUNS },
    )
  })

  it('rejects a million unclosed braces by the size cap before any work', () => {
    const input = '{'.repeat(1_000_000)
    expect(() => parseTextFormat(input)).toThrow(
      'cannot parse route metadata text: expected at most 262144 bytes of input, found 1000000',
    )
  })

  it('rejects deeply nested Structs printed by the harness, and accepts shallow ones', () => {
    const nest = (levels: number): JsonObject => {
      let value: JsonObject = { leaf: 'x' }
      for (let i = 0; i < levels; i++) value = { k: value }
      return value
    }
    const shallow = printMetadataShortDebugString({ filter_metadata: { ns: nest(30) } })
    expect(parseRouteMetadataText(shallow)).toEqual({ ns: nest(30) })
    const deep = printMetadataShortDebugString({ filter_metadata: { ns: nest(40) } })
    expect(() => parseRouteMetadataText(deep)).toThrow(depthError)
  })

  it('clamps a huge depth setting to 1000, so consumers recursing per level stay safe', () => {
    const levels = (n: number): string =>
      'filter_metadata { key: "ns" value { ' +
      'fields { key: "k" value { struct_value { '.repeat(n) +
      '} } } '.repeat(n) +
      '} }'
    const limits = { maxDepth: 1e9, maxBytes: 1 << 22 }
    expect(Object.keys(parseRouteMetadataText(levels(330), limits))).toEqual(['ns'])
    expect(() => parseRouteMetadataText(levels(340), limits)).toThrow(
      /expected nesting of at most 1000 messages/,
    )
  })
})
