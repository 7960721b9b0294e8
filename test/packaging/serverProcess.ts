/**
 * The server as a child process, the way the image's ENTRYPOINT runs it: stdout read as pino
 * JSON lines, stderr kept for failure messages, exit awaited with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

/** One parsed log line. */
export type LogLine = Record<string, unknown>

/** How the child ended. */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running server process. */
export interface ServerProcess {
  readonly child: ChildProcess
  /** Every JSON log line so far, in order. */
  readonly logs: readonly LogLine[]
  /** Resolves with the first log line whose `msg` is `msg`; rejects after `timeoutMs`. */
  waitForLog(msg: string, timeoutMs: number): Promise<LogLine>
  /** Resolves when the process has exited; rejects after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<ExitStatus>
  /** Output for assertion messages: stderr and unparsed stdout. */
  diagnostics(): string
}

/** Spawn options: the image's working directory, environment and user. */
export interface SpawnOptions {
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  readonly uid?: number
  readonly gid?: number
}

/** Starts `argv` and starts collecting its output. */
export function startServer(argv: readonly string[], options: SpawnOptions): ServerProcess {
  const [command, ...args] = argv
  if (command === undefined) throw new Error('cannot start an empty command')
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: LogLine[] = []
  const other: string[] = []
  const waiters = new Set<() => void>()
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const parsed = parseLine(line)
    if (parsed === undefined) other.push(line)
    else logs.push(parsed)
    for (const wake of waiters) wake()
  })
  child.stderr?.on('data', (chunk: Buffer) => other.push(chunk.toString()))
  child.on('error', (err) => other.push(`spawn failed: ${err.message}`))
  // 'close', not 'exit': only then has every line the process wrote been read.
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  const diagnostics = (): string => other.join('\n')
  return {
    child,
    logs,
    diagnostics,
    waitForLog: (msg, timeoutMs) =>
      withDeadline(
        new Promise<LogLine>((resolve) => {
          const check = (): void => {
            const found = logs.find((line) => line['msg'] === msg)
            if (found === undefined) return
            waiters.delete(check)
            resolve(found)
          }
          waiters.add(check)
          check()
        }),
        timeoutMs,
        () => `no "${msg}" log line: ${diagnostics()}`,
      ),
    waitForExit: (timeoutMs) =>
      withDeadline(exited, timeoutMs, () => `process still running: ${diagnostics()}`),
  }
}

function parseLine(line: string): LogLine | undefined {
  try {
    const parsed = JSON.parse(line) as unknown
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as LogLine)
      : undefined
  } catch {
    return undefined
  }
}

/** `promise`, or a rejection with `message()` after `timeoutMs`. */
export function withDeadline<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), timeoutMs)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
export function runToCompletion(
  argv: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; output: string }> {
  const [command, ...args] = argv
  if (command === undefined) return Promise.reject(new Error('cannot run an empty command'))
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output: output.join('') }))
  })
  return withDeadline(done, options.timeoutMs, () => {
    child.kill('SIGKILL')
    return `${argv.join(' ')} did not finish in ${options.timeoutMs} ms: ${output.join('')}`
  })
}
