/**
 * Shared set-up for the emulator self-tests: a scripted ext_proc server, a recording upstream
 * and an emulator between them.
 */
import { afterEach } from 'vitest'
import { startEchoUpstream } from '../harness/echoUpstream.js'
import type { EchoUpstream } from '../harness/echoUpstream.js'
import { startEnvoyEmulator } from '../harness/envoyEmulator.js'
import type {
  EmulatedRoute, EnvoyEmulator, EnvoyEmulatorOptions,
} from '../harness/envoyEmulator.js'
import { continueAll, startScriptedExtProc } from '../harness/scriptedExtProc.js'
import type { Script, ScriptedExtProc } from '../harness/scriptedExtProc.js'
import type { HeaderValueMsg, ProcessingRequestMsg } from '../harness/emulator/types.js'

/** Route metadata in the shape the signing server reads. */
export const ROUTE_METADATA = {
  filter_metadata: {
    'mcp.sigv4': { upstream_host: 'aws-mcp.us-east-1.api.aws', region: 'us-east-1',
      service: 'aws-mcp', upstream_path_prefix: '/mcp' },
  },
}

/** The three processes of one test. */
export interface Fixture {
  extProc: ScriptedExtProc
  upstream: EchoUpstream
  emulator: EnvoyEmulator
  close(): Promise<void>
}

/** Options of {@link startFixture}: emulator options plus routes built from the upstream port. */
export type FixtureOptions = Partial<Omit<EnvoyEmulatorOptions, 'routes' | 'extProcAddress'>> & {
  routes?: (upstreamPort: number) => EmulatedRoute[]
}

/** The default routes: a signed AWS MCP route with rewrites, and a catch-all. */
export function defaultRoutes(port: number): EmulatedRoute[] {
  return [
    { name: 'aws-mcp', prefix: '/aws-mcp', metadata: ROUTE_METADATA,
      hostRewriteLiteral: 'aws-mcp.us-east-1.api.aws', prefixRewrite: '/mcp',
      upstream: { host: '127.0.0.1', port } },
    { name: 'catch-all', prefix: '/', upstream: { host: '127.0.0.1', port } },
  ]
}

/** Starts server, upstream and emulator. */
export async function startFixture(options: FixtureOptions = {}, script: Script = continueAll):
  Promise<Fixture> {
  const extProc = await startScriptedExtProc(script)
  const upstream = await startEchoUpstream()
  const { routes, ...rest } = options
  const emulator = await startEnvoyEmulator({ ...rest, extProcAddress: extProc.address,
    routes: (routes ?? defaultRoutes)(upstream.port) })
  return {
    extProc, upstream, emulator,
    close: async () => {
      await emulator.close()
      await upstream.close()
      await extProc.close()
    },
  }
}

/** Starts a fixture; the test file's `afterEach` closes it. */
export type StartFixture = (options?: FixtureOptions, script?: Script) => Promise<Fixture>

/**
 * Registers an `afterEach` that closes the fixture the current test started, and returns the
 * starter to use in the tests. Call once, at the top level of a test file.
 */
export function useFixture(): StartFixture {
  let current: Fixture | undefined
  afterEach(async () => {
    await current?.close()
    current = undefined
  })
  return async (options = {}, script) => {
    current = await startFixture(options, script)
    return current
  }
}

/** `[key, value]` pairs of a headers message, values decoded from `raw_value` (latin1). */
export function headerPairs(message: ProcessingRequestMsg | undefined): Array<[string, string]> {
  const list: HeaderValueMsg[] = message?.request_headers?.headers?.headers ??
    message?.response_headers?.headers?.headers ?? []
  return list.map((h) => [h.key ?? '', (h.raw_value ?? Buffer.alloc(0)).toString('latin1')])
}

/** Values of one header in a `[key, value]` list. */
export function valuesOf(pairs: Array<[string, string]>, key: string): string[] {
  return pairs.filter(([k]) => k === key).map(([, v]) => v)
}

/** A `set_headers` entry with `raw_value`. */
export function setRaw(key: string, value: string, append?: boolean): object {
  return { header: { key, raw_value: Buffer.from(value) },
    ...(append === undefined ? {} : { append: { value: append } }) }
}
