import { describe, expect, it } from 'vitest'
import { catchError } from '../../test/support/catchError.js'
import { EMPTY_SHA256, IAM_LIST_USERS_PARTS } from '../../test/support/iamListUsersExample.js'
import { isSignerError } from '../errors.js'
import {
  assembleCanonicalRequest,
  canonicalHeaders,
  canonicalHeaderValue,
  canonicalQuery,
  canonicalUri,
  uriEncode,
} from './canonicalRequest.js'
import { parseQuery } from './parseQuery.js'


describe('uriEncode', () => {
  it('keeps the RFC 3986 unreserved characters', () => {
    const unreserved = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
    expect(uriEncode(unreserved)).toBe(unreserved)
    expect(uriEncode('')).toBe('')
  })

  it("encodes !'()*, which encodeURIComponent leaves alone, with upper-case hex", () => {
    expect(uriEncode("!'()*")).toBe('%21%27%28%29%2A')
  })

  it.each<[string, string]>([
    [' ', '%20'],
    ['+', '%2B'],
    ['%', '%25'],
    ['/', '%2F'],
    [':@$&,;=?#', '%3A%40%24%26%2C%3B%3D%3F%23'],
    ['%3A', '%253A'],
    ['a b/c:d', 'a%20b%2Fc%3Ad'],
    ['\t\n', '%09%0A'],
    ['[]{}"<>\\^`|', '%5B%5D%7B%7D%22%3C%3E%5C%5E%60%7C'],
  ])('encodes reserved and other ASCII characters: %j', (value, expected) => {
    expect(uriEncode(value)).toBe(expected)
  })

  it.each<[string, string]>([
    ['é', '%C3%A9'],
    ['ሴ', '%E1%88%B4'],
    ['€', '%E2%82%AC'],
    ['😀', '%F0%9F%98%80'],
    ['aé b', 'a%C3%A9%20b'],
  ])('encodes the UTF-8 bytes of %j', (value, expected) => {
    expect(uriEncode(value)).toBe(expected)
  })

  it.each([
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate', '\uDC00'],
    ['a reversed surrogate pair', '\uDE00\uD83D'],
  ])('rejects %s with ERR_SIGNING_FAILED', (_name, value) => {
    const error = catchError(() => uriEncode(value))
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
    expect((error as Error).message).toBe(
      'cannot sign request: a path or query part is not valid Unicode',
    )
  })
})

describe('canonicalUri', () => {
  it.each<[string, string]>([
    ['/', '/'],
    ['', '/'],
    ['/mcp', '/mcp'],
    ['/v1/mcp/tools-list_2.json~', '/v1/mcp/tools-list_2.json~'],
    ['/a/b/', '/a/b/'],
    ['/...', '/...'],
    ['/.a/..b/c.', '/.a/..b/c.'],
  ])('leaves a plain path as is: %j', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected)
  })

  it.each<[string, string]>([
    ['/runtimes/arn%3Aaws%3Abedrock/invocations', '/runtimes/arn%253Aaws%253Abedrock/invocations'],
    ['/a%2Fb', '/a%252Fb'],
    ['/a%2fb', '/a%252fb'],
    ['/%41', '/%2541'],
    ['/a b', '/a%20b'],
    ['/a:b@c', '/a%3Ab%40c'],
    ["/!$&'()*+,;=", '/%21%24%26%27%28%29%2A%2B%2C%3B%3D'],
    ['/é/ሴ', '/%C3%A9/%E1%88%B4'],
    ['/a%20b+c', '/a%2520b%2Bc'],
  ])('encodes each segment once more: %j', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected)
  })

  it.each<[string, string]>([
    ['/a/./b', '/a/b'],
    ['/a/b/../c', '/a/c'],
    ['/a/./b/../c', '/a/c'],
    ['/a/.', '/a'],
    ['/a/./', '/a/'],
    ['/a/b/..', '/a'],
    ['/a/b/../', '/a/'],
    ['/./', '/'],
    ['/.', '/'],
  ])('resolves dot segments: %j', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected)
  })

  it.each<[string, string]>([
    ['//', '/'],
    ['/a//b', '/a/b'],
    ['//a///b//', '/a/b/'],
    ['/a/b//', '/a/b/'],
    ['/a//%3A', '/a/%253A'],
  ])('drops empty segments: %j', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected)
  })

  it.each<[string, string]>([
    ['/..', '/'],
    ['/../', '/'],
    ['/../a', '/a'],
    ['/../../a/b', '/a/b'],
    ['/a/../..', '/'],
    ['/a/../../', '/'],
    ['/a/../../b/', '/b/'],
  ])('does not go above the root: %j', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected)
  })

  it('rejects a path that is not valid Unicode', () => {
    const error = catchError(() => canonicalUri('/a/\uD800'))
    expect(isSignerError(error, 'ERR_SIGNING_FAILED')).toBe(true)
  })
})

