import type { AwsCredentials, IdentityLookup } from '../credentials/index.js'

/** How long a request waits for pending credentials before asking Envoy for more time. */
export const OVERRIDE_GRACE_MS = 20

/** A stream's credentials: at hand (from the cache), or a lookup still in flight. */
export type StreamCredentials =
  | { readonly ready: AwsCredentials }
  | { readonly pending: Promise<AwsCredentials>; settled: boolean }

/** Wraps an identity lookup, tracking whether a pending one has settled. */
export function streamCredentialsOf(lookup: IdentityLookup): StreamCredentials {
  if ('ready' in lookup) return { ready: lookup.ready }
  const handle = { pending: lookup.pending, settled: false }
  const settle = (): void => {
    handle.settled = true
  }
  // Attaching handlers now also keeps an early rejection from counting as unhandled.
  lookup.pending.then(settle, settle)
  return handle
}

/** What {@link waitForCredentials} needs besides the credentials. */
export interface CredentialWait {
  /** How long Envoy may be asked to wait (`override_message_timeout`); 0 never asks. */
  readonly waitMs: number
  /** Asks Envoy for `waitMs` more, unless the stream is gone. */
  readonly extendTimeout: (waitMs: number) => void
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/**
 * The credentials once they are there. Token verification usually settles within a few ms; a
 * cold STS fetch can outlast Envoy's message_timeout, so after a short grace
 * ({@link OVERRIDE_GRACE_MS}) Envoy is asked for more time first.
 *
 * @throws whatever the lookup rejected with
 */
export async function waitForCredentials(handle: StreamCredentials, wait: CredentialWait): Promise<AwsCredentials> {
  if ('ready' in handle) return handle.ready
  if (!handle.settled && wait.waitMs > 0) {
    await Promise.race([handle.pending.catch(() => undefined), delay(OVERRIDE_GRACE_MS)])
    if (!handle.settled) wait.extendTimeout(wait.waitMs)
  }
  return handle.pending
}
