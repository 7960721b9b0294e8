/**
 * Reads a downstream request body while ext_proc works on the headers, and signals when it
 * grows beyond the buffer limit (Envoy's `requestDataTooLarge` → 413).
 */
import type { IncomingMessage } from 'node:http'

/** The body as far as it was read. */
export interface BodyResult {
  body: Buffer
  /** The client went away before the body ended. */
  aborted: boolean
}

/** Collects the body of `req`; `overflow` resolves once more than `limit` bytes arrived. */
export class BodyReader {
  readonly complete: Promise<BodyResult>
  readonly overflow: Promise<void>
  private readonly chunks: Buffer[] = []
  private size = 0
  private overflowed = false
  private signalOverflow: () => void = () => undefined

  constructor(req: IncomingMessage, limit: number) {
    this.overflow = new Promise((resolve) => { this.signalOverflow = resolve })
    this.complete = new Promise((resolve) => {
      req.on('data', (chunk: Buffer) => {
        this.size += chunk.length
        this.chunks.push(chunk)
        if (this.size > limit && !this.overflowed) {
          this.overflowed = true
          this.signalOverflow()
        }
      })
      req.on('end', () => resolve({ body: Buffer.concat(this.chunks), aborted: false }))
      req.on('close', () => resolve({ body: Buffer.concat(this.chunks), aborted: !req.complete }))
    })
  }

  /** Bytes received so far. */
  get received(): number {
    return this.size
  }
}
