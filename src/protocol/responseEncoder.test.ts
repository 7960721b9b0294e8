import fc from 'fast-check'
import type { MethodDefinition } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { EXT_PROC_PROTO, loadProtoPackage } from './protoLoader.js'
import { createResponseSerializer, type Serialize } from './responseEncoder.js'
import {
  continueResponse,
  continueWithBodyMode,
  extendMessageTimeout,
  immediateResponse,
  type HeaderChanges,
  type Phase,
} from './responses.js'

type Pkg = { envoy: { service: { ext_proc: { v3: { ExternalProcessor: { service: Record<string, MethodDefinition<unknown, unknown>> } } } } } }
const pkg = loadProtoPackage([EXT_PROC_PROTO]) as unknown as Pkg
const processMethod = pkg.envoy.service.ext_proc.v3.ExternalProcessor.service['Process'] as MethodDefinition<unknown, unknown>
const generic: Serialize = (message) => processMethod.responseSerialize(message)

/** The serializer under test, and how often it handed a message to the generic one. */
function counted(): { serialize: Serialize; genericCalls: () => number } {
  let calls = 0
  const serialize = createResponseSerializer((message) => {
    calls++
    return generic(message)
  })
  return { serialize, genericCalls: () => calls }
}

const PHASES: Phase[] = ['request_headers', 'response_headers', 'request_body', 'response_body']
// Header text of every kind: empty, ASCII, multi-byte UTF-8, and long enough for 2- and 3-byte lengths.
const text = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ minLength: 100, maxLength: 400 }),
  fc.nat({ max: 3 }).map((n) => 'x'.repeat([127, 128, 16_383, 20_000][n] as number)),
)
const changes: fc.Arbitrary<HeaderChanges> = fc.record({
  set: fc.array(fc.tuple(text, text), { maxLength: 6 }),
  remove: fc.array(text, { maxLength: 4 }),
})

describe('createResponseSerializer', () => {
  it('writes exactly the bytes protobufjs writes for CONTINUE answers with header changes, without calling it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PHASES), changes, (phase, headerChanges) => {
        const { serialize, genericCalls } = counted()
        const message = continueResponse(phase, headerChanges)
        expect(serialize(message).toString('hex')).toBe(generic(message).toString('hex'))
        expect(genericCalls()).toBe(0)
      }),
      { numRuns: 500, seed: 20_151_119 },
    )
  })

  it('encodes a plain CONTINUE once per phase and reuses the bytes', () => {
    const { serialize, genericCalls } = counted()
    for (const phase of PHASES) {
      const first = serialize(continueResponse(phase))
      expect(first.toString('hex')).toBe(generic(continueResponse(phase)).toString('hex'))
      expect(serialize(continueResponse(phase))).toBe(first)
    }
    expect(genericCalls()).toBe(PHASES.length)
  })

  it('hands every other answer to protobufjs unchanged', () => {
    const others: unknown[] = [
      continueResponse('request_body', { set: [['a', 'b']], remove: [] }, Buffer.from('{"x":1}')),
      continueResponse('response_body', undefined, new Uint8Array(0)),
      continueResponse('request_trailers', { set: [['a', 'b']], remove: ['c'] }),
      continueResponse('response_trailers'),
      continueWithBodyMode('BUFFERED', 'NONE'),
      extendMessageTimeout(12_345),
      immediateResponse(403, [['content-type', 'application/json']], '{"error":1}', 'denied by policy'),
      // Shapes the builders never produce: an unknown field, a `value` instead of `raw_value`,
      // another status, an `append`, two phases at once.
      { request_body: { response: { status: 'CONTINUE', clear_route_cache: true } } },
      { request_body: { response: { status: 'CONTINUE', header_mutation: { set_headers: [{ header: { key: 'a', value: 'b' } }] } } } },
      { request_body: { response: { status: 'CONTINUE_AND_REPLACE' } } },
      { request_body: { response: { status: 'CONTINUE', header_mutation: { set_headers: [{ header: { key: 'a', raw_value: Buffer.from('b') }, append: { value: true } }] } } } },
      { request_headers: { response: { status: 'CONTINUE' } }, mode_override: { request_body_mode: 'BUFFERED' } },
    ]
    for (const message of others) {
      const { serialize, genericCalls } = counted()
      expect(serialize(message).toString('hex')).toBe(generic(message).toString('hex'))
      expect(genericCalls()).toBe(1)
    }
  })

  it('writes every append action as protobufjs does, and the default status only when it is set', () => {
    for (const action of ['APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS']) {
      const message = {
        request_body: {
          response: {
            status: 'CONTINUE',
            header_mutation: { set_headers: [{ header: { key: 'k', raw_value: Buffer.from('v') }, append_action: action }] },
          },
        },
      }
      const { serialize, genericCalls } = counted()
      expect(serialize(message).toString('hex')).toBe(generic(message).toString('hex'))
      expect(genericCalls()).toBe(0)
    }
    const withoutAction = { request_headers: { response: { status: 'CONTINUE', header_mutation: { set_headers: [{ header: { key: 'k', raw_value: Buffer.alloc(0) } }] } } } }
    const { serialize } = counted()
    expect(serialize(withoutAction).toString('hex')).toBe(generic(withoutAction).toString('hex'))
  })
})
