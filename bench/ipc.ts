/**
 * The control channel between the orchestrator and its child processes: Node's IPC channel
 * (`fork`), with numbered requests and replies. Children may also push events.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'

/** A request from the orchestrator. */
export interface IpcRequest<T = unknown> {
  readonly id: number
  readonly body: T
}

/** A reply or an event from a child. */
export type IpcMessage =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
  | { readonly event: string; readonly data: unknown }

/** A forked child with request/reply over IPC. */
export class Child {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readonly events = new Map<string, Array<(data: unknown) => void>>()
  readonly exited: Promise<number | null>

  private constructor(readonly process: ChildProcess, readonly name: string) {
    process.on('message', (message: IpcMessage) => this.onMessage(message))
    this.exited = new Promise((resolve) => {
      process.on('exit', (code) => {
        for (const { reject } of this.waiting.values()) reject(new Error(`${name} exited (code ${code})`))
        this.waiting.clear()
        resolve(code)
      })
    })
  }

  /**
   * Forks `script`; its stdout goes to `logFile` (or is ignored), stderr to ours.
   */
  static start(
    name: string,
    script: string,
    options: { execArgv?: string[]; env?: NodeJS.ProcessEnv; logFile?: string } = {},
  ): Child {
    const stdout = options.logFile !== undefined ? openSync(options.logFile, 'w') : 'ignore'
    const child = fork(script, [], {
      execArgv: options.execArgv ?? [],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', stdout, 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    return new Child(child, name)
  }

  /** Sends a request and waits for its reply. */
  request<R>(body: unknown): Promise<R> {
    const id = this.nextId++
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.process.send({ id, body } satisfies IpcRequest)
    })
  }

  /** Waits for the next event of that name. */
  nextEvent<T>(event: string): Promise<T> {
    return new Promise((resolve) => {
      const list = this.events.get(event) ?? []
      list.push(resolve as (data: unknown) => void)
      this.events.set(event, list)
    })
  }

  /** Kills the child if it is still running and waits for it to go. */
  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL')
    await this.exited
  }

  private onMessage(message: IpcMessage): void {
    if ('event' in message) {
      const list = this.events.get(message.event) ?? []
      this.events.delete(message.event)
      for (const listener of list) listener(message.data)
      return
    }
    const waiter = this.waiting.get(message.id)
    if (waiter === undefined) return
    this.waiting.delete(message.id)
    if (message.ok) waiter.resolve(message.result)
    else waiter.reject(new Error(`${this.name}: ${message.error}`))
  }
}

/** Child side: answers requests with `handler` (one at a time per request, concurrently). */
export function serveIpc(handler: (body: unknown) => Promise<unknown>): void {
  process.on('message', (request: IpcRequest) => {
    handler(request.body).then(
      (result) => process.send?.({ id: request.id, ok: true, result }),
      (err: unknown) => process.send?.({ id: request.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    )
  })
}

/** Child side: pushes an event to the orchestrator. */
export function emitEvent(event: string, data: unknown): void {
  process.send?.({ event, data })
}
