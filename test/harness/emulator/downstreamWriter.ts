/**
 * Writes the upstream response (as ext_proc left it) to the downstream HTTP/1.1 client: the head
 * once, flushed at once so SSE streams start, then body bytes.
 *
 * Emulator choice: when the final headers declare a `content-length` and the body written does
 * not match it (a server that changed chunk sizes while `content-length` was kept, e.g. after a
 * `mode_override` to STREAMED at response-headers time), the downstream connection is reset and
 * `downstreamReset` records `emulator_downstream_content_length_mismatch`. Envoy's HTTP/1 codec
 * would frame such a response wrongly; the fact sheet does not say how, and a reset keeps test
 * clients from hanging or reading garbage.
 */
import type { FlowContext } from './flowContext.js'
import { getHeader } from './headerMap.js'
import type { HeaderEntry } from './types.js'

const MISMATCH = 'emulator_downstream_content_length_mismatch'

/** The downstream side of one response. */
export class DownstreamWriter {
  private headWritten = false
  private ended = false
  private declared: number | undefined
  private written = 0

  /**
   * @param headers the response headers, `:status` first; read when the head is written.
   * @param noBody HEAD, 204, 304 or `content-length: 0`: nothing is written after the head.
   */
  constructor(private readonly ctx: FlowContext, private readonly headers: HeaderEntry[],
    private readonly noBody: boolean) {}

  /** Writes the head unless done already; false when nothing more can be written. */
  writeHead(): boolean {
    const res = this.ctx.res
    if (this.ctx.aborted || res.destroyed || this.ended) return false
    if (this.headWritten) return true
    // A local reply already answered: the upstream response is not written.
    if (res.headersSent) return false
    this.headWritten = true
    const status = Number(getHeader(this.headers, ':status'))
    const length = getHeader(this.headers, 'content-length')
    this.declared = !this.noBody && length !== undefined && /^\d+$/.test(length)
      ? Number(length)
      : undefined
    const flat = this.headers.filter((h) => !h.key.startsWith(':'))
      .flatMap((h) => [h.key, h.value])
    this.ctx.record.responseStatus = status
    res.writeHead(status, flat)
    // Flush now so SSE streams reach the client before their first event.
    res.flushHeaders()
    return true
  }

  /** Writes body bytes; false when the caller should wait for the response's `drain`. */
  write(chunk: Buffer): boolean {
    if (!this.writeHead() || this.noBody || chunk.length === 0) return true
    if (this.declared !== undefined && this.written + chunk.length > this.declared) {
      this.ctx.resetDownstream(MISMATCH)
      return true
    }
    this.written += chunk.length
    return this.ctx.res.write(chunk)
  }

  /** Writes `last` (if any) and ends the response. */
  end(last?: Buffer): void {
    if (last !== undefined) this.write(last)
    if (!this.writeHead()) return
    this.ended = true
    if (this.declared !== undefined && this.written !== this.declared) {
      this.ctx.resetDownstream(MISMATCH)
      return
    }
    this.ctx.res.end()
  }
}
