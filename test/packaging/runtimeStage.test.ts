/**
 * The Dockerfile's runtime stage, checked twice without Docker:
 * - statically: base image, user, signal, health check, exposed ports, the production install
 *   and the copied files, compared with the server's defaults and package.json,
 * - by replaying it: the runtime stage's COPY and RUN steps in a temporary root (the production
 *   `npm ci` against the real registry, through the local npm cache), then the ENTRYPOINT as
 *   the image's USER, probed over HTTP and gRPC, and stopped with the STOPSIGNAL.
 *
 * `CI_SKIP_PACKAGING=1` skips the replay (it needs the npm registry); it runs by default. The
 * install adds `--prefer-offline`, so a warm npm cache is used without revalidation; the whole
 * replay takes about 15 s alone (tsc ~5 s, npm ci ~8 s), ~35 s beside the other suites.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { credentials } from '@grpc/grpc-js'
import type {
  Client, ClientDuplexStream, ClientReadableStream, ServiceError,
} from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configSchema } from '../../src/config/schema.js'
import { EXT_PROC_PROTO, HEALTH_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import {
  execForm,
  instructionsOf,
  parseDockerfile,
  runCommands,
  soleInstruction,
  splitFlags,
  stageEnv,
  type Stage,
} from './dockerfile.js'
import { dockerignored } from './dockerignore.js'
import { productionClosure, type Lockfile } from './lockfile.js'
import { hostPath, replayStage, type RunCommand } from './runtimeSteps.js'
import {
  runToCompletion,
  startServer,
  withDeadline,
  type ServerProcess,
} from './serverProcess.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(join(REPO, path), 'utf8')
const stages = parseDockerfile(read('Dockerfile'))
const runtime = stages[stages.length - 1] as Stage
const packageJson = JSON.parse(read('package.json')) as {
  main: string
  engines: { node: string }
  scripts: Record<string, string>
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}
const lockfile = JSON.parse(read('package-lock.json')) as Lockfile
const defaults = configSchema.parse({})
const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1))
const GRPC_PORT = portOf(defaults.server.grpc_address)
const HTTP_PORT = portOf(defaults.server.http_address)
const GRACE_MS = defaults.server.shutdown_grace_seconds * 1000
/** Production packages allowed to have install scripts, which `--ignore-scripts` skips. */
const REVIEWED_INSTALL_SCRIPTS: Record<string, string> = {
  // scripts/postinstall.js only warns when a dependent pins another version scheme.
  'node_modules/protobufjs': 'prints a version-scheme warning, nothing else',
}
const SKIP_REPLAY = process.env['CI_SKIP_PACKAGING'] === '1'
/** A configuration whose identity needs an STS client (never called here). */
const WEB_IDENTITY_CONFIG = `identities:
  caller:
    kind: web_identity
    endpoint: http://127.0.0.1:9
    roles:
      - role_arn: arn:aws:iam::123456789012:role/mcp-callers
        match: { claim: sub, values: [nobody] }
`
/** `node:20-<debian release>-slim`, optionally pinned by digest. */
const NODE_20_SLIM = /^node:20-[a-z0-9]+-slim(@sha256:[0-9a-f]{64})?$/
/** What AWS SigV4 puts in `authorization` for the test's key, region and service. */
const AUTHORIZATION = new RegExp(
  '^AWS4-HMAC-SHA256 Credential=AKIDPACKAGINGTEST/\\d{8}/us-east-1/aws-mcp/aws4_request, ' +
    'SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$',
)

function copies(stage: Stage): { from: string | undefined; sources: string[]; target: string }[] {
  return instructionsOf(stage, 'COPY').map(({ args }) => {
    const { flags, rest } = splitFlags(args)
    const words = rest.split(/\s+/)
    return { from: flags['from'], sources: words.slice(0, -1), target: words.at(-1) as string }
  })
}

function healthcheckCommand(): { options: Record<string, string>; argv: string[] } {
  const { flags, rest } = splitFlags(soleInstruction(runtime, 'HEALTHCHECK').args)
  const match = /^CMD\s+(\[.*\])$/.exec(rest)
  if (match === null) throw new Error('HEALTHCHECK must be CMD in exec form')
  return { options: flags, argv: execForm(match[1] as string) }
}

