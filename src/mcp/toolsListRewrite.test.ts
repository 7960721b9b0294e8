import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SignerError } from '../errors.js'
import { rewriteJsonRpcResponses, rewriteToolsList } from './toolsListRewrite.js'
import type { ToolsListRewrite } from './toolsListRewrite.js'

const schema = (properties?: Record<string, unknown>) => ({
  type: 'object',
  ...(properties === undefined ? {} : { properties }),
})

function toolsResult() {
  return {
    tools: [
      { name: 'get_user', inputSchema: schema({ id: { type: 'string' } }) },
      {
        name: 'delete_user',
        inputSchema: schema({ id: { type: 'string' } }),
        annotations: { x: 1 },
      },
      { name: 'ping', inputSchema: schema() },
    ],
    nextCursor: 'c1',
  }
}

const profile = {
  name: 'aws_profile',
  values: ['dev', 'prod'],
  description: 'Which AWS identity to use',
}

describe('rewriteToolsList', () => {
  it('drops the tools keepTool rejects and names them', () => {
    const result = toolsResult()
    const outcome = rewriteToolsList(result, { keepTool: (name) => name !== 'delete_user' })
    expect(outcome.changed).toBe(true)
    expect(outcome.removedTools).toEqual(['delete_user'])
    expect(outcome.result).toEqual({
      tools: [toolsResult().tools[0], toolsResult().tools[2]],
      nextCursor: 'c1',
    })
  })

  it('adds the argument to each remaining object schema, not to required', () => {
    const outcome = rewriteToolsList(
      {
        tools: [
          { name: 'a', inputSchema: { type: 'object', properties: { q: {} }, required: ['q'] } },
        ],
      },
      { addArgument: profile },
    )
    expect(outcome).toEqual({
      changed: true,
      removedTools: [],
      argumentConflicts: [],
      result: {
        tools: [
          {
            name: 'a',
            inputSchema: {
              type: 'object',
              properties: {
                q: {},
                aws_profile: {
                  type: 'string',
                  enum: ['dev', 'prod'],
                  description: 'Which AWS identity to use',
                },
              },
              required: ['q'],
            },
          },
        ],
      },
    })
  })

  it('creates properties when the schema has none', () => {
    const outcome = rewriteToolsList(
      { tools: [{ name: 'ping', inputSchema: { type: 'object' } }] },
      { addArgument: profile },
    )
    expect(outcome.result).toEqual({
      tools: [
        {
          name: 'ping',
          inputSchema: { type: 'object', properties: { aws_profile: expect.any(Object) } },
        },
      ],
    })
  })

  it('leaves a tool that already declares the argument alone and reports it', () => {
    const own = { name: 'deploy', inputSchema: schema({ aws_profile: { type: 'number' } }) }
    const outcome = rewriteToolsList(
      { tools: [own, { name: 'ping', inputSchema: schema() }] },
      { addArgument: profile },
    )
    expect(outcome.argumentConflicts).toEqual(['deploy'])
    expect(outcome.changed).toBe(true)
    const tools = (outcome.result as { tools: Array<{ inputSchema: unknown }> }).tools
    expect(tools[0]).toEqual(own)
    expect(tools[1]?.inputSchema).toHaveProperty('properties.aws_profile.enum', ['dev', 'prod'])
  })

  it('reports no change when every tool conflicts and none is removed', () => {
    const result = { tools: [{ name: 'deploy', inputSchema: schema({ aws_profile: {} }) }] }
    const outcome = rewriteToolsList(result, { addArgument: profile, keepTool: () => true })
    expect(outcome).toEqual({
      result,
      removedTools: [],
      argumentConflicts: ['deploy'],
      changed: false,
    })
  })

  it('filters first, then adds the argument to the tools that remain', () => {
    const outcome = rewriteToolsList(toolsResult(), {
      keepTool: (n) => n === 'ping',
      addArgument: profile,
    })
    expect(outcome.removedTools).toEqual(['get_user', 'delete_user'])
    expect(outcome.result).toEqual({
      tools: [
        {
          name: 'ping',
          inputSchema: { type: 'object', properties: { aws_profile: expect.any(Object) } },
        },
      ],
      nextCursor: 'c1',
    })
  })

  it('never changes its input', () => {
    const input = toolsResult()
    const before = structuredClone(input)
    const outcome = rewriteToolsList(input, { keepTool: (n) => n === 'ping', addArgument: profile })
    expect(input).toEqual(before)
    expect(outcome.result).not.toBe(input)
    // A copy even when nothing changed: the caller may modify it freely.
    const same = rewriteToolsList(input, {})
    expect(same.changed).toBe(false)
    expect(same.result).toEqual(input)
    expect(same.result).not.toBe(input)
  })

  it('copies the values list', () => {
    const values = ['dev']
    const outcome = rewriteToolsList(
      { tools: [{ name: 'a', inputSchema: schema() }] },
      { addArgument: { ...profile, values } },
    )
    values.push('prod')
    expect(outcome.result).toHaveProperty(
      ['tools', 0, 'inputSchema', 'properties', 'aws_profile', 'enum'],
      ['dev'],
    )
  })

  it('tolerates odd shapes without throwing', () => {
    for (const result of [null, 5, 'x', [], {}, { tools: 'no' }, { tools: null }, { tools: {} }]) {
      expect(rewriteToolsList(result, { keepTool: () => false, addArgument: profile })).toEqual({
        result,
        removedTools: [],
        argumentConflicts: [],
        changed: false,
      })
    }
    const odd = {
      tools: [
        { name: 'a' },
        { name: 'b', inputSchema: null },
        { name: 'c', inputSchema: { type: 'array' } },
        { name: 'd', inputSchema: { type: 'object', properties: [] } },
        { name: 'e', inputSchema: 'x' },
        { name: 'f', inputSchema: [] },
      ],
    }
    expect(rewriteToolsList(odd, { addArgument: profile })).toEqual({
      result: odd,
      removedTools: [],
      argumentConflicts: [],
      changed: false,
    })
  })

  it('drops entries without a string name when filtering, keeps them otherwise', () => {
    const result = { tools: [7, null, { name: 3 }, { title: 'x' }, { name: 'ok' }] }
    expect(rewriteToolsList(result, { keepTool: () => true })).toEqual({
      result: { tools: [{ name: 'ok' }] },
      removedTools: [],
      argumentConflicts: [],
      changed: true,
    })
    expect(rewriteToolsList(result, { addArgument: profile }).result).toEqual(result)
  })

  it('adds an argument named __proto__ as a real property', () => {
    const outcome = rewriteToolsList(
      { tools: [{ name: 'a', inputSchema: schema() }] },
      { addArgument: { ...profile, name: '__proto__' } },
    )
    const properties = (outcome.result as { tools: Array<{ inputSchema: { properties: object } }> })
      .tools[0]?.inputSchema.properties as object
    expect(Object.keys(properties)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype)
    expect(JSON.stringify(properties)).toContain('"__proto__":{"type":"string"')
  })

  it('property: the result lists exactly the kept tools; the input is untouched', () => {
    const tool = fc.record({
      name: fc.string({ maxLength: 3 }),
      inputSchema: fc.oneof(
        fc.constant(undefined),
        fc.record({ type: fc.constant('object') }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    })
    fc.assert(
      fc.property(fc.array(tool, { maxLength: 8 }), fc.func(fc.boolean()), (tools, keep) => {
        const input = JSON.parse(JSON.stringify({ tools })) as { tools: Array<{ name: string }> }
        const before = JSON.stringify(input)
        const outcome = rewriteToolsList(input, { keepTool: (n) => keep(n), addArgument: profile })
        expect(JSON.stringify(input)).toBe(before)
        const names = (outcome.result as { tools: Array<{ name: string }> }).tools.map(
          (t) => t.name,
        )
        expect(names).toEqual(input.tools.map((t) => t.name).filter((n) => keep(n)))
        expect(outcome.removedTools).toEqual(input.tools.map((t) => t.name).filter((n) => !keep(n)))
      }),
      { numRuns: 300 },
    )
  })
})

describe('rewriteJsonRpcResponses', () => {
  const keepPing = (result: unknown): ToolsListRewrite =>
    rewriteToolsList(result, { keepTool: (n) => n === 'ping' })

  it('rewrites the result of a matching response and re-serializes', () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: toolsResult() })
    const outcome = rewriteJsonRpcResponses(body, new Set([1]), keepPing)
    expect(outcome.changed).toBe(true)
    expect(outcome.removedTools).toEqual(['get_user', 'delete_user'])
    expect(JSON.parse(outcome.text)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { tools: [{ name: 'ping', inputSchema: { type: 'object' } }], nextCursor: 'c1' },
    })
  })

  it('passes the id to the rewrite and matches string ids', () => {
    const seen: unknown[] = []
    const body = '[{"id":"a","result":{"tools":[]}},{"id":2,"result":{}},{"id":"b","result":{}}]'
    rewriteJsonRpcResponses(body, new Set<string | number | null>(['a', 'b']), (result, id) => {
      seen.push(id)
      return rewriteToolsList(result, {})
    })
    expect(seen).toEqual(['a', 'b'])
  })

  it('rewrites only the matching responses of a batch', () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', id: 1, result: toolsResult() },
      { jsonrpc: '2.0', id: 2, result: toolsResult() },
      { jsonrpc: '2.0', id: 3, error: { code: -1, message: 'x' } },
    ])
    const outcome = rewriteJsonRpcResponses(body, new Set([2, 3]), keepPing)
    const parsed = JSON.parse(outcome.text) as Array<{ result?: { tools: unknown[] } }>
    expect(parsed[0]?.result?.tools).toHaveLength(3)
    expect(parsed[1]?.result?.tools).toHaveLength(1)
    expect(parsed[2]).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -1, message: 'x' } })
  })

  it('returns the original text, byte for byte, when nothing changed', () => {
    const body = '{ "jsonrpc": "2.0", "id": 1.0, "result": { "tools": [ { "name": "ping" } ] } }\n'
    const outcome = rewriteJsonRpcResponses(body, new Set([1]), keepPing)
    expect(outcome).toEqual({ text: body, changed: false, removedTools: [], argumentConflicts: [] })
    expect(rewriteJsonRpcResponses(body, new Set([7]), keepPing).text).toBe(body)
  })

  it('reports argument conflicts even when nothing changed', () => {
    const body =
      '{"id":1,"result":{"tools":[{"name":"t",' +
      '"inputSchema":{"type":"object","properties":{"aws_profile":{}}}}]}}'
    const outcome = rewriteJsonRpcResponses(body, new Set([1]), (r) =>
      rewriteToolsList(r, { addArgument: profile }),
    )
    expect(outcome).toEqual({
      text: body,
      changed: false,
      removedTools: [],
      argumentConflicts: ['t'],
    })
  })

  it('leaves alone requests, errors, notifications and scalars', () => {
    const body =
      '[{"id":1,"method":"sampling/createMessage","result":{}},' +
      '{"id":1,"error":{}},{"method":"n"},5,null]'
    let called = false
    const outcome = rewriteJsonRpcResponses(body, new Set([1]), (r) => {
      called = true
      return keepPing(r)
    })
    expect(called).toBe(false)
    expect(outcome.text).toBe(body)
    expect(rewriteJsonRpcResponses('"x"', new Set([1]), keepPing).text).toBe('"x"')
  })

  it('throws ERR_JSON_RPC_PARSE for text that is not JSON or too deep', () => {
    for (const body of ['', '{"id":1,', 'data: x']) {
      expect(() => rewriteJsonRpcResponses(body, new Set([1]), keepPing)).toThrow(
        new SignerError(
          'ERR_JSON_RPC_PARSE',
          'cannot parse the response body as JSON-RPC: the body is not valid JSON',
        ),
      )
    }
    const deep = `{"id":1,"result":${'['.repeat(200)}${']'.repeat(200)}}`
    expect(() => rewriteJsonRpcResponses(deep, new Set([1]), keepPing)).toThrow(
      /nests deeper than 128/,
    )
    expect(rewriteJsonRpcResponses(deep, new Set([1]), keepPing, { maxDepth: 300 }).changed).toBe(
      false,
    )
    const huge = '['.repeat(1_000_000) + ']'.repeat(1_000_000)
    expect(() => rewriteJsonRpcResponses(huge, new Set([1]), keepPing)).toThrow(SignerError)
  })
})
