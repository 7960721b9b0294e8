/**
 * STREAMED response body (fact sheet §3 "Other modes"; `Filter::handleDataStreamedMode` and
 * `ProcessorState::handleStreamedBodyResponse` in Envoy's source):
 *
 * - what arrived while the `response_headers` call was outstanding goes first, as one chunk
 *   (`sendBufferedDataInStreamedMode(false)`), then the headers continue downstream;
 * - every later upstream data callback is sent at once as `response_body{body: chunk,
 *   end_of_stream: false}` and queued: messages are pipelined, not sent one reply at a time;
 * - the end of the HTTP/1.1 message is its own empty `response_body{end_of_stream: true}`;
 * - each reply answers the oldest queued chunk: `body_mutation.body` replaces it, `clear_body`
 *   drops it, none keeps it; the result goes downstream in order; a `header_mutation` is
 *   ignored (the headers are gone); a `streamed_response` mutation is spurious;
 * - the reply to the end-of-stream chunk ends the response and closes the Process stream;
 * - a failure resets the downstream (headers were sent); with `failure_mode_allow` or a server
 *   OK close, queued chunks go on unmodified and the rest passes unprocessed (`clearAsyncState`);
 * - more than the buffer limit queued pauses the upstream until below half (watermarks).
 */
import type { IncomingMessage } from 'node:http'
import { mutatedBody } from './bodyMutations.js'
import type { DownstreamWriter } from './downstreamWriter.js'
import type { ExchangeOutcome, ExtProcStream } from './extProcStream.js'
import type { FlowContext } from './flowContext.js'
import type { ProcessingResponseMsg } from './types.js'
import type { UpstreamBody } from './upstreamBody.js'

/** Details recorded when the upstream resets after its response started (emulator wording). */
export const UPSTREAM_RESET = 'upstream_reset_after_response_started{remote_reset}'

const EMPTY = Buffer.alloc(0)

interface QueuedChunk {
  data: Buffer
  endOfStream: boolean
  outcome: Promise<ExchangeOutcome>
}

/** Streams one response body through the ext_proc server; see the file comment. */
export class StreamedResponse {
  private readonly queue: QueuedChunk[] = []
  private queuedBytes = 0
  private passThrough = false
  private upstreamAborted = false
  private wake: (() => void) | undefined

  constructor(private readonly ctx: FlowContext, private readonly body: UpstreamBody,
    private readonly writer: DownstreamWriter, private readonly upstream: IncomingMessage) {}

  /** Runs until the last chunk's reply was written, or the response failed. */
  async run(): Promise<void> {
    const held = this.body.takeHeld()
    if (held.length > 0) this.send(held, false)
    if (!this.writer.writeHead()) {
      this.body.detach()
      this.upstream.destroy()
      return
    }
    this.body.forward({
      data: (chunk) => (this.passThrough ? this.writeOut(chunk) : this.send(chunk, false)),
      end: () => (this.passThrough ? this.writer.end() : this.send(EMPTY, true)),
      aborted: () => this.onUpstreamAborted(),
    })
    await this.processReplies()
  }

  private send(data: Buffer, endOfStream: boolean): void {
    const message = this.ctx.message({ response_body: {
      ...(data.length > 0 ? { body: data } : {}),
      ...(endOfStream ? { end_of_stream: true } : {}),
    } }, false)
    const outcome = (this.ctx.stream as ExtProcStream).exchange(message, 'response_body')
    this.queue.push({ data, endOfStream, outcome })
    this.queuedBytes += data.length
    this.updateFlow()
    this.wake?.()
  }

  private async processReplies(): Promise<void> {
    for (;;) {
      const head = await this.next()
      if (head === undefined) return
      const outcome = await head.outcome
      if (this.ctx.aborted || this.upstreamAborted) return
      if (outcome.type !== 'response') return this.fail(outcome)
      const data = this.mutatedChunk(outcome.response, head.data)
      if (data === undefined) return this.fail({ type: 'spurious' })
      this.queue.shift()
      this.queuedBytes -= head.data.length
      this.writeOut(data)
      if (head.endOfStream) {
        // closeGrpcStreamIfLastRespReceived: the last chunk's reply ends ext_proc (§10).
        this.ctx.stream?.close()
        this.writer.end()
        return
      }
      this.updateFlow()
    }
  }

  /** The oldest queued chunk, waiting for one; `undefined` once nothing more will come. */
  private async next(): Promise<QueuedChunk | undefined> {
    while (this.queue.length === 0) {
      if (this.upstreamAborted || this.ctx.aborted || this.passThrough) return undefined
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
    return this.queue[0]
  }

  /** The chunk after the reply's body mutation; `undefined` for a spurious mutation. */
  private mutatedChunk(response: ProcessingResponseMsg, data: Buffer): Buffer | undefined {
    const mutation = response.response_body?.response?.body_mutation
    if (mutation === undefined) return data
    if (mutation.mutation === 'streamed_response') {
      // Only FULL_DUPLEX_STREAMED takes streamed_response (fact sheet §12).
      this.ctx.deps.stats.spuriousMessages += 1
      return undefined
    }
    return mutatedBody(mutation, data)
  }

  private fail(outcome: ExchangeOutcome): void {
    if (this.ctx.onFailure(outcome) === 'stop') {
      this.body.detach()
      this.upstream.destroy()
      return
    }
    // clearAsyncState: queued chunks are injected unmodified; ext_proc is done for the rest.
    this.passThrough = true
    const leftovers = this.queue.splice(0)
    this.queuedBytes = 0
    for (const chunk of leftovers) this.writeOut(chunk.data)
    if (leftovers.some((chunk) => chunk.endOfStream)) this.writer.end()
    this.updateFlow()
  }

  private onUpstreamAborted(): void {
    this.upstreamAborted = true
    this.ctx.stream?.close()
    this.ctx.resetDownstream(UPSTREAM_RESET)
    this.wake?.()
  }

  private writeOut(chunk: Buffer): void {
    if (chunk.length === 0) return
    if (!this.writer.write(chunk)) {
      this.upstream.pause()
      this.ctx.res.once('drain', () => this.updateFlow())
    }
  }

  /** `queueOverHighLimit` raises a watermark; below half the limit it is cleared. */
  private updateFlow(): void {
    const limit = this.ctx.deps.options.bufferLimitBytes
    if (this.queuedBytes > limit) {
      this.upstream.pause()
    } else if (this.queuedBytes < limit / 2 && !this.ctx.res.writableNeedDrain) {
      this.upstream.resume()
    }
  }
}
