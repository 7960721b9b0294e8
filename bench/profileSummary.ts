/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and says where the time went: self time by
 * function and by area (our layers, each dependency, Node internals, GC).
 *
 * CLI: `node dist-bench/bench/profileSummary.js <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
  readonly children?: number[]
}

interface CpuProfile {
  readonly nodes: ProfileNode[]
  readonly samples: number[]
  readonly timeDeltas: number[]
  readonly startTime: number
  readonly endTime: number
}

/** One line of the summary. */
export interface ProfileLine {
  readonly name: string
  readonly selfMs: number
  /** Share of the non-idle time, in percent. */
  readonly percent: number
}

export interface ProfileSummary {
  readonly busyMs: number
  readonly idleMs: number
  readonly byFunction: ProfileLine[]
  readonly byArea: ProfileLine[]
  /** Time (self + callees) under frames of each of our source files. */
  readonly inclusiveBySourceFile: ProfileLine[]
}

/** The area a frame belongs to: a layer of ours, a package, Node, or V8's own pseudo-frames. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName === '' ? '(anonymous native)' : `(${functionName.replace(/[()]/g, '')})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1] as string
  const ours = /\/(src|bench|test)\/(?:([^/]+)\/)?[^/]+$/.exec(url)
  if (ours !== null) return ours[2] !== undefined ? `${ours[1]}/${ours[2]}` : (ours[1] as string)
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/')
  return url
}

function shortUrl(url: string): string {
  const pkg = url.lastIndexOf('node_modules/')
  if (pkg >= 0) return url.slice(pkg + 'node_modules/'.length)
  const ours = /\/((?:src|bench|test)\/.*)$/.exec(url)
  return ours !== null ? (ours[1] as string) : url
}

function lines(totals: Map<string, number>, busyUs: number, top: number): ProfileLine[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, percent: (100 * us) / busyUs }))
}

/** Summarizes a profile file. */
export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let idle = 0
  let busy = 0
  for (const [id, us] of self) {
    const node = byId.get(id) as ProfileNode
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idle += us
      continue
    }
    busy += us
    const name = `${functionName || '(anonymous)'} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim()
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    const area = areaOf(url, functionName)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
    // Inclusive time per source file of ours: count each file once per sample's stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frameUrl = (byId.get(at) as ProfileNode).callFrame.url
      if (!/\/(src|bench)\//.test(frameUrl) || frameUrl.includes('node_modules')) continue
      const file = shortUrl(frameUrl)
      if (seen.has(file)) continue
      seen.add(file)
      inclusive.set(file, (inclusive.get(file) ?? 0) + us)
    }
  }
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    byFunction: lines(byFunction, busy, top),
    byArea: lines(byArea, busy, top),
    inclusiveBySourceFile: lines(inclusive, busy, top),
  }
}

/** Text rendering of a summary. */
export function formatSummary(summary: ProfileSummary): string {
  const table = (title: string, rows: ProfileLine[]): string =>
    [`${title}:`, ...rows.map((r) => `  ${r.percent.toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(6)} ms  ${r.name}`)].join('\n')
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    table('self time by area', summary.byArea),
    table('self time by function', summary.byFunction),
    table('inclusive time by source file (ours)', summary.inclusiveBySourceFile),
  ].join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, top] = process.argv.slice(2)
  if (file === undefined) {
    process.stderr.write('usage: profileSummary <file.cpuprofile> [top]\n')
    process.exit(2)
  }
  process.stdout.write(`${formatSummary(summarizeProfile(file, Number(top ?? 25)))}\n`)
}
