import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspect } from 'node:util'
import {
  credentials,
  status,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type RunningApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/index.js'
import { isSignerError } from '../../src/errors.js'
import { createLogger } from '../../src/logging/logger.js'
import { grpcTlsMode, type GrpcTlsSettings } from '../../src/protocol/grpcCredentials.js'
import { createGrpcServer } from '../../src/protocol/grpcServer.js'
import { HEALTH_PROTO, loadProtoPackage } from '../../src/protocol/protoLoader.js'
import { createTestPki, type TestPki } from './testPki.js'

type HealthClient = Client & {
  Check(
    request: { service: string },
    options: { deadline: number },
    callback: (err: ServiceError | null, response?: { status: string }) => void,
  ): void
}

const pkg = loadProtoPackage([HEALTH_PROTO]) as unknown as {
  grpc: {
    health: {
      v1: {
        Health: new (address: string, creds: ChannelCredentials, options: object) => HealthClient
      }
    }
  }
}

type CheckResult = { status: string } | { code: number }

/** One health Check on a fresh channel; resolves with the response or the error code. */
async function check(port: number, creds: ChannelCredentials): Promise<CheckResult> {
  // Dial 127.0.0.1 but verify (and send SNI) as `localhost`: Node warns on IP-address SNI.
  const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, creds, {
    'grpc.ssl_target_name_override': 'localhost',
  })
  try {
    return await new Promise<CheckResult>((resolve) => {
      client.Check({ service: '' }, { deadline: Date.now() + 5000 }, (err, response) =>
        resolve(err !== null ? { code: err.code } : { status: response?.status ?? '' }),
      )
    })
  } finally {
    client.close()
  }
}

function configWith(tls: GrpcTlsSettings) {
  const server = { grpc_address: '127.0.0.1:0', http_address: '127.0.0.1:0', tls }
  // JSON is YAML flow syntax, which keeps the temp-dir paths quoted.
  const text = `server: ${JSON.stringify(server)}\nlogging: { level: silent }\n`
  return loadConfig({ text }).config
}

const start = (tls: GrpcTlsSettings) =>
  startApp({ config: configWith(tls), logger: createLogger('silent') })

/** The base64 lines of a PEM file: what must never show up in an error. */
function pemBody(pem: Buffer): string[] {
  return pem
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('-----'))
}

let pki: TestPki
beforeAll(() => {
  pki = createTestPki()
})
afterAll(() => pki?.remove())

describe('gRPC listener with server TLS only', () => {
  let app: RunningApp
  beforeAll(async () => {
    app = await start({ cert_file: pki.serverCert, key_file: pki.serverKey })
  })
  afterAll(async () => {
    await app?.stop(200)
  })

  it('serves a client that trusts the test CA', async () => {
    const creds = credentials.createSsl(pki.read(pki.caCert))
    expect(await check(app.grpcPort, creds)).toEqual({ status: 'SERVING' })
  })

  it('also serves a client that presents a certificate it does not ask for', async () => {
    const creds = credentials.createSsl(
      pki.read(pki.caCert),
      pki.read(pki.strangerKey),
      pki.read(pki.strangerCert),
    )
    expect(await check(app.grpcPort, creds)).toEqual({ status: 'SERVING' })
  })

  it('refuses a plaintext client', async () => {
    expect(await check(app.grpcPort, credentials.createInsecure())).toEqual({
      code: status.UNAVAILABLE,
    })
  })

  it('presents the configured certificate: a client trusting only another CA fails', async () => {
    const otherCa = pki.read(join(pki.dir, 'other-ca.crt'))
    expect(await check(app.grpcPort, credentials.createSsl(otherCa))).toEqual({
      code: status.UNAVAILABLE,
    })
  })
})

describe('gRPC listener with mutual TLS', () => {
  let app: RunningApp
  beforeAll(async () => {
    app = await start({
      cert_file: pki.serverCert,
      key_file: pki.serverKey,
      client_ca_file: pki.caCert,
    })
  })
  afterAll(async () => {
    await app?.stop(200)
  })

  it('serves a client whose certificate chains to client_ca_file', async () => {
    const creds = credentials.createSsl(
      pki.read(pki.caCert),
      pki.read(pki.clientKey),
      pki.read(pki.clientCert),
    )
    expect(await check(app.grpcPort, creds)).toEqual({ status: 'SERVING' })
  })

  it('refuses a client whose certificate comes from another CA', async () => {
    const creds = credentials.createSsl(
      pki.read(pki.caCert),
      pki.read(pki.strangerKey),
      pki.read(pki.strangerCert),
    )
    expect(await check(app.grpcPort, creds)).toEqual({ code: status.UNAVAILABLE })
  })

  it('refuses a client without a certificate', async () => {
    const creds = credentials.createSsl(pki.read(pki.caCert))
    expect(await check(app.grpcPort, creds)).toEqual({ code: status.UNAVAILABLE })
  })

  it('refuses a plaintext client', async () => {
    expect(await check(app.grpcPort, credentials.createInsecure())).toEqual({
      code: status.UNAVAILABLE,
    })
  })
})

