const LF = 0x0a
const CR = 0x0d

/**
 * Splits a Server-Sent Events stream that arrives in arbitrary chunks into raw events. An event
 * ends at a blank line; lines end with LF, CRLF or CR, mixed freely (WHATWG HTML, "Server-sent
 * events", parsing an event stream). Bytes are decoded with a streaming UTF-8 decoder, so a
 * character split across chunks survives; invalid bytes become U+FFFD and a leading BOM is
 * dropped, as the specification's decoding does. Joining all returned events and `flush()`
 * gives back the decoded stream.
 */
export class SseEventSplitter {
  readonly #decoder = new TextDecoder('utf-8')
  #buffer = ''
  /** Where the next line of the buffered (incomplete) event starts. */
  #lineStart = 0
  /** Where scanning resumes: everything before it has been looked at. */
  #scanFrom = 0

  /**
   * Adds a chunk and returns the events it completed, in order, each with its terminating
   * blank line. A blank line that ends no event (extra blank lines) is returned as an event of
   * its own. A CR at the very end of the data so far is held back: it may be half of a CRLF.
   */
  push(chunk: Uint8Array): string[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true })
    return this.#split()
  }

  /**
   * Ends the stream: returns what is left (an unterminated event, or `''`) and resets the
   * splitter. The rest is usually an incomplete event, which clients drop, but when the stream
   * ended in a CR it is one complete event: pass it through {@link rewriteSseEvent} too.
   */
  flush(): string {
    const rest = this.#buffer + this.#decoder.decode()
    this.#buffer = ''
    this.#lineStart = 0
    this.#scanFrom = 0
    return rest
  }

  #split(): string[] {
    const text = this.#buffer
    const events: string[] = []
    let eventStart = 0
    let lineStart = this.#lineStart
    let i = this.#scanFrom
    while (i < text.length) {
      const code = text.charCodeAt(i)
      if (code !== LF && code !== CR) {
        i++
        continue
      }
      if (code === CR && i + 1 === text.length) break
      const next = code === CR && text.charCodeAt(i + 1) === LF ? i + 2 : i + 1
      if (i === lineStart) {
        events.push(text.slice(eventStart, next))
        eventStart = next
      }
      lineStart = next
      i = next
    }
    this.#buffer = text.slice(eventStart)
    this.#lineStart = lineStart - eventStart
    this.#scanFrom = i - eventStart
    return events
  }
}

interface SseLine {
  readonly text: string
  /** `\n`, `\r\n`, `\r`, or `''` for an unterminated last line. */
  readonly eol: string
}

/**
 * Rewrites the data of one raw event (as {@link SseEventSplitter} returns it). The event's
 * `data:` lines are joined as the specification does (one space after the colon dropped, lines
 * joined with `\n`) and passed to `rewriteData`. When it returns `undefined`, or the event has
 * no `data` field, `raw` comes back unchanged. Otherwise the event is rebuilt: every other line
 * (`event:`, `id:`, `retry:`, comments, the blank line) stays where it was, byte for byte, and
 * the new data takes the place of the first `data:` line as `data: ` lines, one per line of the
 * new data (split at LF, CRLF and CR, which could not appear inside a data line anyway), each
 * ending with the line ending the first `data:` line had.
 */
export function rewriteSseEvent(
  raw: string,
  rewriteData: (data: string) => string | undefined,
): string {
  const lines = splitLines(raw)
  const dataLines = lines.filter(isDataLine)
  const first = dataLines[0]
  if (first === undefined) return raw
  const data = rewriteData(dataLines.map(fieldValue).join('\n'))
  if (data === undefined) return raw
  let out = ''
  for (const line of lines) {
    if (line === first) out += dataBlock(data, line.eol, eventLineEnding(lines))
    else if (!isDataLine(line)) out = append(out, line.text + line.eol)
  }
  return out
}

/**
 * Appends a line. Dropping data lines can put a line that ended in CR right before a blank
 * line that is a lone LF: together they would read as one CRLF and the event would lose its
 * end, so that blank line is written as CRLF.
 */
function append(out: string, line: string): string {
  return out.endsWith('\r') && line.startsWith('\n') ? `${out}\r${line}` : out + line
}

function dataBlock(data: string, eol: string, fallbackEol: string): string {
  const parts = data.split(/\r\n|\r|\n/)
  // An unterminated data line (end of stream) stays unterminated after the last new line.
  const between = eol === '' ? fallbackEol : eol
  return parts
    .map((part, index) => `data: ${part}${index === parts.length - 1 ? eol : between}`)
    .join('')
}

function eventLineEnding(lines: readonly SseLine[]): string {
  return lines.find((line) => line.eol !== '')?.eol ?? '\n'
}

function splitLines(raw: string): SseLine[] {
  const lines: SseLine[] = []
  let start = 0
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code !== LF && code !== CR) continue
    const crlf = code === CR && raw.charCodeAt(i + 1) === LF
    lines.push({ text: raw.slice(start, i), eol: crlf ? '\r\n' : (raw[i] as string) })
    if (crlf) i++
    start = i + 1
  }
  if (start < raw.length) lines.push({ text: raw.slice(start), eol: '' })
  return lines
}

function fieldName(line: SseLine): string {
  const colon = line.text.indexOf(':')
  return colon < 0 ? line.text : line.text.slice(0, colon)
}

function isDataLine(line: SseLine): boolean {
  return fieldName(line) === 'data'
}

function fieldValue(line: SseLine): string {
  const colon = line.text.indexOf(':')
  if (colon < 0) return ''
  const value = line.text.slice(colon + 1)
  return value.startsWith(' ') ? value.slice(1) : value
}
