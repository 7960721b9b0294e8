/**
 * What identity sources may read of the request being signed: its headers and the dynamic
 * metadata Envoy forwarded (`metadata_context`, e.g. jwt_authn's verified payload).
 */
export interface CallerContext {
  /** The first value of a request header (lower-case name), or undefined. */
  header(name: string): string | undefined
  /** Forwarded dynamic metadata by namespace, as plain values. */
  readonly metadata: Readonly<Record<string, unknown>>
}

/** A caller context with nothing in it (requests outside any caller-specific identity). */
export const EMPTY_CALLER: CallerContext = Object.freeze({
  header: () => undefined,
  metadata: Object.freeze({}),
})
