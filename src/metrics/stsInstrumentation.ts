import type { StsClientOptions, StsLike } from '../credentials/index.js'
import type { Metrics } from './metrics.js'

/** STS error names kept as outcome labels; anything else is `other` (bounded label set). */
const KNOWN_OUTCOMES = new Set([
  'AccessDenied',
  'InvalidIdentityToken',
  'ExpiredToken',
  'IDPRejectedClaim',
  'IDPCommunicationError',
  'Throttling',
  'RegionDisabled',
  'MalformedPolicyDocument',
  'PackedPolicyTooLarge',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
])

/** Wraps an STS client factory so every call is counted by API and outcome, and timed. */
export function instrumentStsFactory(
  factory: (options: StsClientOptions) => StsLike,
  metrics: Metrics,
  monotonicMs: () => number,
): (options: StsClientOptions) => StsLike {
  return (options) => {
    const client = factory(options)
    return {
      send: async (command, sendOptions) => {
        const api = command.constructor.name.replace(/Command$/, '')
        const started = monotonicMs()
        try {
          const output = await client.send(command, sendOptions)
          metrics.stsCalls.inc({ api, outcome: 'ok' })
          return output
        } catch (err) {
          metrics.stsCalls.inc({ api, outcome: outcomeOf(err) })
          throw err
        } finally {
          metrics.stsLatency.observe({ api }, (monotonicMs() - started) / 1000)
        }
      },
    }
  }
}

function outcomeOf(err: unknown): string {
  const name = (err as { name?: unknown }).name
  if (typeof name !== 'string') return 'other'
  if (name === 'AbortError' || name === 'TimeoutError') return 'timeout'
  const code = name.replace(/Exception$/, '')
  if (KNOWN_OUTCOMES.has(code)) return code
  return /ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(String((err as Error).message)) ? 'network' : 'other'
}