describe('gRPC listener with client_ca_file and require_client_cert: false', () => {
  it('is plain TLS: a client without a certificate is served', async () => {
    const app = await start({
      cert_file: pki.serverCert,
      key_file: pki.serverKey,
      client_ca_file: pki.caCert,
      require_client_cert: false,
    })
    try {
      const creds = credentials.createSsl(pki.read(pki.caCert))
      expect(await check(app.grpcPort, creds)).toEqual({ status: 'SERVING' })
    } finally {
      await app.stop(200)
    }
  })
})

describe('TLS mode reported by the gRPC server parts', () => {
  let parts: ReturnType<typeof createGrpcServer> | undefined
  afterEach(() => {
    parts?.server.forceShutdown()
    parts = undefined
  })

  it('is off without tls and before listen', async () => {
    parts = createGrpcServer(() => undefined)
    expect(parts.tlsMode).toBe('off')
    expect(await parts.listen('127.0.0.1:0')).toBeGreaterThan(0)
    expect(parts.tlsMode).toBe('off')
  })

  it('is tls with a server certificate only', async () => {
    parts = createGrpcServer(() => undefined)
    await parts.listen('127.0.0.1:0', { cert_file: pki.serverCert, key_file: pki.serverKey })
    expect(parts.tlsMode).toBe('tls')
  })

  it('is mtls with client_ca_file', async () => {
    parts = createGrpcServer(() => undefined)
    const tls = { cert_file: pki.serverCert, key_file: pki.serverKey, client_ca_file: pki.caCert }
    await parts.listen('127.0.0.1:0', tls)
    expect(parts.tlsMode).toBe('mtls')
  })

  it('follows require_client_cert (grpcTlsMode)', () => {
    const files = { cert_file: 'c', key_file: 'k' }
    expect(grpcTlsMode(undefined)).toBe('off')
    expect(grpcTlsMode(files)).toBe('tls')
    expect(grpcTlsMode({ ...files, client_ca_file: 'ca' })).toBe('mtls')
    expect(grpcTlsMode({ ...files, client_ca_file: 'ca', require_client_cert: false })).toBe('tls')
    expect(grpcTlsMode({ ...files, require_client_cert: true })).toBe('mtls')
  })
})

describe('TLS start-up failures', () => {
  /** Starts with `tls` and returns the rejection, checking it leaks no PEM content. */
  async function startupError(tls: GrpcTlsSettings): Promise<Error> {
    const err = await start(tls).then(
      () => {
        throw new Error('start-up unexpectedly succeeded')
      },
      (e: unknown) => e as Error,
    )
    expect(isSignerError(err, 'ERR_CONFIG_INVALID')).toBe(true)
    // inspect() includes the cause chain and the stack.
    const rendered = inspect(err, { depth: 10 })
    expect(rendered).not.toMatch(/BEGIN|PRIVATE KEY/)
    for (const path of [pki.serverKey, pki.clientKey, pki.serverCert, pki.caCert]) {
      for (const line of pemBody(pki.read(path))) expect(rendered).not.toContain(line)
    }
    return err
  }

  it('rejects a missing key file, naming server.tls.key_file and the path', async () => {
    const missing = join(pki.dir, 'does-not-exist.key')
    const err = await startupError({ cert_file: pki.serverCert, key_file: missing })
    expect(err.message).toBe(
      `cannot load server.tls.key_file: ${missing}: cannot read the file (ENOENT)`,
    )
  })

  it('rejects a key file that is not a PEM key without echoing its content', async () => {
    const bogus = join(pki.dir, 'bogus.key')
    writeFileSync(bogus, 'hunter2-super-secret-value\n')
    const err = await startupError({ cert_file: pki.serverCert, key_file: bogus })
    expect(err.message).toBe(`cannot load server.tls.key_file: ${bogus}: no PEM private key found`)
    expect(inspect(err)).not.toContain('hunter2')
  })

  it('rejects a key that does not belong to the certificate', async () => {
    const err = await startupError({ cert_file: pki.serverCert, key_file: pki.clientKey })
    expect(err.message).toBe(
      `cannot load server.tls.key_file: ${pki.clientKey}: ` +
        'the key does not belong to the certificate of server.tls.cert_file',
    )
  })

  it('rejects a certificate file holding a key instead of a certificate', async () => {
    const err = await startupError({ cert_file: pki.serverKey, key_file: pki.serverKey })
    expect(err.message).toBe(
      `cannot load server.tls.cert_file: ${pki.serverKey}: no PEM certificate found`,
    )
  })

  it('rejects a missing client CA file, naming server.tls.client_ca_file', async () => {
    const missing = join(pki.dir, 'no-ca.crt')
    const err = await startupError({
      cert_file: pki.serverCert,
      key_file: pki.serverKey,
      client_ca_file: missing,
    })
    expect(err.message).toBe(
      `cannot load server.tls.client_ca_file: ${missing}: cannot read the file (ENOENT)`,
    )
  })

  it('rejects require_client_cert without client_ca_file (no public-root fallback)', async () => {
    const err = await startupError({
      cert_file: pki.serverCert,
      key_file: pki.serverKey,
      require_client_cert: true,
    })
    expect(err.message).toBe(
      'cannot load server.tls.require_client_cert: needs server.tls.client_ca_file',
    )
  })
})
