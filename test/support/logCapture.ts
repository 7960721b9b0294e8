import { Writable } from 'node:stream'

/** A pino destination that keeps what is written, and the JSON lines parsed. */
export function captureLogLines(): { lines: () => Array<Record<string, unknown>>; sink: Writable } {
  const chunks: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'))
      callback()
    },
  })
  const lines = (): Array<Record<string, unknown>> =>
    chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  return { lines, sink }
}
