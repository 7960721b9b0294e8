import { describe, expect, it } from 'vitest'
import { findJsonRpcDuplicateKey } from './jsonRpcDuplicateKeys.js'

describe('findJsonRpcDuplicateKey', () => {
  it('finds duplicates in the message object', () => {
    expect(findJsonRpcDuplicateKey('{"method":"a","id":1,"method":"b"}')).toBe('message')
    expect(findJsonRpcDuplicateKey('{"id":1,"method":"a","id":2}')).toBe('message')
    expect(findJsonRpcDuplicateKey('{"params":{},"method":"a","params":{}}')).toBe('message')
  })

  it('finds duplicates in params, params._meta and params.arguments', () => {
    expect(findJsonRpcDuplicateKey('{"params":{"name":"a","name":"b"}}')).toBe('params')
    expect(findJsonRpcDuplicateKey('{"params":{"_meta":{},"_meta":{}}}')).toBe('params')
    expect(findJsonRpcDuplicateKey('{"params":{"_meta":{"k":1,"k":2}}}')).toBe('params._meta')
    expect(findJsonRpcDuplicateKey('{"params":{"arguments":{"p":1,"p":1}}}')).toBe(
      'params.arguments',
    )
  })

  it('compares keys after unescaping', () => {
    expect(findJsonRpcDuplicateKey('{"method":"a","m\\u0065thod":"b"}')).toBe('message')
    expect(findJsonRpcDuplicateKey('{"params":{"n\\u0061me":"a","name":"b"}}')).toBe('params')
  })

  it('checks every element of a batch', () => {
    expect(findJsonRpcDuplicateKey('[{"id":1},{"id":2},{"id":3,"id":4}]')).toBe('message')
    expect(findJsonRpcDuplicateKey('[1,"x",[{"a":1,"a":2}],{"id":1}]')).toBeUndefined()
  })

  it('ignores duplicates off the policy path', () => {
    expect(findJsonRpcDuplicateKey('{"result":{"a":1,"a":2}}')).toBeUndefined()
    expect(findJsonRpcDuplicateKey('{"params":{"arguments":{"x":{"a":1,"a":2}}}}')).toBeUndefined()
    expect(findJsonRpcDuplicateKey('{"params":{"other":{"a":1,"a":2}}}')).toBeUndefined()
    expect(findJsonRpcDuplicateKey('{"x":{"params":{"name":1,"name":2}}}')).toBeUndefined()
    expect(findJsonRpcDuplicateKey('{"params":[{"name":1,"name":2}]}')).toBeUndefined()
  })

  it('is undefined for scalars and for messages without duplicates', () => {
    expect(findJsonRpcDuplicateKey('"x"')).toBeUndefined()
    expect(
      findJsonRpcDuplicateKey(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}',
      ),
    ).toBeUndefined()
  })

  it('skips deep values iteratively', () => {
    const deep = '['.repeat(500_000) + ']'.repeat(500_000)
    expect(findJsonRpcDuplicateKey(`{"params":{"arguments":{"x":${deep}}},"id":1}`)).toBeUndefined()
    expect(findJsonRpcDuplicateKey(`{"params":{"arguments":{"x":${deep}}},"id":1,"id":2}`)).toBe(
      'message',
    )
  })
})
