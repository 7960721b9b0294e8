import { describe, expect, it } from 'vitest'
import { isSignerError } from '../errors.js'
import { parseRouteMetadataText } from './routeMetadataText.js'

/** A Struct `fields` entry around `value` (the inside of a Value message). */
function field(key: string, value: string): string {
  return `fields { key: "${key}" value { ${value} } }`
}

/** A `filter_metadata` entry around `struct` (the inside of a Struct message). */
function entry(namespace: string, struct: string): string {
  return `filter_metadata { key: "${namespace}" value { ${struct} } }`
}

function errorOf(text: string): string {
  try {
    parseRouteMetadataText(text)
  } catch (err) {
    expect(isSignerError(err, 'ERR_ROUTE_METADATA_INVALID')).toBe(true)
    return (err as Error).message
  }
  throw new Error('expected an error')
}

describe('parseRouteMetadataText', () => {
  it('converts the plain mcp_sigv4 namespace', () => {
    const text =
      'filter_metadata { key: "mcp_sigv4" value { fields { key: "host" value { string_value: ' +
      '"aws-mcp.us-east-1.api.aws" } } fields { key: "region" value { string_value: ' +
      '"us-east-1" } } } }'
    expect(parseRouteMetadataText(text)).toEqual({
      mcp_sigv4: { host: 'aws-mcp.us-east-1.api.aws', region: 'us-east-1' },
    })
  })

  it('converts every Value kind', () => {
    const struct = [
      field('s', 'string_value: "x"'),
      field('n', 'number_value: -1.5e3'),
      field('i', 'number_value: inf'),
      field('nan', 'number_value: nan'),
      field('t', 'bool_value: true'),
      field('f', 'bool_value: False'),
      field('one', 'bool_value: 1'),
      field('z', 'null_value: NULL_VALUE'),
      field('z0', 'null_value: 0'),
      field('unset', ''),
      field('o', `struct_value { ${field('k', 'string_value: "v"')} }`),
      field('l', 'list_value { values { number_value: 1 } values { list_value { } } values { } }'),
    ].join(' ')
    expect(parseRouteMetadataText(entry('ns', struct))).toEqual({
      ns: {
        s: 'x', n: -1500, i: Infinity, nan: NaN, t: true, f: false, one: true, z: null,
        z0: null, unset: null, o: { k: 'v' }, l: [1, [], null],
      },
    })
  })

  it('reads the Envoy Gateway resources and annotations form', () => {
    const annotations = field(
      'annotations',
      `struct_value { ${field('mcp-sigv4-host', 'string_value: "aws-mcp.us-east-1.api.aws"')} }`,
    )
    const kind = field('kind', 'string_value: "HTTPRoute"')
    const resources = `list_value { values { struct_value { ${kind} ${annotations} } } }`
    expect(parseRouteMetadataText(entry('envoy-gateway', field('resources', resources)))).toEqual({
      'envoy-gateway': {
        resources: [
          { kind: 'HTTPRoute', annotations: { 'mcp-sigv4-host': 'aws-mcp.us-east-1.api.aws' } },
        ],
      },
    })
  })

  it('decodes octal-escaped UTF-8 in keys and values', () => {
    const text = entry(
      String.raw`n\303\251`,
      field(String.raw`\360\237\230\200`, String.raw`string_value: "h\303\251llo"`),
    )
    expect(parseRouteMetadataText(text)).toEqual({ 'né': { '😀': 'héllo' } })
  })

  it('ignores typed_filter_metadata (with an expanded Any), unknown and extension fields', () => {
    const text =
      'typed_filter_metadata { key: "x" value { [type.googleapis.com/foo.Bar] { b: "\\377" } } } ' +
      entry('a', `other: 1 ${field('k', 'string_value: "v" [e]: 2')}`) +
      ' unknown_field: [1, 2] [ext.name] { }'
    expect(parseRouteMetadataText(text)).toEqual({ a: { k: 'v' } })
  })

  it('gives an empty object for an entry without value, and keeps the last duplicate', () => {
    const text = [
      'filter_metadata { key: "a" }',
      entry('b', field('k', 'string_value: "1"')),
      entry('b', `${field('k', 'string_value: "2"')} ${field('k', 'string_value: "3"')}`),
    ].join(' ')
    expect(parseRouteMetadataText(text)).toEqual({ a: {}, b: { k: '3' } })
  })

  it('stores __proto__ keys as plain own properties', () => {
    const parsed = parseRouteMetadataText(
      entry('__proto__', field('__proto__', 'string_value: "x"')),
    )
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect(Object.keys(parsed)).toEqual(['__proto__'])
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toEqual(
      Object.defineProperty({}, '__proto__', { value: 'x', enumerable: true }),
    )
  })

  it('converts only the namespaces asked for, leaving odd content elsewhere unread', () => {
    const text =
      entry('other', field('k', 'string_value: "\\377"')) +
      ' ' +
      entry('mcp_sigv4', field('host', 'string_value: "h"'))
    expect(parseRouteMetadataText(text, { namespaces: ['mcp_sigv4'] })).toEqual({
      mcp_sigv4: { host: 'h' },
    })
    expect(errorOf(text)).toMatch(/expected valid UTF-8 in field "string_value" at offset 79$/)
  })

  const value = (inner: string): string => entry('a', field('k', inner))

  it.each([
    ['filter_metadata: 1', 'expected a message for field "filter_metadata" at offset 0'],
    ['filter_metadata { key: 1 }', 'expected a string for field "key" at offset 18'],
    [
      'filter_metadata { key: "a" value: "x" }',
      'expected a message for field "value" at offset 27',
    ],
    [value('number_value: "1"'), 'expected a number for field "number_value" at offset 61'],
    [value('bool_value: yes'), 'expected true or false for field "bool_value" at offset 61'],
    [value('null_value: 1'), 'expected NULL_VALUE for field "null_value" at offset 61'],
    [value('struct_value: 1'), 'expected a message for field "struct_value" at offset 61'],
    [value('string_value: "\\xff"'), 'expected valid UTF-8 in field "string_value" at offset 75'],
  ])('rejects %j', (text, message) => {
    expect(errorOf(text)).toBe(`cannot parse route metadata text: ${message}`)
  })
})
