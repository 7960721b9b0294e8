/**
 * Evaluation of the `request_attributes` the emulator supports (fact sheet §1):
 *
 * - `xds.route_name` → `string_value` with the route name;
 * - `xds.route_metadata` → `string_value` with the metadata message as one-line protobuf text
 *   (`ShortDebugString`), printed by `textFormatPrinter.ts`;
 * - `xds.route_metadata.filter_metadata['ns']['key']…` → the CEL value of that leaf: string →
 *   `string_value`, bool → `bool_value`, a Struct number (a CEL double) → `string_value` via
 *   `absl::StrCat` (six significant digits), null → `"NULL"`; a missing key is omitted.
 *
 * Emulator choice (fact sheet: "map/list → a placeholder `<TypeName> value`", exact text
 * unknown): a leaf expression that ends on a map or list is omitted.
 * Any other expression is rejected when the emulator starts, as Envoy rejects unparsable ones.
 */
import { printMetadataShortDebugString } from '../textFormatPrinter.js'
import type { MetadataShape, PrintOptions } from '../textFormatPrinter.js'
import type { EmulatedRoute, StructValueMsg } from './types.js'

/** The constant map key Envoy uses for the attributes Struct. */
export const ATTRIBUTES_KEY = 'envoy.filters.http.ext_proc'

const LEAF_RE = /^xds\.route_metadata\.filter_metadata((?:\[(?:'[^']*'|"[^"]*")\])+)$/
const SEGMENT_RE = /\[(?:'([^']*)'|"([^"]*)")\]/g

function leafPath(expression: string): string[] | undefined {
  const m = LEAF_RE.exec(expression)
  if (m === null) return undefined
  return Array.from((m[1] as string).matchAll(SEGMENT_RE), (s) => s[1] ?? s[2] ?? '')
}

/** Throws for an expression the emulator cannot evaluate. */
export function assertSupportedAttributes(expressions: string[]): void {
  for (const expression of expressions) {
    const known = expression === 'xds.route_name' || expression === 'xds.route_metadata'
    if (!known && leafPath(expression) === undefined) {
      throw new Error(`cannot emulate request attribute: ${expression}`)
    }
  }
}

/** `absl::StrCat(double)`: `%g` with six significant digits. */
export function sixDigits(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0' : '0'
  const exponent = Math.floor(Math.log10(Math.abs(Number(n.toPrecision(6)))))
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, exp] = n.toExponential(5).split('e') as [string, string]
    const trimmed = mantissa.replace(/\.?0+$/, '')
    const sign = exp.startsWith('-') ? '-' : '+'
    return `${trimmed}e${sign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`
  }
  return n.toFixed(Math.max(0, 5 - exponent)).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
}

function leafValue(route: EmulatedRoute, path: string[]): StructValueMsg | undefined {
  let node: unknown = route.metadata?.filter_metadata
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined
    if (!Object.hasOwn(node, key)) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  if (typeof node === 'string') return { stringValue: node }
  if (typeof node === 'boolean') return { boolValue: node }
  if (typeof node === 'number') return { stringValue: sixDigits(node) }
  if (node === null) return { stringValue: 'NULL' }
  return undefined
}

/** Evaluates the configured expressions for a route; keys that fail to evaluate are omitted. */
export function evaluateAttributes(expressions: string[], route: EmulatedRoute,
  printOptions: PrintOptions | undefined): Record<string, StructValueMsg> {
  const fields: Record<string, StructValueMsg> = {}
  for (const expression of expressions) {
    if (expression === 'xds.route_name') {
      fields[expression] = { stringValue: route.name }
    } else if (expression === 'xds.route_metadata') {
      const metadata = (route.metadata ?? { filter_metadata: {} }) as unknown as MetadataShape
      fields[expression] = {
        stringValue: printMetadataShortDebugString(metadata, printOptions ?? {}),
      }
    } else {
      const value = leafValue(route, leafPath(expression) ?? [])
      if (value !== undefined) fields[expression] = value
    }
  }
  return fields
}
