/**
 * The upstream response body as ext_proc's encoder half receives it from the router: held while
 * the `response_headers` call is outstanding, then buffered whole, forwarded chunk by chunk, or
 * passed through (fact sheet §3; `Filter::onData` in `ext_proc.cc`).
 *
 * One Node `'data'` event stands for one `encodeData` call (emulator choice: Envoy's HTTP/1
 * codec calls `decodeData` per parsed body piece of a socket read, which Node also surfaces as
 * one event per piece). The end of the HTTP/1.1 message is the codec's separate empty
 * `decodeData(…, end_stream=true)` (`onMessageComplete`), surfaced here as `end`.
 */
import type { IncomingMessage } from 'node:http'

/** Where forwarded data goes. */
export interface BodySink {
  data(chunk: Buffer): void
  end(): void
  /** The upstream connection closed before the message ended. */
  aborted(): void
}

/** How buffering to the end went. */
export type WholeBody = Buffer | 'overflow' | 'aborted'

/** Reads one upstream response body; see the file comment. */
export class UpstreamBody {
  /** Resolves once held data exceeds the buffer limit while it counts against it. */
  readonly overflow: Promise<void>
  private held: Buffer[] = []
  private heldSize = 0
  private state: 'open' | 'ended' | 'aborted' = 'open'
  private sink: BodySink | undefined
  private started = false
  private detached = false
  private overflowed = false
  private watermark = false
  private signalOverflow: () => void = () => undefined
  private waiters: Array<() => void> = []

  /**
   * @param counts whether held data counts against `limit` right now: true in BUFFERED mode
   *   (`StopIterationAndBuffer` → over the limit a 500); otherwise Envoy raises a watermark
   *   (`StopIterationAndWatermark`), emulated by pausing the upstream.
   */
  constructor(private readonly upstream: IncomingMessage, private readonly limit: number,
    private readonly counts: () => boolean) {
    this.overflow = new Promise((resolve) => { this.signalOverflow = resolve })
  }

  /** True once the whole message arrived (`complete_body_available_`). */
  get ended(): boolean {
    return this.state === 'ended'
  }

  /** Starts reading; data is held until `readToEnd` or `forward`. Idempotent. */
  start(): void {
    if (this.started) return
    this.started = true
    this.upstream.on('data', (chunk: Buffer) => this.onData(chunk))
    this.upstream.on('end', () => this.onEnd())
    this.upstream.on('close', () => { if (!this.upstream.complete) this.onAborted() })
    // Failures surface as 'close' without `complete`; this keeps Node quiet.
    this.upstream.on('error', () => undefined)
  }

  /** Everything held so far, as one buffer; the hold is emptied. */
  takeHeld(): Buffer {
    const data = Buffer.concat(this.held)
    this.held = []
    this.heldSize = 0
    return data
  }

  /** BUFFERED: holds until the message ends, counting everything against the limit. */
  async readToEnd(): Promise<WholeBody> {
    this.start()
    // Data held under a watermark counts once buffering starts: the next data exceeds it.
    if (this.state === 'open' && this.heldSize > this.limit) return 'overflow'
    this.releaseWatermark()
    const done = new Promise<'done'>((resolve) => {
      if (this.state !== 'open') resolve('done')
      else this.waiters.push(() => resolve('done'))
    })
    const outcome = await Promise.race([done, this.overflow.then(() => 'overflow' as const)])
    if (outcome === 'overflow' || this.overflowed) return 'overflow'
    if (this.state === 'aborted') return 'aborted'
    return this.takeHeld()
  }

  /** Sends everything from now on to `sink` (call `takeHeld` first for what came before). */
  forward(sink: BodySink): void {
    this.sink = sink
    this.start()
    this.releaseWatermark()
    if (this.state === 'ended') sink.end()
    if (this.state === 'aborted') sink.aborted()
  }

  /** Ignores the upstream from now on (before the emulator destroys it on purpose). */
  detach(): void {
    this.detached = true
    this.sink = undefined
  }

  private releaseWatermark(): void {
    if (!this.watermark) return
    this.watermark = false
    this.upstream.resume()
  }

  private onData(chunk: Buffer): void {
    if (this.detached) return
    if (this.sink !== undefined) {
      this.sink.data(chunk)
      return
    }
    this.held.push(chunk)
    this.heldSize += chunk.length
    if (this.heldSize <= this.limit) return
    if (this.counts()) {
      if (!this.overflowed) {
        this.overflowed = true
        this.signalOverflow()
      }
    } else if (!this.watermark) {
      this.watermark = true
      this.upstream.pause()
    }
  }

  private onEnd(): void {
    if (this.state !== 'open') return
    this.state = 'ended'
    this.wakeAll()
    if (!this.detached) this.sink?.end()
  }

  private onAborted(): void {
    if (this.state !== 'open') return
    this.state = 'aborted'
    this.wakeAll()
    if (!this.detached) this.sink?.aborted()
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake()
  }
}
