import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth } from './jsonDepth.js'

describe('exceedsJsonDepth', () => {
  it('counts arrays and objects; scalars have depth 0', () => {
    expect(exceedsJsonDepth('1', 0)).toBe(false)
    expect(exceedsJsonDepth('[]', 0)).toBe(true)
    expect(exceedsJsonDepth('[]', 1)).toBe(false)
    expect(exceedsJsonDepth('{"a":[{}]}', 2)).toBe(true)
    expect(exceedsJsonDepth('{"a":[{}]}', 3)).toBe(false)
  })

  it('measures the deepest point, not the number of containers', () => {
    expect(exceedsJsonDepth('[[],[],[],[]]', 2)).toBe(false)
  })

  it('ignores brackets inside strings', () => {
    expect(exceedsJsonDepth('["[[[[", "{{{{"]', 1)).toBe(false)
  })

  it('accepts exactly the limit and rejects one more', () => {
    const at = '['.repeat(DEFAULT_MAX_JSON_DEPTH) + ']'.repeat(DEFAULT_MAX_JSON_DEPTH)
    expect(exceedsJsonDepth(at, DEFAULT_MAX_JSON_DEPTH)).toBe(false)
    expect(exceedsJsonDepth(`[${at}]`, DEFAULT_MAX_JSON_DEPTH)).toBe(true)
  })

  it('handles a 1,000,000-deep unclosed array without overflowing the stack', () => {
    expect(exceedsJsonDepth('['.repeat(1_000_000), 128)).toBe(true)
    expect(exceedsJsonDepth('['.repeat(1_000_000), Number.POSITIVE_INFINITY)).toBe(false)
  })
})
