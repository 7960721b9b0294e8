/**
 * A strict checker for the proto3 JSON form of a message (as written in Envoy YAML) against
 * protobufjs reflection.
 *
 * protobufjs's `Type.fromObject` silently drops unknown keys and coerces wrong scalar types, so a
 * misspelt Envoy field would pass it. This checker walks the JSON next to the reflected type and
 * reports every key, type, enum, `@type` and oneof problem with its JSON path.
 */

import protobuf from 'protobufjs'
import type { Enum, FieldBase, Root, Type } from 'protobufjs'

/** One problem found in the JSON, at a JSONPath-like location (`$.a.b[0]["c.d"]`). */
export interface ProtoJsonProblem {
  readonly path: string
  readonly message: string
}

/** The outcome of {@link checkProtoJson}. */
export interface ProtoJsonCheckResult {
  /** Every problem, in document order. Empty means the JSON is a valid encoding. */
  readonly problems: ProtoJsonProblem[]
  /** Full names (no leading dot) of every `google.protobuf.Any` `@type` that resolved. */
  readonly anyTypes: string[]
}

/** Options of {@link checkProtoJson}. */
export interface ProtoJsonCheckOptions {
  /** Accept fields and enum values marked `deprecated = true` (default: report them). */
  readonly allowDeprecated?: boolean
}

/** The only type URL prefix accepted in `@type` (Envoy accepts others; we want one spelling). */
export const TYPE_URL_PREFIX = 'type.googleapis.com/'

interface Context {
  readonly root: Root
  readonly options: ProtoJsonCheckOptions
  readonly problems: ProtoJsonProblem[]
  readonly anyTypes: string[]
}

type JsonObject = Record<string, unknown>

const WRAPPERS: Readonly<Record<string, string>> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
}

/** Well-known types whose JSON form is not an object of their fields. */
const SPECIAL_JSON_TYPES = new Set([
  ...Object.keys(WRAPPERS),
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
])

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
}

// Proto3 JSON Duration: seconds with up to 9 fractional digits and the suffix `s`.
const DURATION_RE = /^-?\d+(\.\d{1,9})?s$/
// Max |seconds| of google.protobuf.Duration (duration.proto: ±10 000 years).
const DURATION_MAX_SECONDS = 315_576_000_000
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const BASE64_RE = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/
const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Checks `value` (parsed JSON/YAML) strictly against the message `typeName` of `root`.
 *
 * `root` must be fully resolved (`root.resolveAll()`), so every field has its `resolvedType`.
 */
export function checkProtoJson(
  root: Root,
  typeName: string,
  value: unknown,
  options: ProtoJsonCheckOptions = {},
): ProtoJsonCheckResult {
  const ctx: Context = { root, options, problems: [], anyTypes: [] }
  checkMessage(ctx, root.lookupType(typeName), value, '$')
  return { problems: ctx.problems, anyTypes: ctx.anyTypes }
}