function imageUser(): { uid: number; gid: number } {
  const match = /^(\d+):(\d+)$/.exec(soleInstruction(runtime, 'USER').args)
  if (match === null) throw new Error('USER must be a numeric uid:gid')
  return { uid: Number(match[1]), gid: Number(match[2]) }
}

describe('Dockerfile (static)', () => {
  it('builds in a build stage and ships the last stage, runtime, on node 20 slim', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'runtime'])
    for (const stage of stages) expect(stage.base).toMatch(NODE_20_SLIM)
    expect(packageJson.engines.node).toBe('>=20.12')
  })

  it('runs as a numeric non-root user, stops on SIGTERM and starts node directly', () => {
    expect(imageUser().uid).not.toBe(0)
    expect(imageUser().gid).not.toBe(0)
    expect(soleInstruction(runtime, 'STOPSIGNAL').args).toBe('SIGTERM')
    const entrypoint = execForm(soleInstruction(runtime, 'ENTRYPOINT').args)
    expect(entrypoint).toEqual(['node', packageJson.main])
    expect(instructionsOf(runtime, 'CMD')).toEqual([])
    expect(soleInstruction(runtime, 'WORKDIR').args).toBe('/app')
    expect(stageEnv(runtime)).toEqual({ NODE_ENV: 'production' })
  })

  it('exposes the default gRPC and HTTP ports and health-checks /readyz on the HTTP one', () => {
    expect(soleInstruction(runtime, 'EXPOSE').args.split(/\s+/).map(Number)).toEqual([
      GRPC_PORT,
      HTTP_PORT,
    ])
    expect([GRPC_PORT, HTTP_PORT]).toEqual([50051, 9090])
    const { options, argv } = healthcheckCommand()
    expect(argv.slice(0, 2)).toEqual(['node', '-e'])
    expect(argv[2]).toContain(`fetch('http://127.0.0.1:${HTTP_PORT}/readyz')`)
    expect(options).toEqual({ interval: '10s', timeout: '3s', 'start-period': '10s', retries: '3' })
  })

  it('installs production dependencies only, without install scripts', () => {
    expect(runCommands(runtime)).toEqual([
      ['npm', 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'],
      ['npm', 'cache', 'clean', '--force'],
    ])
    const withScripts = Object.entries(lockfile.packages)
      .filter(([path, entry]) => path !== '' && entry.dev !== true && entry.hasInstallScript)
      .map(([path]) => path)
    expect(withScripts).toEqual(Object.keys(REVIEWED_INSTALL_SCRIPTS))
  })

  it('copies the lockfile, the built dist and the protos, and nothing else', () => {
    expect(copies(runtime)).toEqual([
      { from: undefined, sources: ['package.json', 'package-lock.json'], target: './' },
      { from: 'build', sources: ['/app/dist'], target: './dist' },
      { from: undefined, sources: ['proto'], target: './proto' },
    ])
    // What the build stage's dist is: `npm run build` = tsc with tsconfig.build.json → dist/.
    const build = stages[0] as Stage
    expect(runCommands(build)).toContainEqual(['npm', 'run', 'build'])
    expect(packageJson.scripts['build']).toBe('tsc -p tsconfig.build.json')
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: object }
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' })
  })

  it('keeps host node_modules and dist out of the context, and every COPY source in it', () => {
    const ignore = read('.dockerignore')
    expect(dockerignored(ignore, 'node_modules')).toBe(true)
    expect(dockerignored(ignore, 'dist')).toBe(true)
    const sources = stages.flatMap((stage) =>
      copies(stage).filter((c) => c.from === undefined).flatMap((c) => c.sources),
    )
    expect(sources.filter((source) => dockerignored(ignore, source))).toEqual([])
    expect(dockerignored(ignore, 'src/app.ts')).toBe(false)
    expect(dockerignored(ignore, 'src/app.test.ts')).toBe(true)
  })
})

type AnyClient = Client & Record<string, (...args: unknown[]) => unknown>
type ClientConstructor = new (address: string, channelCredentials: unknown) => AnyClient
const grpcPkg = loadProtoPackage([EXT_PROC_PROTO, HEALTH_PROTO]) as unknown as {
  envoy: { service: { ext_proc: { v3: { ExternalProcessor: ClientConstructor } } } }
  grpc: { health: { v1: { Health: ClientConstructor } } }
}

