import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SignerError } from '../errors.js'
import { parseJsonRpc } from './jsonRpcMessage.js'

function parseError(body: Uint8Array | string, options?: { maxDepth?: number }): SignerError {
  try {
    parseJsonRpc(body, options)
  } catch (err) {
    expect(err).toBeInstanceOf(SignerError)
    expect((err as SignerError).code).toBe('ERR_JSON_RPC_PARSE')
    expect((err as SignerError).message).toMatch(/^cannot parse the request body as JSON-RPC: /)
    return err as SignerError
  }
  throw new Error('expected parseJsonRpc to throw')
}

function one(body: string): unknown {
  return parseJsonRpc(body).messages[0]
}

describe('parseJsonRpc: classification', () => {
  it('classifies a request with string, number and null ids', () => {
    expect(one('{"jsonrpc":"2.0","id":"a","method":"ping"}')).toEqual({
      kind: 'request',
      index: 0,
      id: 'a',
      method: 'ping',
      params: undefined,
    })
    expect(one('{"jsonrpc":"2.0","id":7,"method":"ping"}')).toMatchObject({
      kind: 'request',
      id: 7,
    })
    expect(one('{"jsonrpc":"2.0","id":null,"method":"ping"}')).toMatchObject({
      kind: 'request',
      id: null,
    })
  })

  it('classifies a notification (method, no id member)', () => {
    expect(one('{"jsonrpc":"2.0","method":"notifications/initialized"}')).toEqual({
      kind: 'notification',
      index: 0,
      method: 'notifications/initialized',
      params: undefined,
    })
  })

  it('classifies responses with result or error', () => {
    expect(one('{"jsonrpc":"2.0","id":3,"result":{"ok":true}}')).toEqual({
      kind: 'response',
      index: 0,
      id: 3,
      result: { ok: true },
    })
    expect(one('{"jsonrpc":"2.0","id":"x","error":{"code":-1}}')).toEqual({
      kind: 'response',
      index: 0,
      id: 'x',
      error: { code: -1 },
    })
    expect(one('{"id":1,"result":null}')).toMatchObject({ kind: 'response', result: null })
  })

  it('extracts method, params, _meta, tool name and arguments of tools/call', () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_user', arguments: { id: 5 }, _meta: { progressToken: 't' } },
    })
    expect(one(body)).toEqual({
      kind: 'request',
      index: 0,
      id: 1,
      method: 'tools/call',
      params: { name: 'get_user', arguments: { id: 5 }, _meta: { progressToken: 't' } },
      meta: { progressToken: 't' },
      toolName: 'get_user',
      arguments: { id: 5 },
    })
  })

  it('leaves out tool name and arguments when they have the wrong types', () => {
    const message = one('{"id":1,"method":"tools/call","params":{"name":5,"arguments":[1]}}')
    expect(message).toEqual({
      kind: 'request',
      index: 0,
      id: 1,
      method: 'tools/call',
      params: { name: 5, arguments: [1] },
    })
    expect(one('{"id":1,"method":"tools/call","params":["x"]}')).not.toHaveProperty('toolName')
    expect(one('{"id":1,"method":"tools/call"}')).not.toHaveProperty('toolName')
  })

  it('reads tool name and arguments only for tools/call, _meta for every call', () => {
    const message = one('{"method":"x/y","params":{"name":"n","arguments":{},"_meta":{"k":1}}}')
    expect(message).toEqual({
      kind: 'notification',
      index: 0,
      method: 'x/y',
      params: { name: 'n', arguments: {}, _meta: { k: 1 } },
      meta: { k: 1 },
    })
    expect(one('{"method":"x","params":{"_meta":"no"}}')).not.toHaveProperty('meta')
    expect(one('{"method":"x","params":{"_meta":null}}')).not.toHaveProperty('meta')
  })

  it('reads only own members (no inherited toString, constructor, __proto__ tricks)', () => {
    expect(
      one('{"method":"tools/call","id":1,"params":{"__proto__":{"name":"evil"}}}'),
    ).not.toHaveProperty('toolName')
    expect(one('{"result":1}')).toMatchObject({ kind: 'invalid' })
  })

  it.each([
    ['5', 'the message is not an object'],
    ['[1]', 'the message is not an object'],
    ['null', 'the message is not an object'],
    ['{"id":1,"method":5}', 'method is not a string'],
    ['{"id":1,"method":"a","result":1}', 'a message with a method has a result or error'],
    ['{"method":"a","error":{}}', 'a message with a method has a result or error'],
    ['{"id":{},"method":"a"}', 'id is not a string, a finite number or null'],
    ['{"id":true,"method":"a"}', 'id is not a string, a finite number or null'],
    ['{"id":1e999,"method":"a"}', 'id is not a string, a finite number or null'],
    ['{"id":1}', 'the message has no method, result or error'],
    ['{}', 'the message has no method, result or error'],
    ['{"id":1,"result":1,"error":{}}', 'the response has both a result and an error'],
    ['{"result":1}', 'the response has no id'],
    ['{"id":[1],"result":1}', 'id is not a string, a finite number or null'],
  ])('marks %s as invalid: %s', (element, reason) => {
    const parsed = parseJsonRpc(`[${element}]`)
    expect(parsed.messages[0]).toMatchObject({ kind: 'invalid', index: 0, reason })
  })

  it('keeps a usable id on invalid messages for the error reply', () => {
    expect(one('{"id":"r1","method":7}')).toEqual({
      kind: 'invalid',
      index: 0,
      reason: 'method is not a string',
      id: 'r1',
    })
    expect(one('{"id":{},"method":7}')).not.toHaveProperty('id')
  })
})

