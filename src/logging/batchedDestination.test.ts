import { describe, expect, it } from 'vitest'
import { batchedDestination } from './batchedDestination.js'

function target(): { writes: string[]; write(chunk: string): void } {
  const writes: string[] = []
  return { writes, write: (chunk) => void writes.push(chunk) }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('batchedDestination', () => {
  it('writes the lines of one event-loop turn with one write, in order, at the end of the turn', async () => {
    const out = target()
    const destination = batchedDestination(out)
    destination.write('a\n')
    destination.write('b\n')
    destination.write('c\n')
    expect(out.writes).toEqual([])
    await nextTurn()
    expect(out.writes).toEqual(['a\nb\nc\n'])
    destination.write('d\n')
    await nextTurn()
    expect(out.writes).toEqual(['a\nb\nc\n', 'd\n'])
  })

  it('writes what is pending on flush, and nothing twice', async () => {
    const out = target()
    const destination = batchedDestination(out)
    destination.write('x\n')
    destination.flush()
    expect(out.writes).toEqual(['x\n'])
    await nextTurn()
    destination.flush()
    expect(out.writes).toEqual(['x\n'])
  })
})