describe.skipIf(SKIP_REPLAY)('Dockerfile runtime stage, replayed outside Docker', () => {
  let work = ''
  let runtimeRoot = ''
  const asImageUser = process.getuid?.() === 0
  let appDir = ''
  let server: ServerProcess
  /** The ENTRYPOINT as spawned here, and its environment. */
  let entrypoint: string[] = []
  let serverEnv: NodeJS.ProcessEnv = {}
  let grpcAddress = ''
  let httpBase = ''

  const runNpm: RunCommand = async (argv, cwd, env) => {
    // The image drops its npm cache to stay small; here it is the developer's cache: keep it.
    if (argv.join(' ') === 'npm cache clean --force') return
    if (argv[0] !== 'npm' || argv[1] !== 'ci') {
      throw new Error(`cannot replay RUN ${argv.join(' ')}`)
    }
    // --prefer-offline: reuse the npm cache without revalidating each package.
    const result = await runToCompletion([...argv, '--prefer-offline'], {
      cwd,
      env: { ...process.env, ...env },
      timeoutMs: 180_000,
    })
    if (result.code !== 0) throw new Error(`${argv.join(' ')} failed: ${result.output}`)
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mcp-sigv4-image-'))
    chmodSync(work, 0o755) // the image user must reach the app directory
    const buildRoot = join(work, 'build')
    runtimeRoot = join(work, 'runtime')
    // The build stage's `npm run build`, with the repository as its /app (checked above).
    const tsc = await runToCompletion(
      [
        process.execPath,
        join(REPO, 'node_modules/typescript/bin/tsc'),
        '-p', join(REPO, 'tsconfig.build.json'),
        '--outDir', hostPath(buildRoot, '/app/dist'),
      ],
      { cwd: REPO, env: process.env, timeoutMs: 120_000 },
    )
    if (tsc.code !== 0) throw new Error(`tsc failed: ${tsc.output}`)
    const replayed = await replayStage(
      runtime,
      { context: REPO, root: runtimeRoot, stageRoots: { build: buildRoot } },
      runNpm,
    )
    appDir = replayed.workdir
    const [command, ...args] = execForm(soleInstruction(runtime, 'ENTRYPOINT').args)
    expect(command).toBe('node')
    entrypoint = [process.execPath, ...args]
    serverEnv = {
      PATH: process.env['PATH'],
      HOME: hostPath(runtimeRoot, '/home/node'),
      ...replayed.env,
      // Port 0: the server logs the ports it bound, so no free-port race.
      MCP_SIGV4__SERVER__GRPC_ADDRESS: '127.0.0.1:0',
      MCP_SIGV4__SERVER__HTTP_ADDRESS: '127.0.0.1:0',
      // The default_chain identity finds these first; nothing reaches IMDS or ~/.aws.
      AWS_ACCESS_KEY_ID: 'AKIDPACKAGINGTEST',
      AWS_SECRET_ACCESS_KEY: 'packaging-test-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: hostPath(runtimeRoot, '/nonexistent/config'),
      AWS_SHARED_CREDENTIALS_FILE: hostPath(runtimeRoot, '/nonexistent/credentials'),
    }
    server = startServer(entrypoint, { cwd: appDir, env: serverEnv, ...(asImageUser ? imageUser() : {}) })
    const listening = await server.waitForLog('listening', 30_000)
    grpcAddress = `127.0.0.1:${String(listening['grpc_port'])}`
    httpBase = `http://127.0.0.1:${String(listening['http_port'])}`
  }, 240_000)

  afterAll(() => {
    if (server !== undefined && server.child.exitCode === null) server.child.kill('SIGKILL')
    if (work !== '') rmSync(work, { recursive: true, force: true })
  })

  it('installed exactly the lockfile production closure: no devDependency', () => {
    const hidden = JSON.parse(
      readFileSync(join(appDir, 'node_modules/.package-lock.json'), 'utf8'),
    ) as Lockfile
    expect(Object.keys(hidden.packages).sort()).toEqual(productionClosure(lockfile).sort())
    // devDependencies nothing in production needs (protobufjs and @types/node are both).
    const devOnly = Object.keys(packageJson.devDependencies).filter(
      (name) => lockfile.packages[`node_modules/${name}`]?.dev === true,
    )
    expect(devOnly).toEqual(expect.arrayContaining(['vitest', 'typescript', '@grpc/grpc-js-xds']))
    for (const name of devOnly) {
      expect(existsSync(join(appDir, 'node_modules', name)), name).toBe(false)
    }
    for (const name of Object.keys(packageJson.dependencies)) {
      expect(existsSync(join(appDir, 'node_modules', name, 'package.json')), name).toBe(true)
    }
    expect(existsSync(join(appDir, packageJson.main))).toBe(true)
    expect(existsSync(join(appDir, 'proto/grpc/health/v1/health.proto'))).toBe(true)
  })

  it('becomes ready: /readyz 200, /healthz 200, /metrics with the request counter', async () => {
    expect(await pollReady(`${httpBase}/readyz`, 15_000)).toBe(200)
    const healthz = await fetch(`${httpBase}/healthz`)
    expect([healthz.status, await healthz.text()]).toEqual([200, 'ok\n'])
    const metrics = await fetch(`${httpBase}/metrics`)
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await metrics.text()).toContain('# TYPE mcp_sigv4_requests_total counter')
  })

  it('passes the Dockerfile HEALTHCHECK command (run against the bound port)', async () => {
    expect(await runHealthcheck(appDir, new URL(httpBase).host)).toEqual({ code: 0, output: '' })
  })

  it('serves gRPC health and signs a request with the production dependencies', async () => {
    const health = new grpcPkg.grpc.health.v1.Health(grpcAddress, credentials.createInsecure())
    const extProc = new grpcPkg.envoy.service.ext_proc.v3.ExternalProcessor(
      grpcAddress,
      credentials.createInsecure(),
    )
    try {
      expect(await healthCheck(health)).toEqual({ status: 'SERVING' })
      const [response] = await processOnce(extProc, signedGetRequest())
      const setHeaders = headerMutation(response)
      expect(setHeaders['authorization']).toMatch(AUTHORIZATION)
      expect(setHeaders['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/)
    } finally {
      health.close()
      extProc.close()
    }
    const metrics = await (await fetch(`${httpBase}/metrics`)).text()
    expect(metrics).toMatch(/^mcp_sigv4_requests_total\{[^}]*outcome="signed"[^}]*\} 1$/m)
  })

  it('reloads its configuration on SIGHUP and keeps serving', async () => {
    server.child.kill('SIGHUP')
    const line = await server.waitForLog('configuration reloaded', 5_000)
    expect(line['restart_needed']).toEqual([])
    expect((await fetch(`${httpBase}/readyz`)).status).toBe(200)
  })

  it('logs process warnings as JSON lines, nothing on stderr (a web_identity identity builds an STS client)', async () => {
    // The AWS SDK warns from its client's constructor on Node < 22 (the versions it will drop);
    // Node would print that as nine lines of text on stderr.
    const configFile = join(work, 'web-identity.yaml')
    writeFileSync(configFile, WEB_IDENTITY_CONFIG, { mode: 0o644 })
    const second = startServer([...entrypoint, '--config', configFile], {
      cwd: appDir,
      env: serverEnv,
      ...(asImageUser ? imageUser() : {}),
    })
    try {
      await second.waitForLog('listening', 30_000)
      second.child.kill('SIGTERM')
      expect(await second.waitForExit(GRACE_MS + 5_000)).toEqual({ code: 0, signal: null })
    } finally {
      if (second.child.exitCode === null) second.child.kill('SIGKILL')
    }
    expect(second.diagnostics()).toBe('')
    const warnings = second.logs.filter((line) => line['msg'] === 'process warning')
    const nodeMajor = Number(process.versions.node.split('.')[0])
    if (nodeMajor < 22) {
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 'warn',
          warning: { name: 'Warning', message: expect.stringMatching(/^NodeVersionSupportWarning: [^]*node >=22/) },
        }),
      ])
    } else {
      expect(warnings).toEqual([])
    }
  })

  it('drains on SIGTERM (health NOT_SERVING) and exits 0 within the shutdown grace', async () => {
    const health = new grpcPkg.grpc.health.v1.Health(grpcAddress, credentials.createInsecure())
    const statuses: string[] = []
    const watch = health.Watch({ service: '' }) as ClientReadableStream<{ status: string }>
    const ended = new Promise<void>((resolve) => {
      watch.on('data', (message) => statuses.push(message.status))
      watch.on('error', () => resolve())
      watch.on('end', () => resolve())
    })
    await withDeadline(waitUntil(() => statuses.length > 0), 5_000, () => 'no Watch status')
    const started = Date.now()
    server.child.kill(soleInstruction(runtime, 'STOPSIGNAL').args as NodeJS.Signals)
    const exit = await server.waitForExit(GRACE_MS + 5_000)
    const elapsedMs = Date.now() - started
    await ended
    health.close()
    expect(exit).toEqual({ code: 0, signal: null })
    expect(elapsedMs).toBeLessThan(GRACE_MS)
    expect(statuses).toEqual(['SERVING', 'NOT_SERVING'])
    // The app's last words before main.ts exits 0: the handler ran the graceful stop.
    expect(server.logs.at(-1)?.['msg'], server.diagnostics()).toBe('stopped')
    expect(await runHealthcheck(appDir, new URL(httpBase).host)).toEqual({ code: 1, output: '' })
  })

  it.runIf(asImageUser)('runs as the image user, who cannot modify the installed code', () => {
    const { uid, gid } = imageUser()
    const attempt = (): Buffer =>
      execFileSync(process.execPath, ['-e', "require('fs').writeFileSync('dist/main.js', '')"], {
        cwd: appDir,
        uid,
        gid,
        stdio: 'pipe',
      })
    expect(attempt).toThrow(/EACCES/)
    expect(readFileSync(join(appDir, packageJson.main), 'utf8')).toContain('mcp-sigv4-extproc')
  })
})

