/**
 * A programmable ext_proc server for tests of the Envoy emulator (and of anything else that
 * talks to an ext_proc server): a real grpc-js server with the project's protos whose answers
 * are written per test as an async script.
 */
import { Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js'
import type {
  GrpcObject, ServerDuplexStream, ServiceClientConstructor, ServiceError,
} from '@grpc/grpc-js'
import { EXT_PROC_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import type { ProcessingRequestMsg, ProcessingResponseMsg } from './emulator/types.js'

/** Everything one Process call did, from the server's side. */
export interface ScriptedCall {
  /** Request metadata, lower-case keys, every value as a string. */
  metadata: Record<string, string[]>
  received: ProcessingRequestMsg[]
  /** `end` (client half-close), `cancelled`, `error:<code>`, `finished` (server ended). */
  events: string[]
}

/** What a script can do while handling one received message. */
export interface ScriptContext {
  call: ScriptedCall
  /** 0-based index of the message within its call. */
  index: number
  send(response: ProcessingResponseMsg): void
  /** Ends the call with OK status (grpc-js `call.end()`). */
  end(): void
  /** Ends the call with an error status. */
  fail(code: number, details: string): void
  sleep(ms: number): Promise<void>
}

/** Handles one received message. */
export type Script = (message: ProcessingRequestMsg, ctx: ScriptContext) => Promise<void> | void

/** A running scripted server. */
export interface ScriptedExtProc {
  /** `127.0.0.1:<port>`. */
  address: string
  calls: ScriptedCall[]
  setScript(script: Script): void
  /** Resolves once `predicate` holds, polling every 5 ms; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** Answers CONTINUE to every message, echoing its type. */
export const continueAll: Script = (message, ctx) => {
  const kind = message.request
  if (kind === 'request_headers' || kind === 'request_body' || kind === 'response_headers') {
    ctx.send({ [kind]: { response: {} } })
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function metadataOf(call: ServerDuplexStream<unknown, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    out[key] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
  }
  return out
}

/** Starts the scripted server on 127.0.0.1 with an ephemeral port. */
export async function startScriptedExtProc(initial: Script = continueAll):
  Promise<ScriptedExtProc> {
  let script = initial
  const calls: ScriptedCall[] = []
  const pkg = loadProtoPackage([EXT_PROC_PROTO])
  const ext = ((pkg.envoy as GrpcObject).service as GrpcObject).ext_proc as GrpcObject
  const Client = (ext.v3 as GrpcObject).ExternalProcessor as ServiceClientConstructor
  const server = new Server()
  server.addService(Client.service, {
    Process: (call: ServerDuplexStream<unknown, unknown>) => {
      const record: ScriptedCall = { metadata: metadataOf(call), received: [], events: [] }
      calls.push(record)
      let queue = Promise.resolve()
      let finished = false
      const ctx = (index: number): ScriptContext => ({
        call: record, index, sleep,
        send: (response) => { if (!finished && !call.cancelled) call.write(response) },
        end: () => {
          if (finished) return
          finished = true
          record.events.push('finished')
          call.end()
        },
        fail: (code, details) => {
          if (finished) return
          finished = true
          record.events.push('finished')
          // grpc-js server streams turn an emitted 'error' into the call's status.
          call.emit('error', Object.assign(new Error(details), { code, details }))
        },
      })
      call.on('data', (message: ProcessingRequestMsg) => {
        const index = record.received.push(message) - 1
        queue = queue.then(() => script(message, ctx(index))).catch(() => undefined)
      })
      call.on('end', () => record.events.push('end'))
      call.on('cancelled', () => record.events.push('cancelled'))
      call.on('error', (err: ServiceError) => {
        if (!finished) record.events.push(`error:${err.code}`)
      })
    },
  })
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(),
      (err, bound) => (err === null ? resolve(bound) : reject(err)))
  })
  return {
    address: `127.0.0.1:${port}`,
    calls,
    setScript: (next) => { script = next },
    waitFor: async (predicate, timeoutMs = 2000) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error('cannot wait: condition not met in time')
        await sleep(5)
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve())
      setTimeout(() => { server.forceShutdown(); resolve() }, 500).unref()
    }),
  }
}

/** The gRPC status codes, re-exported for scripts. */
export { GrpcStatus }
