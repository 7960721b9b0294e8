import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sessionNameFrom } from './sessionName.js'

const VALID = /^[\w+=,.@-]{2,64}$/

function hash10(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 10)
}

/** Inputs that `sessionNameFrom` has to change (disallowed characters, too short, too long). */
function needsChange(value: string): boolean {
  return !VALID.test(value)
}

describe('sessionNameFrom', () => {
  it('returns valid names unchanged', () => {
    for (const name of ['ab', 'alice', 'alice@example.com', 'a_b+c=d,e.f@g-h', 'x'.repeat(64), '0123456789']) {
      expect(sessionNameFrom(name)).toBe(name)
    }
  })

  it('replaces disallowed characters and appends 10 hex digits of the SHA-256 of the original', () => {
    const name = sessionNameFrom('auth0|abc')
    expect(name).toMatch(/^auth0-abc-[0-9a-f]{10}$/)
    expect(name).toBe(`auth0-abc-${hash10('auth0|abc')}`)
  })

  it('cuts an 80-character sub with "|" to a valid, stable name of at most 64 characters', () => {
    const sub = `oidc|${'u'.repeat(70)}12345`
    expect(sub).toHaveLength(80)
    const name = sessionNameFrom(sub)
    expect(name.length).toBeLessThanOrEqual(64)
    expect(name).toHaveLength(64)
    expect(name).toMatch(VALID)
    expect(name).toBe(`oidc-${'u'.repeat(48)}-${hash10(sub)}`)
    expect(sessionNameFrom(sub)).toBe(name)
    const similar = `oidc|${'u'.repeat(70)}12346`
    expect(sessionNameFrom(similar)).not.toBe(name)
    // The two differ only after the cut: the hash alone tells them apart.
    expect(sessionNameFrom(similar).slice(0, 53)).toBe(name.slice(0, 53))
  })

  it('hashes a valid name that is one character too long', () => {
    const long = 'y'.repeat(65)
    const name = sessionNameFrom(long)
    expect(name).toBe(`${'y'.repeat(53)}-${hash10(long)}`)
    expect(name).toHaveLength(64)
  })

  it('gives a 1-character sub a hash so it reaches the 2-character minimum', () => {
    expect(sessionNameFrom('a')).toBe(`a-${hash10('a')}`)
    expect(sessionNameFrom('a')).toMatch(VALID)
    expect(sessionNameFrom('b')).not.toBe(sessionNameFrom('a'))
  })

  it('names even the empty string validly', () => {
    expect(sessionNameFrom('')).toBe(`-${hash10('')}`)
    expect(sessionNameFrom('')).toMatch(VALID)
  })

  it('turns each UTF-16 unit of non-ASCII characters into "-"', () => {
    expect(sessionNameFrom('jörg')).toBe(`j-rg-${hash10('jörg')}`)
    expect(sessionNameFrom('a😀')).toBe(`a---${hash10('a😀')}`)
  })

  it('property: every string gives a valid, deterministic name; valid names are kept', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        const name = sessionNameFrom(value)
        const kept = needsChange(value) ? name.endsWith(`-${hash10(value)}`) : name === value
        return VALID.test(name) && sessionNameFrom(value) === name && kept
      }),
      { numRuns: 1000 },
    )
  })

  it('property: two different inputs that had to be changed never get the same name', () => {
    const changed = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }),
      fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom('|', ' ', '/', ':', '#'), fc.string({ maxLength: 40 }))
        .map(([a, sep, b]) => `${a}${sep}${b}`),
      fc.string({ minLength: 65, maxLength: 100, unit: fc.constantFrom('a', 'b', '-') }),
    ).filter(needsChange)
    fc.assert(
      fc.property(changed, changed, (a, b) => {
        fc.pre(a !== b)
        return sessionNameFrom(a) !== sessionNameFrom(b)
      }),
      { numRuns: 2000 },
    )
    // Pairs that sanitize alike, on purpose.
    const pairs: Array<[string, string]> = [
      ['auth0|abc', 'auth0:abc'],
      ['a b', 'a/b'],
      ['x'.repeat(70), `${'x'.repeat(69)}y`],
      ['ü', 'é'],
    ]
    for (const [a, b] of pairs) {
      expect(sessionNameFrom(a).slice(0, -10)).toBe(sessionNameFrom(b).slice(0, -10))
      expect(sessionNameFrom(a)).not.toBe(sessionNameFrom(b))
    }
  })

  // Regression: the hash suffix is public; a valid claim value equal to another value's changed
  // name used to pass unchanged, giving two callers one RoleSessionName.
  it('a valid input never gets the same name as a different, changed input', () => {
    const changed = 'auth0|victim'
    const crafted = sessionNameFrom(changed)
    expect(crafted).toMatch(VALID)
    expect(sessionNameFrom(crafted)).not.toBe(sessionNameFrom(changed))
  })
})