/** The HEALTHCHECK command with its `127.0.0.1:<default port>` pointed at `host`. */
function runHealthcheck(cwd: string, host: string): Promise<{ code: number | null }> {
  const [command, flag, script] = healthcheckCommand().argv as [string, string, string]
  const local = script.replace(`127.0.0.1:${HTTP_PORT}`, host)
  expect(command).toBe('node')
  // HEALTHCHECK --timeout=3s: Docker counts a slower check as failed.
  return runToCompletion([process.execPath, flag, local], {
    cwd,
    env: { PATH: process.env['PATH'] },
    timeoutMs: 3_000,
  })
}

async function pollReady(url: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let last = 0
  while (Date.now() < deadline) {
    last = await fetch(url).then((r) => r.status, () => 0)
    if (last === 200) return last
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return last
}

async function waitUntil(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 10))
}

function healthCheck(client: AnyClient): Promise<unknown> {
  return new Promise((resolve) => {
    client.Check({ service: '' }, (err: ServiceError | null, res: unknown) => resolve(err ?? res))
  })
}

/** A body-less GET to a route whose metadata names the AWS MCP Server (signed in headers). */
function signedGetRequest(): object {
  const metadata =
    'filter_metadata { key: "mcp_sigv4" value { fields { key: "host" value { string_value: ' +
    '"aws-mcp.us-east-1.api.aws" } } fields { key: "path" value { string_value: "/mcp" } } } }'
  const headers: [string, string][] = [
    [':method', 'GET'],
    [':path', '/aws-mcp'],
    [':authority', 'gateway.example'],
    [':scheme', 'http'],
    ['accept', 'text/event-stream'],
  ]
  return {
    request_headers: {
      headers: { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) },
      end_of_stream: true,
    },
    attributes: {
      'envoy.filters.http.ext_proc': {
        fields: {
          'xds.route_name': { stringValue: 'aws_mcp' },
          'xds.route_metadata': { stringValue: metadata },
        },
      },
    },
  }
}

function processOnce(client: AnyClient, message: object): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const call = client.Process() as ClientDuplexStream<object, Record<string, unknown>>
    const responses: Record<string, unknown>[] = []
    call.on('data', (response: Record<string, unknown>) => responses.push(response))
    call.on('error', reject)
    call.on('end', () => resolve(responses))
    call.write(message)
    call.end()
  })
}

/** `set_headers` of a headers response as name → value. */
function headerMutation(response: Record<string, unknown> | undefined): Record<string, string> {
  const common = (response?.['request_headers'] as { response?: Record<string, unknown> })
    ?.response
  const mutation = common?.['header_mutation'] as
    | { set_headers?: { header: { key: string; raw_value?: Buffer; value?: string } }[] }
    | undefined
  return Object.fromEntries(
    (mutation?.set_headers ?? []).map(({ header }) => [
      header.key,
      header.raw_value?.toString() ?? header.value ?? '',
    ]),
  )
}