describe('canonicalQuery', () => {
  it('is empty without parameters', () => {
    expect(canonicalQuery({})).toBe('')
  })

  it('sorts by key', () => {
    expect(canonicalQuery({ b: '2', a: '1', c: '3' })).toBe('a=1&b=2&c=3')
  })

  it('sorts by the encoded key, in code-unit order', () => {
    expect(canonicalQuery({ 'é': '1', z: '2', '~': '3', A: '4', 'a b': '5' }))
      .toBe('%C3%A9=1&A=4&a%20b=5&z=2&~=3')
  })

  it('puts a key before a longer key it prefixes, whatever the values', () => {
    expect(canonicalQuery({ 'a-b': '1', a: '2' })).toBe('a=2&a-b=1')
    expect(canonicalQuery({ 'a.b': '0', a: 'zzz', aa: '0' })).toBe('a=zzz&a.b=0&aa=0')
  })

  it('lists every value of a repeated key, sorted by encoded value', () => {
    expect(canonicalQuery({ a: ['3', '1', '2'] })).toBe('a=1&a=2&a=3')
    expect(canonicalQuery({ a: ['b', 'B', '~', '%', ''] })).toBe('a=&a=%25&a=B&a=b&a=~')
    expect(canonicalQuery({ a: ['x', 'x'], b: '1' })).toBe('a=x&a=x&b=1')
  })

  it('keeps an empty value as key=', () => {
    expect(canonicalQuery({ flag: '', a: '1' })).toBe('a=1&flag=')
    expect(canonicalQuery({ '': 'v' })).toBe('=v')
  })

  it('leaves out X-Amz-Signature in any case, and nothing else', () => {
    const params = { 'X-Amz-Signature': 'x', 'x-amz-SIGNATURE': 'y', 'X-Amz-Date': 'd', a: '1' }
    expect(canonicalQuery(params)).toBe('X-Amz-Date=d&a=1')
    expect(canonicalQuery({ 'x-amz-signature': ['1', '2'] })).toBe('')
    expect(canonicalQuery({ 'X-Amz-Signatures': '1' })).toBe('X-Amz-Signatures=1')
  })

  it('encodes keys and values, a space as %20', () => {
    expect(canonicalQuery({ 'a b': 'c d+e' })).toBe('a%20b=c%20d%2Be')
    expect(canonicalQuery({ k: 'ሴ', q: "a/b?c=d&e!'()*" }))
      .toBe('k=%E1%88%B4&q=a%2Fb%3Fc%3Dd%26e%21%27%28%29%2A')
    expect(canonicalQuery({ k: '%3A' })).toBe('k=%253A')
  })

  it('signs the query parseQuery decodes, a __proto__ key included', () => {
    expect(canonicalQuery(parseQuery('b=x+y&a=%20z&a=1&flag&a%20b=c%20d')))
      .toBe('a=%20z&a=1&a%20b=c%20d&b=x%20y&flag=')
    expect(canonicalQuery(parseQuery('__proto__=1&constructor=2'))).toBe('__proto__=1&constructor=2')
  })

  it('rejects a key or value that is not valid Unicode', () => {
    expect(isSignerError(catchError(() => canonicalQuery({ k: '\uD800' })), 'ERR_SIGNING_FAILED'))
      .toBe(true)
    expect(isSignerError(catchError(() => canonicalQuery({ '\uDC00': 'v' })), 'ERR_SIGNING_FAILED'))
      .toBe(true)
  })
})

