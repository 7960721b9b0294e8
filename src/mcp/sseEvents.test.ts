import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SseEventSplitter, rewriteSseEvent } from './sseEvents.js'

const encode = (text: string) => new TextEncoder().encode(text)

interface DispatchedEvent {
  type: string
  data: string
  id: string
}

/** What an EventSource would dispatch for `text` (WHATWG HTML, interpreting an event stream). */
function dispatched(text: string): DispatchedEvent[] {
  const lines = text.split(/\r\n|\r|\n/)
  lines.pop() // The part after the last line ending is not a line (yet).
  const events: DispatchedEvent[] = []
  let data = ''
  let type = ''
  let id = ''
  for (const line of lines) {
    if (line === '') {
      if (data !== '') events.push({ type: type || 'message', data: data.replace(/\n$/, ''), id })
      data = ''
      type = ''
      continue
    }
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data += `${value}\n`
    else if (field === 'event') type = value
    else if (field === 'id' && !value.includes('\0')) id = value
  }
  return events
}

function splitAll(chunks: readonly Uint8Array[]): { events: string[]; rest: string } {
  const splitter = new SseEventSplitter()
  const events = chunks.flatMap((chunk) => splitter.push(chunk))
  return { events, rest: splitter.flush() }
}

describe('SseEventSplitter', () => {
  it('ends events at blank lines with LF, CRLF and CR', () => {
    expect(splitAll([encode('data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d')])).toEqual({
      events: ['data: a\n\n', 'data: b\r\n\r\n', 'data: c\r\r'],
      rest: 'data: d',
    })
  })

  it('accepts mixed line endings within one event', () => {
    const { events } = splitAll([encode('event: x\r\ndata: a\rdata: b\n\r\nid: 1\n\r')])
    expect(events).toEqual(['event: x\r\ndata: a\rdata: b\n\r\n'])
  })

  it('keeps the remainder until the next chunk completes it', () => {
    const splitter = new SseEventSplitter()
    expect(splitter.push(encode('event: message\nda'))).toEqual([])
    expect(splitter.push(encode('ta: {"a":1}\n'))).toEqual([])
    expect(splitter.push(encode('\ndata: next'))).toEqual(['event: message\ndata: {"a":1}\n\n'])
    expect(splitter.flush()).toBe('data: next')
  })

  it('holds back a CR at the end of a chunk: it may be half of a CRLF', () => {
    const splitter = new SseEventSplitter()
    expect(splitter.push(encode('data: a\r\n\r'))).toEqual([])
    expect(splitter.push(encode('\ndata: b\r\r'))).toEqual(['data: a\r\n\r\n'])
    expect(splitter.push(encode('data: c\n\n'))).toEqual(['data: b\r\r', 'data: c\n\n'])
  })

  it('returns a complete event that ended the stream with a CR from flush', () => {
    const splitter = new SseEventSplitter()
    expect(splitter.push(encode('data: a\r\r'))).toEqual([])
    expect(splitter.flush()).toBe('data: a\r\r')
  })

  it('returns extra blank lines as events of their own', () => {
    expect(splitAll([encode('\ndata: a\n\n\n')]).events).toEqual(['\n', 'data: a\n\n', '\n'])
  })

  it('keeps a UTF-8 character split across chunks', () => {
    const bytes = encode('data: ü😀\n\n')
    const at = bytes.indexOf(0xf0) + 2
    const splitter = new SseEventSplitter()
    expect(splitter.push(bytes.subarray(0, at))).toEqual([])
    expect(splitter.push(bytes.subarray(at))).toEqual(['data: ü😀\n\n'])
  })

  it('replaces invalid bytes and a truncated character at the end with U+FFFD', () => {
    const splitter = new SseEventSplitter()
    expect(splitter.push(new Uint8Array([0x64, 0xff, 0x0a, 0x0a]))).toEqual(['d\uFFFD\n\n'])
    splitter.push(new Uint8Array([0x78, 0xf0, 0x9f]))
    expect(splitter.flush()).toBe('x\uFFFD')
  })

  it('can be reused after flush', () => {
    const splitter = new SseEventSplitter()
    splitter.push(encode('data: a'))
    expect(splitter.flush()).toBe('data: a')
    expect(splitter.push(encode('data: b\n\n'))).toEqual(['data: b\n\n'])
    expect(splitter.flush()).toBe('')
  })

  const line = fc.tuple(
    fc.constantFrom('data: ', 'data:', 'data', 'event: ', 'id: ', 'retry: ', ': ', ':'),
    fc.string({ unit: fc.constantFrom('a', ' ', ':', 'é', '😀', '{', '"'), maxLength: 6 }),
    fc.constantFrom('\n', '\r\n', '\r'),
  )
  const event = fc.tuple(
    fc.array(line, { minLength: 1, maxLength: 4 }),
    fc.constantFrom('\n', '\r\n', '\r'),
  )
  const stream = fc
    .tuple(
      fc.array(event, { maxLength: 5 }),
      fc.string({ unit: fc.constantFrom('d', 'a', ':', '\r', '\n', 'é'), maxLength: 6 }),
    )
    .map(
      ([events, tail]) =>
        events
          .map(
            ([lines, end]) =>
              lines
                .map(([field, value, eol]) => `${field}${field === 'data' ? '' : value}${eol}`)
                .join('') + end,
          )
          .join('') + tail,
    )
  const chunked = stream.chain((text) => {
    const bytes = encode(text)
    return fc.record({
      text: fc.constant(text),
      bytes: fc.constant(bytes),
      cuts: fc
        .uniqueArray(fc.nat(bytes.length), { maxLength: 8 })
        .map((cuts) => cuts.sort((a, b) => a - b)),
    })
  })

  it('property: any chunking gives the same events and rest as a single chunk', () => {
    fc.assert(
      fc.property(chunked, ({ text, bytes, cuts }) => {
        const chunks: Uint8Array[] = []
        let from = 0
        for (const cut of [...cuts, bytes.length]) {
          chunks.push(bytes.subarray(from, cut))
          from = cut
        }
        const whole = splitAll([bytes])
        expect(splitAll(chunks)).toEqual(whole)
        expect(whole.events.join('') + whole.rest).toBe(text)
        for (const raw of whole.events) expect(raw).toMatch(/(\n|\r)$/)
        // Splitting does not change what a client sees (the last event id carries over
        // between events, so it is left out of the per-event comparison).
        const seen = (events: DispatchedEvent[]) => events.map(({ type, data }) => ({ type, data }))
        const pieces = [...whole.events, whole.rest]
        expect(seen(pieces.flatMap(dispatched))).toEqual(seen(dispatched(text)))
      }),
      { numRuns: 1000 },
    )
  })

  it('property: rewriting every event changes exactly the dispatched data', () => {
    const change = (data: string) => `<${data}>\nsecond line`
    fc.assert(
      fc.property(stream, (text) => {
        const { events, rest } = splitAll([encode(text)])
        const rewritten =
          events.map((raw) => rewriteSseEvent(raw, change)).join('') + rewriteSseEvent(rest, change)
        const expected = dispatched(text).map((e) => ({ ...e, data: change(e.data) }))
        expect(dispatched(rewritten)).toEqual(expected)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('rewriteSseEvent', () => {
  it('joins data lines, strips one space after the colon, and passes the data on', () => {
    const seen: string[] = []
    rewriteSseEvent('data: a\ndata:b\ndata:  c\ndata\n\n', (data) => {
      seen.push(data)
      return undefined
    })
    expect(seen).toEqual(['a\nb\n c\n'])
  })

  it('returns the raw event when the callback returns undefined', () => {
    const raw = 'event: message\r\ndata:{"a":1}\r\n\r\n'
    expect(rewriteSseEvent(raw, () => undefined)).toBe(raw)
  })

  it('does not call the callback for events without data', () => {
    let called = false
    const raw = ': keep-alive\nevent: ping\n\n'
    expect(
      rewriteSseEvent(raw, () => {
        called = true
        return 'x'
      }),
    ).toBe(raw)
    expect(called).toBe(false)
    // `data ` (with a space) and `datum:` are other fields.
    expect(rewriteSseEvent('data : x\ndatum: y\n\n', () => 'z')).toBe('data : x\ndatum: y\n\n')
  })

  it('keeps other fields and comments in place and replaces the data lines', () => {
    const raw = ': c1\nevent: message\ndata: {"old":\nid: 7\ndata: 1}\nretry: 10\n\n'
    expect(rewriteSseEvent(raw, (data) => (data === '{"old":\n1}' ? '{"new":2}' : undefined))).toBe(
      ': c1\nevent: message\ndata: {"new":2}\nid: 7\nretry: 10\n\n',
    )
  })

  it('writes multi-line data as several data lines with the original line ending', () => {
    expect(rewriteSseEvent('id: 1\r\ndata: x\r\n\r\n', () => 'a\nb\r\nc')).toBe(
      'id: 1\r\ndata: a\r\ndata: b\r\ndata: c\r\n\r\n',
    )
    expect(rewriteSseEvent('data: x\r\r', () => 'a\nb')).toBe('data: a\rdata: b\r\r')
  })

  it('keeps an unterminated event unterminated', () => {
    expect(rewriteSseEvent('event: e\ndata: x', () => 'a\nb')).toBe('event: e\ndata: a\ndata: b')
  })

  it('keeps the event terminated when a CR-ended line meets an LF blank line', () => {
    const rewritten = rewriteSseEvent('data: x\nid: 1\rdata: y\n\n', () => 'new')
    expect(rewritten).toBe('data: new\nid: 1\r\r\n')
    expect(dispatched(rewritten)).toEqual([{ type: 'message', data: 'new', id: '1' }])
  })

  it('writes empty data as one empty data line', () => {
    expect(rewriteSseEvent('data: x\n\n', () => '')).toBe('data: \n\n')
  })
})