/** Appends an object key to a path: `.key` for identifiers, `["a.b"]` otherwise. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  return IDENTIFIER_RE.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function report(ctx: Context, path: string, message: string): void {
  ctx.problems.push({ path, message })
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${JSON.stringify(value)}`
}

function isDeprecated(options: Record<string, unknown> | undefined): boolean {
  return options?.['deprecated'] === true
}

function nameOf(type: Type | Enum): string {
  return type.fullName.replace(/^\./, '')
}

function checkMessage(ctx: Context, type: Type, value: unknown, path: string): void {
  if (SPECIAL_JSON_TYPES.has(type.fullName)) {
    checkSpecial(ctx, type.fullName, value, path)
    return
  }
  if (type.fullName === '.google.protobuf.Any') {
    checkAny(ctx, value, path)
    return
  }
  if (!isObject(value)) {
    report(ctx, path, `expected an object for message ${nameOf(type)}, got ${describe(value)}`)
    return
  }
  checkFields(ctx, type, value, path)
}

function checkFields(ctx: Context, type: Type, value: JsonObject, path: string): void {
  for (const [key, item] of Object.entries(value)) {
    const field = type.fields[key]
    const at = childPath(path, key)
    if (field === undefined) {
      report(ctx, at, unknownFieldMessage(type, key))
      continue
    }
    if (isDeprecated(field.options) && ctx.options.allowDeprecated !== true) {
      report(ctx, at, `field ${key} of ${nameOf(type)} is deprecated`)
    }
    checkField(ctx, field, item, at)
  }
  checkOneofs(ctx, type, value, path)
}

function unknownFieldMessage(type: Type, key: string): string {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  const known = snake !== key && type.fields[snake] !== undefined
  const hint = known ? ` (use the proto name ${snake})` : ''
  return `unknown field ${JSON.stringify(key)} of ${nameOf(type)}${hint}`
}

function checkOneofs(ctx: Context, type: Type, value: JsonObject, path: string): void {
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => Object.hasOwn(value, name))
    if (set.length > 1) {
      const members = `${set.length} members set: ${set.join(', ')}`
      report(ctx, path, `oneof ${oneof.name} of ${nameOf(type)} has ${members}`)
    }
  }
}

function checkField(ctx: Context, field: FieldBase, value: unknown, path: string): void {
  if (field instanceof protobuf.MapField) {
    checkMap(ctx, field, value, path)
  } else if (field.repeated) {
    if (!Array.isArray(value)) {
      const got = describe(value)
      report(ctx, path, `expected an array for repeated field ${field.name}, got ${got}`)
      return
    }
    value.forEach((item, i) => checkSingular(ctx, field, item, childPath(path, i)))
  } else {
    checkSingular(ctx, field, value, path)
  }
}

function checkMap(ctx: Context, field: protobuf.MapField, value: unknown, path: string): void {
  if (!isObject(value)) {
    report(ctx, path, `expected an object for map field ${field.name}, got ${describe(value)}`)
    return
  }
  for (const [key, item] of Object.entries(value)) {
    const at = childPath(path, key)
    if (field.keyType === 'bool' && key !== 'true' && key !== 'false') {
      report(ctx, at, `map key ${JSON.stringify(key)} is not a bool`)
    } else if (field.keyType in INT_RANGES) {
      checkInteger(ctx, field.keyType, key, at)
    }
    checkSingular(ctx, field, item, at)
  }
}

function checkSingular(ctx: Context, field: FieldBase, value: unknown, path: string): void {
  const resolved = field.resolvedType
  if (value === null && resolved?.fullName !== '.google.protobuf.Value') {
    report(ctx, path, `null is not allowed for field ${field.name} (omit the key instead)`)
  } else if (resolved instanceof protobuf.Type) {
    checkMessage(ctx, resolved, value, path)
  } else if (resolved instanceof protobuf.Enum) {
    checkEnum(ctx, resolved, value, path)
  } else {
    checkScalar(ctx, field.type, value, path)
  }
}

function checkEnum(ctx: Context, type: Enum, value: unknown, path: string): void {
  let name: string | undefined
  if (typeof value === 'string') {
    name = Object.hasOwn(type.values, value) ? value : undefined
  } else if (typeof value === 'number') {
    name = Object.hasOwn(type.valuesById, value) ? type.valuesById[value] : undefined
  } else {
    report(ctx, path, `expected an enum ${nameOf(type)} name, got ${describe(value)}`)
    return
  }
  if (name === undefined) {
    const known = Object.keys(type.values).join(', ')
    const label = `${JSON.stringify(value)} of enum ${nameOf(type)}`
    report(ctx, path, `unknown value ${label} (one of ${known})`)
  } else if (isDeprecated(type.valuesOptions?.[name]) && ctx.options.allowDeprecated !== true) {
    report(ctx, path, `enum value ${name} of ${nameOf(type)} is deprecated`)
  }
}

function checkScalar(ctx: Context, scalar: string, value: unknown, path: string): void {
  if (scalar in INT_RANGES) {
    checkInteger(ctx, scalar, value, path)
  } else if (scalar === 'double' || scalar === 'float') {
    checkFloat(ctx, scalar, value, path)
  } else if (scalar === 'bool') {
    if (typeof value !== 'boolean') report(ctx, path, `expected a bool, got ${describe(value)}`)
  } else if (scalar === 'string') {
    if (typeof value !== 'string') report(ctx, path, `expected a string, got ${describe(value)}`)
  } else if (scalar === 'bytes') {
    if (typeof value !== 'string' || !BASE64_RE.test(value)) {
      report(ctx, path, `expected base64 bytes, got ${describe(value)}`)
    }
  } else {
    report(ctx, path, `unsupported scalar type ${scalar}`)
  }
}

function checkInteger(ctx: Context, scalar: string, value: unknown, path: string): void {
  let parsed: bigint | undefined
  if (typeof value === 'number' && Number.isSafeInteger(value)) parsed = BigInt(value)
  if (typeof value === 'string' && /^-?\d+$/.test(value)) parsed = BigInt(value)
  const range = INT_RANGES[scalar]
  if (parsed === undefined || range === undefined) {
    report(ctx, path, `expected an integer (${scalar}), got ${describe(value)}`)
  } else if (parsed < range[0] || parsed > range[1]) {
    report(ctx, path, `integer ${parsed} is out of range for ${scalar}`)
  }
}

function checkFloat(ctx: Context, scalar: string, value: unknown, path: string): void {
  const special = ['NaN', 'Infinity', '-Infinity']
  const ok =
    (typeof value === 'number' && Number.isFinite(value)) ||
    (typeof value === 'string' && (special.includes(value) || Number.isFinite(Number(value))))
  if (!ok) report(ctx, path, `expected a number (${scalar}), got ${describe(value)}`)
}

function checkSpecial(ctx: Context, fullName: string, value: unknown, path: string): void {
  const wrapped = WRAPPERS[fullName]
  if (wrapped !== undefined) {
    checkScalar(ctx, wrapped, value, path)
    return
  }
  switch (fullName) {
    case '.google.protobuf.Duration':
      checkDuration(ctx, value, path)
      return
    case '.google.protobuf.Timestamp':
    case '.google.protobuf.FieldMask':
      checkString(ctx, fullName, value, path)
      return
    case '.google.protobuf.Struct':
      if (!isObject(value)) report(ctx, path, `expected an object (Struct), got ${describe(value)}`)
      else checkJsonValue(ctx, value, path)
      return
    case '.google.protobuf.ListValue':
      if (Array.isArray(value)) checkJsonValue(ctx, value, path)
      else report(ctx, path, `expected an array (ListValue), got ${describe(value)}`)
      return
    default:
      checkJsonValue(ctx, value, path)
  }
}

function checkDuration(ctx: Context, value: unknown, path: string): void {
  if (typeof value !== 'string' || !DURATION_RE.test(value)) {
    report(ctx, path, `expected a Duration string like "2s" or "0.25s", got ${describe(value)}`)
  } else if (Math.abs(Number.parseFloat(value)) > DURATION_MAX_SECONDS) {
    report(ctx, path, `Duration ${value} is out of range`)
  }
}

function checkString(ctx: Context, fullName: string, value: unknown, path: string): void {
  const valid =
    typeof value === 'string' &&
    (fullName !== '.google.protobuf.Timestamp' || TIMESTAMP_RE.test(value))
  if (!valid) report(ctx, path, `expected a ${fullName.slice(1)} string, got ${describe(value)}`)
}

/** Struct/Value/ListValue accept any JSON; only non-JSON values (e.g. NaN) are problems. */
function checkJsonValue(ctx: Context, value: unknown, path: string): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJsonValue(ctx, item, childPath(path, i)))
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) checkJsonValue(ctx, item, childPath(path, key))
  } else if (typeof value === 'number' && !Number.isFinite(value)) {
    report(ctx, path, `expected a finite number in a JSON value, got ${value}`)
  } else if (!['string', 'number', 'boolean'].includes(typeof value) && value !== null) {
    report(ctx, path, `expected a JSON value, got ${typeof value}`)
  }
}

