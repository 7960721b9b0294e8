import { describe, expect, it } from 'vitest'
import { cleanValue, keySpellings, routeKeyOf } from './routeKeys.js'

describe('route keys', () => {
  it('accepts - and _ between words, lower case only', () => {
    expect(routeKeyOf('path-prefix-replacement')).toBe('path_prefix_replacement')
    expect(routeKeyOf('path_prefix')).toBe('path_prefix')
    expect(routeKeyOf('host')).toBe('host')
    expect(routeKeyOf('Host')).toBeUndefined()
    expect(routeKeyOf('hostname')).toBeUndefined()
  })

  it('lists the - spelling first', () => {
    expect(keySpellings('path_prefix')).toEqual(['path-prefix', 'path_prefix'])
    expect(keySpellings('region')).toEqual(['region', 'region'])
  })

  it('trims values and treats empty as absent', () => {
    expect(cleanValue('  us-east-1\t')).toBe('us-east-1')
    expect(cleanValue(' \n ')).toBeUndefined()
    expect(cleanValue('')).toBeUndefined()
  })
})