describe('parseJsonRpc: documents', () => {
  it('parses a single message with its value', () => {
    const parsed = parseJsonRpc('{"jsonrpc":"2.0","id":1,"method":"ping"}')
    expect(parsed.batch).toBe(false)
    expect(parsed.messages).toHaveLength(1)
    expect(parsed.value).toEqual({ jsonrpc: '2.0', id: 1, method: 'ping' })
  })

  it('parses a batch with positions, mixing kinds', () => {
    const parsed = parseJsonRpc(
      '[{"id":1,"method":"tools/list"},{"method":"n"},{"id":9,"result":{}},7]',
    )
    expect(parsed.batch).toBe(true)
    expect(parsed.messages.map((m) => [m.kind, m.index])).toEqual([
      ['request', 0],
      ['notification', 1],
      ['response', 2],
      ['invalid', 3],
    ])
    expect(Array.isArray(parsed.value)).toBe(true)
  })

  it('accepts bytes, including multi-byte UTF-8', () => {
    const bytes = new TextEncoder().encode('{"id":"ü😀","method":"ping"}')
    expect(parseJsonRpc(bytes).messages[0]).toMatchObject({ id: 'ü😀' })
    const offset = new Uint8Array(bytes.length + 4)
    offset.set(bytes, 4)
    expect(parseJsonRpc(offset.subarray(4)).messages[0]).toMatchObject({ id: 'ü😀' })
  })

  it('rejects invalid UTF-8 and a byte order mark', () => {
    expect(parseError(new Uint8Array([0x7b, 0xff, 0x7d])).message).toMatch(/not valid UTF-8/)
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"method":"a"}')])
    expect(parseError(bom).message).toMatch(/not valid JSON/)
  })

  it('rejects text that is not JSON without quoting it', () => {
    const err = parseError('{"method":"a", secret-token-123}')
    expect(err.message).toBe(
      'cannot parse the request body as JSON-RPC: the body is not valid JSON',
    )
    expect(parseError('').message).toMatch(/not valid JSON/)
    expect(parseError('{"a":1} x').message).toMatch(/not valid JSON/)
  })

  it('rejects an empty batch and top-level scalars', () => {
    expect(parseError('[]').message).toMatch(/the batch is empty/)
    for (const scalar of ['1', '"x"', 'null', 'true']) {
      expect(parseError(scalar).message).toMatch(/not an object or an array/)
    }
  })

  it('rejects nesting deeper than the limit (default 128)', () => {
    const nest = (depth: number) =>
      `{"method":"a","params":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`
    expect(parseJsonRpc(nest(128)).messages[0]).toMatchObject({ kind: 'notification' })
    expect(parseError(nest(129)).message).toMatch(/nests deeper than 128 levels/)
    expect(parseError(nest(11), { maxDepth: 10 }).message).toMatch(/deeper than 10 levels/)
  })

  it('survives 1,000,000 levels of nesting, with and without the depth limit', () => {
    const deep = '['.repeat(1_000_000)
    expect(parseError(deep).message).toMatch(/nests deeper/)
    expect(parseError(deep + ']'.repeat(1_000_000)).message).toMatch(/nests deeper/)
    // No limit: JSON.parse sees the unclosed text itself and its error is caught.
    expect(parseError(deep, { maxDepth: Number.POSITIVE_INFINITY }).message).toMatch(
      /not valid JSON/,
    )
  })

  it('rejects duplicate keys on the policy path, even escaped ones', () => {
    const cases = [
      ['{"id":1,"method":"tools/list","method":"tools/call"}', 'message'],
      ['{"id":1,"method":"a","id":2}', 'message'],
      ['{"id":1,"method":"tools/call","params":{"name":"a","n\\u0061me":"b"}}', 'params'],
      ['{"id":1,"method":"tools/call","params":{"arguments":{},"arguments":{}}}', 'params'],
      ['{"id":1,"method":"tools/call","params":{"_meta":{"k":"a","k":"b"}}}', 'params._meta'],
      [
        '[{"id":1,"method":"a"},{"method":"b","params":{"arguments":{"x":1,"x":2}}}]',
        'params.arguments',
      ],
    ]
    for (const [body, where] of cases) {
      expect(parseError(body as string).message).toBe(
        `cannot parse the request body as JSON-RPC: duplicate key in ${where}`,
      )
    }
  })

  it('accepts duplicate keys elsewhere (JSON.parse keeps the last)', () => {
    const parsed = parseJsonRpc('{"id":1,"method":"a","params":{"other":{"x":1,"x":2}}}')
    expect(parsed.messages[0]).toMatchObject({ params: { other: { x: 2 } } })
  })

  it('property: any JSON object or non-empty array parses to one message per element', () => {
    const document = fc.oneof(
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
      fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1 }),
    )
    fc.assert(
      fc.property(document, (value) => {
        const text = JSON.stringify(value)
        const parsed = parseJsonRpc(text)
        expect(parsed.value).toEqual(JSON.parse(text))
        expect(parsed.batch).toBe(Array.isArray(value))
        expect(parsed.messages).toHaveLength(Array.isArray(value) ? value.length : 1)
      }),
      { numRuns: 500 },
    )
  })

  it('property: a request round-trips its method, id and tool name', () => {
    const id = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constant(null),
    )
    fc.assert(
      fc.property(fc.string(), id, fc.string(), (method, requestId, name) => {
        const body = JSON.stringify({ jsonrpc: '2.0', id: requestId, method, params: { name } })
        const message = parseJsonRpc(body).messages[0]
        expect(message).toMatchObject({
          kind: 'request',
          method,
          id: JSON.parse(JSON.stringify(requestId)),
        })
        const toolName = (message as { toolName?: string }).toolName
        expect(toolName).toBe(method === 'tools/call' ? name : undefined)
      }),
      { numRuns: 300 },
    )
  })
})
