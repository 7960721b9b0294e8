/**
 * Protobuf encoding of the answers almost every stream sends: a CONTINUE for one phase, with or
 * without a header mutation. proto-loader's generic serializer converts the plain object into
 * message instances and walks them (about 7 µs for a signed answer with four header values, in
 * the server); the two fixed shapes below are written straight into one buffer instead. Any
 * other message, or one with a field this encoder does not know, goes to the generic serializer,
 * so the output is always what protobufjs would produce: `responseEncoder.test.ts` compares the
 * bytes of both for random answers.
 *
 * Field numbers (envoy/service/ext_proc/v3/external_processor.proto, config/core/v3/base.proto):
 * ProcessingResponse.{request_headers 1, response_headers 2, request_body 3, response_body 4};
 * HeadersResponse/BodyResponse.response 1; CommonResponse.{status 1, header_mutation 2};
 * HeaderMutation.{set_headers 1, remove_headers 2}; HeaderValueOption.{header 1, append_action 3};
 * HeaderValue.{key 1, raw_value 3}.
 */

/** A serializer as grpc-js calls it. */
export type Serialize = (message: unknown) => Buffer

const PHASE_FIELDS: Readonly<Record<string, number>> = {
  request_headers: 1,
  response_headers: 2,
  request_body: 3,
  response_body: 4,
}

const APPEND_ACTIONS: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
}

/** Wire type 2 (length-delimited) tag for a field number below 16: one byte. */
const lengthDelimited = (field: number): number => (field << 3) | 2
/** Wire type 0 (varint) tag for a field number below 16: one byte. */
const varintTag = (field: number): number => field << 3

interface SetHeader {
  readonly key: string
  readonly keyBytes: number
  readonly value: Uint8Array
  readonly action: number
  /** Encoded size of the HeaderValue and of the HeaderValueOption around it. */
  readonly headerValueBytes: number
  readonly optionBytes: number
}

/**
 * Wraps grpc-js's `responseSerialize` for `Process`: the CONTINUE answers are encoded directly,
 * everything else by `generic`. A plain CONTINUE is encoded once per phase and reused.
 */
export function createResponseSerializer(generic: Serialize): Serialize {
  const plainContinue = new Map<string, Buffer>()
  return (message) => {
    const phase = singlePhase(message)
    if (phase === undefined) return generic(message)
    const common = commonResponseOf((message as Record<string, unknown>)[phase])
    if (common === undefined) return generic(message)
    const mutation = common.header_mutation
    if (mutation === undefined) {
      let cached = plainContinue.get(phase)
      if (cached === undefined) {
        cached = generic(message)
        plainContinue.set(phase, cached)
      }
      return cached
    }
    return encodeContinueWithMutation(PHASE_FIELDS[phase] as number, mutation) ?? generic(message)
  }
}

/** The message's only key, when it is one of the four phases with a CommonResponse. */
function singlePhase(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined
  let phase: string | undefined
  for (const key in message) {
    if (phase !== undefined || PHASE_FIELDS[key] === undefined) return undefined
    phase = key
  }
  return phase
}

/** `{ response: { status: 'CONTINUE', header_mutation? } }` and nothing else, or undefined. */
function commonResponseOf(phaseMessage: unknown): { header_mutation?: unknown } | undefined {
  if (typeof phaseMessage !== 'object' || phaseMessage === null) return undefined
  for (const key in phaseMessage) if (key !== 'response') return undefined
  const common = (phaseMessage as { response?: unknown }).response
  if (typeof common !== 'object' || common === null) return undefined
  for (const key in common) if (key !== 'status' && key !== 'header_mutation') return undefined
  const status = (common as { status?: unknown }).status
  if (status !== 'CONTINUE') return undefined
  return common as { header_mutation?: unknown }
}

