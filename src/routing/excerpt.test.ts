import { describe, expect, it } from 'vitest'
import { excerpt } from './excerpt.js'

describe('excerpt', () => {
  it('keeps short printable ASCII as is', () => {
    expect(excerpt('aws-mcp.us-east-1.api.aws')).toBe('aws-mcp.us-east-1.api.aws')
  })

  it('cuts long text and marks the cut', () => {
    expect(excerpt('x'.repeat(40))).toBe(`${'x'.repeat(32)}...`)
    expect(excerpt('abcdef', 3)).toBe('abc...')
  })

  it('replaces control, non-ASCII, quote and backslash characters', () => {
    expect(excerpt('a\nb\u0000c\u00e9"\\\u{1F600}')).toBe('a?b?c?????')
  })
})