function checkAny(ctx: Context, value: unknown, path: string): void {
  if (!isObject(value)) {
    report(ctx, path, `expected an object (google.protobuf.Any), got ${describe(value)}`)
    return
  }
  const type = resolveAnyType(ctx, value['@type'], childPath(path, '@type'))
  if (type === undefined) return
  ctx.anyTypes.push(nameOf(type))
  const rest = Object.fromEntries(Object.entries(value).filter(([key]) => key !== '@type'))
  if (!SPECIAL_JSON_TYPES.has(type.fullName)) {
    checkFields(ctx, type, rest, path)
    return
  }
  // Proto3 JSON: an Any holding a well-known type with a special form is {"@type", "value"}.
  for (const key of Object.keys(rest)) {
    if (key === 'value') continue
    report(ctx, childPath(path, key), `unknown key ${JSON.stringify(key)} in Any`)
  }
  if (!Object.hasOwn(rest, 'value')) report(ctx, path, `Any of ${nameOf(type)} needs a "value" key`)
  else checkSpecial(ctx, type.fullName, rest['value'], childPath(path, 'value'))
}

function resolveAnyType(ctx: Context, typeUrl: unknown, path: string): Type | undefined {
  if (typeof typeUrl !== 'string') {
    const got = typeUrl === undefined ? 'nothing' : describe(typeUrl)
    report(ctx, path, `expected an "@type" string, got ${got}`)
    return undefined
  }
  if (!typeUrl.startsWith(TYPE_URL_PREFIX)) {
    report(ctx, path, `"@type" must start with ${TYPE_URL_PREFIX}, got ${JSON.stringify(typeUrl)}`)
    return undefined
  }
  const name = typeUrl.slice(TYPE_URL_PREFIX.length)
  // A leading dot makes the lookup absolute: protobufjs would otherwise also search nested
  // namespaces for a relative name and could resolve a bare `Router` to some `x.y.Router`.
  const found = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name) ? ctx.root.lookup(`.${name}`) : null
  if (!(found instanceof protobuf.Type) || found.fullName !== `.${name}`) {
    report(ctx, path, `"@type" ${JSON.stringify(typeUrl)} does not name a loaded message type`)
    return undefined
  }
  return found
}