describe('canonicalHeaderValue', () => {
  it.each<[string, string]>([
    ['application/json', 'application/json'],
    ['a, b; c=d', 'a, b; c=d'],
    ['', ''],
    [' ', ''],
    ['a  b', 'a b'],
    ['a     b   c', 'a b c'],
    [' a', 'a'],
    ['a ', 'a'],
    ['   a   ', 'a'],
    ['a\tb', 'a b'],
    ['\ta\t\tb\t', 'a b'],
    ['a \t b', 'a b'],
    ['a\nb', 'a b'],
    ['a\rb', 'a b'],
    ['a\r\n b', 'a b'],
    ['\r\na\r\n', 'a'],
    [' \t\r\n ', ''],
    ['application/json;\r\n\tcharset=utf-8', 'application/json; charset=utf-8'],
  ])('canonicalizes %j', (value, expected) => {
    expect(canonicalHeaderValue(value)).toBe(expected)
  })

  it('keeps other whitespace as it is', () => {
    expect(canonicalHeaderValue('a\u00a0\u00a0b\vc\fd')).toBe('a\u00a0\u00a0b\vc\fd')
  })

  it('collapses spaces inside quotes too (AWS suite case get-header-value-trim)', () => {
    expect(canonicalHeaderValue('"a   b   c"')).toBe('"a b c"')
  })
})

describe('canonicalHeaders', () => {
  it('lower-cases names, canonicalizes values and sorts by name', () => {
    const headers = {
      'X-Amz-Date': '20150830T123600Z',
      Host: 'example.amazonaws.com',
      'Content-Type': ' application/json;  charset=utf-8 ',
      'x-amz-content-sha256': EMPTY_SHA256,
    }
    expect(canonicalHeaders(headers)).toEqual([
      ['content-type', 'application/json; charset=utf-8'],
      ['host', 'example.amazonaws.com'],
      ['x-amz-content-sha256', EMPTY_SHA256],
      ['x-amz-date', '20150830T123600Z'],
    ])
  })

  it('joins the values of names equal up to case with "," in key order', () => {
    expect(canonicalHeaders({ 'My-Header1': 'value2', 'my-header1': 'value1', a: 'x' })).toEqual([
      ['a', 'x'],
      ['my-header1', 'value2,value1'],
    ])
    // The joined value is canonicalized as a whole (the behaviour of the previous smithy-based
    // signer, kept for the general path): spaces around the ',' shrink to one, not to none.
    expect(canonicalHeaders({ 'X-Foo': ' a  ', 'x-foo': '  b ' })).toEqual([['x-foo', 'a , b']])
  })

  it('sorts names in code-unit order', () => {
    expect(canonicalHeaders({ 'x-b': '1', 'x-a-b': '2', 'x-a': '3', 'X-A_': '4' }).map(([n]) => n))
      .toEqual(['x-a', 'x-a-b', 'x-a_', 'x-b'])
  })

  it('is empty for no headers', () => {
    expect(canonicalHeaders({})).toEqual([])
  })
})

describe('assembleCanonicalRequest', () => {
  it('joins the parts as AWS documents (the IAM ListUsers example)', () => {
    const canonical = assembleCanonicalRequest(IAM_LIST_USERS_PARTS)
    expect(canonical.text).toBe(
      'GET\n' +
        '/\n' +
        'Action=ListUsers&Version=2010-05-08\n' +
        'content-type:application/x-www-form-urlencoded; charset=utf-8\n' +
        'host:iam.amazonaws.com\n' +
        'x-amz-date:20150830T123600Z\n' +
        '\n' +
        'content-type;host;x-amz-date\n' +
        EMPTY_SHA256,
    )
    expect(canonical.signedHeaders).toBe('content-type;host;x-amz-date')
  })

  it('keeps an empty query line and takes the headers as given', () => {
    const canonical = assembleCanonicalRequest({
      method: 'POST',
      uri: '/mcp',
      query: '',
      headers: [['host', 'h']],
      payloadSha256Hex: 'abc',
    })
    expect(canonical.text.split('\n')).toEqual(['POST', '/mcp', '', 'host:h', '', 'host', 'abc'])
    expect(canonical.signedHeaders).toBe('host')
  })

  it('has an empty header block and list without headers', () => {
    const canonical = assembleCanonicalRequest({
      method: 'GET',
      uri: '/',
      query: '',
      headers: [],
      payloadSha256Hex: EMPTY_SHA256,
    })
    expect(canonical.text).toBe(`GET\n/\n\n\n\n${EMPTY_SHA256}`)
    expect(canonical.signedHeaders).toBe('')
  })
})