/** The encoded answer, or undefined when the mutation has a shape this encoder does not write. */
function encodeContinueWithMutation(phaseField: number, mutation: unknown): Buffer | undefined {
  if (typeof mutation !== 'object' || mutation === null) return undefined
  for (const key in mutation) if (key !== 'set_headers' && key !== 'remove_headers') return undefined
  const { set_headers: setList = [], remove_headers: removeList = [] } = mutation as {
    set_headers?: unknown
    remove_headers?: unknown
  }
  if (!Array.isArray(setList) || !Array.isArray(removeList)) return undefined
  const sets: SetHeader[] = []
  let mutationBytes = 0
  for (const option of setList) {
    const set = setHeaderOf(option)
    if (set === undefined) return undefined
    sets.push(set)
    mutationBytes += 1 + varintBytes(set.optionBytes) + set.optionBytes
  }
  const removeBytes: number[] = []
  for (const name of removeList) {
    if (typeof name !== 'string') return undefined
    const bytes = Buffer.byteLength(name, 'utf8')
    removeBytes.push(bytes)
    mutationBytes += 1 + varintBytes(bytes) + bytes
  }
  // status is written although it is the default: protobufjs writes every field that is set.
  const commonBytes = 2 + 1 + varintBytes(mutationBytes) + mutationBytes
  const phaseBytes = 1 + varintBytes(commonBytes) + commonBytes
  const out = Buffer.allocUnsafe(1 + varintBytes(phaseBytes) + phaseBytes)
  let at = 0
  out[at++] = lengthDelimited(phaseField)
  at = writeVarint(out, at, phaseBytes)
  out[at++] = lengthDelimited(1) // HeadersResponse/BodyResponse.response
  at = writeVarint(out, at, commonBytes)
  out[at++] = varintTag(1) // CommonResponse.status = CONTINUE (0)
  out[at++] = 0
  out[at++] = lengthDelimited(2) // CommonResponse.header_mutation
  at = writeVarint(out, at, mutationBytes)
  for (const set of sets) {
    out[at++] = lengthDelimited(1) // HeaderMutation.set_headers
    at = writeVarint(out, at, set.optionBytes)
    out[at++] = lengthDelimited(1) // HeaderValueOption.header
    at = writeVarint(out, at, set.headerValueBytes)
    out[at++] = lengthDelimited(1) // HeaderValue.key
    at = writeVarint(out, at, set.keyBytes)
    at += out.write(set.key, at, 'utf8')
    out[at++] = lengthDelimited(3) // HeaderValue.raw_value
    at = writeVarint(out, at, set.value.length)
    out.set(set.value, at)
    at += set.value.length
    if (set.action >= 0) {
      out[at++] = varintTag(3) // HeaderValueOption.append_action
      at = writeVarint(out, at, set.action)
    }
  }
  removeList.forEach((name: string, i) => {
    out[at++] = lengthDelimited(2) // HeaderMutation.remove_headers
    at = writeVarint(out, at, removeBytes[i] as number)
    at += out.write(name, at, 'utf8')
  })
  return out
}

/** `{ header: { key, raw_value }, append_action? }` measured, or undefined for any other shape. */
function setHeaderOf(option: unknown): SetHeader | undefined {
  if (typeof option !== 'object' || option === null) return undefined
  for (const key in option) if (key !== 'header' && key !== 'append_action') return undefined
  const { header, append_action: actionName } = option as { header?: unknown; append_action?: unknown }
  if (typeof header !== 'object' || header === null) return undefined
  for (const key in header) if (key !== 'key' && key !== 'raw_value') return undefined
  const { key, raw_value: value } = header as { key?: unknown; raw_value?: unknown }
  if (typeof key !== 'string' || !(value instanceof Uint8Array)) return undefined
  let action = -1
  if (actionName !== undefined) {
    if (typeof actionName !== 'string' || !Object.hasOwn(APPEND_ACTIONS, actionName)) return undefined
    action = APPEND_ACTIONS[actionName] as number
  }
  const keyBytes = Buffer.byteLength(key, 'utf8')
  const headerValueBytes = 1 + varintBytes(keyBytes) + keyBytes + 1 + varintBytes(value.length) + value.length
  const optionBytes = 1 + varintBytes(headerValueBytes) + headerValueBytes + (action >= 0 ? 1 + varintBytes(action) : 0)
  return { key, keyBytes, value, action, headerValueBytes, optionBytes }
}

function varintBytes(value: number): number {
  let bytes = 1
  while (value > 127) {
    value = Math.floor(value / 128)
    bytes++
  }
  return bytes
}

function writeVarint(out: Buffer, at: number, value: number): number {
  while (value > 127) {
    out[at++] = (value % 128) | 128
    value = Math.floor(value / 128)
  }
  out[at++] = value
  return at
}
