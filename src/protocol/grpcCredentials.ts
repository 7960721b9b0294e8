import { readFileSync } from 'node:fs'
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import { ServerCredentials } from '@grpc/grpc-js'
import { SignerError } from '../errors.js'

/**
 * TLS settings of the gRPC listener, shaped like the `server.tls` configuration block
 * (declared here so the protocol layer does not depend on the config module).
 */
export interface GrpcTlsSettings {
  /** PEM certificate chain the server presents, leaf first. */
  readonly cert_file: string
  /** PEM private key of the leaf certificate (unencrypted). */
  readonly key_file: string
  /** PEM bundle of the CAs client certificates must chain to. */
  readonly client_ca_file?: string | undefined
  /** Refuse clients without a valid certificate; defaults to whether `client_ca_file` is set. */
  readonly require_client_cert?: boolean | undefined
}

/**
 * How the gRPC listener is secured: `off` (plaintext), `tls` (server certificate only) or
 * `mtls` (clients must present a certificate that chains to `client_ca_file`).
 */
export type GrpcTlsMode = 'off' | 'tls' | 'mtls'

/** The credentials to bind the gRPC listener with, and the mode they implement. */
export interface GrpcListenerCredentials {
  readonly credentials: ServerCredentials
  readonly mode: GrpcTlsMode
}

/** Reads a file as bytes; injectable for tests. */
export type ReadFileBytes = (path: string) => Buffer

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * The mode `settings` result in, without reading any file.
 *
 * grpc-js' `createSsl` only requests a client certificate when it also requires one, so a
 * `client_ca_file` with `require_client_cert: false` is plain server-side TLS.
 */
export function grpcTlsMode(settings: GrpcTlsSettings | undefined): GrpcTlsMode {
  if (settings === undefined) return 'off'
  return requireClientCert(settings) ? 'mtls' : 'tls'
}

/**
 * Builds the listener credentials: insecure without `settings`, otherwise
 * `ServerCredentials.createSsl` from the files, which are read and checked now (start-up).
 *
 * @throws SignerError `ERR_CONFIG_INVALID` naming the setting and the file when a file is
 *   missing, unreadable or not valid PEM, when the key does not match the certificate, or when
 *   client certificates are required without `client_ca_file`. Messages never contain file
 *   contents.
 */
export function createGrpcServerCredentials(
  settings: GrpcTlsSettings | undefined,
  readFile: ReadFileBytes = (path) => readFileSync(path),
): GrpcListenerCredentials {
  if (settings === undefined) {
    return { credentials: ServerCredentials.createInsecure(), mode: 'off' }
  }
  const mode = grpcTlsMode(settings)
  if (mode === 'mtls' && settings.client_ca_file === undefined) {
    // Without a CA bundle grpc-js falls back to the public root store, which would admit any
    // client holding a publicly issued certificate.
    throw configError('server.tls.require_client_cert', 'needs server.tls.client_ca_file')
  }
  const certChain = readPem('server.tls.cert_file', settings.cert_file, readFile)
  const privateKey = readPem('server.tls.key_file', settings.key_file, readFile)
  const leaf = parseCertificates('server.tls.cert_file', settings.cert_file, certChain)[0]
  const key = parsePrivateKey(settings.key_file, privateKey)
  if (!leaf.checkPrivateKey(key)) {
    throw configError(
      'server.tls.key_file',
      `${settings.key_file}: the key does not belong to the certificate of server.tls.cert_file`,
    )
  }
  const rootCerts = readClientCa(settings.client_ca_file, readFile)
  checkSecureContext(certChain, privateKey, rootCerts)
  const credentials = ServerCredentials.createSsl(
    rootCerts,
    [{ cert_chain: certChain, private_key: privateKey }],
    mode === 'mtls',
  )
  return { credentials, mode }
}

function requireClientCert(settings: GrpcTlsSettings): boolean {
  return settings.require_client_cert ?? settings.client_ca_file !== undefined
}

function readClientCa(path: string | undefined, readFile: ReadFileBytes): Buffer | null {
  if (path === undefined) return null
  const bundle = readPem('server.tls.client_ca_file', path, readFile)
  parseCertificates('server.tls.client_ca_file', path, bundle)
  return bundle
}

function readPem(setting: string, path: string, readFile: ReadFileBytes): Buffer {
  try {
    return readFile(path)
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable'
    throw configError(setting, `${path}: cannot read the file (${reason})`, err)
  }
}

/** Parses every PEM certificate of `pem`; at least one must be present. */
function parseCertificates(
  setting: string,
  path: string,
  pem: Buffer,
): [X509Certificate, ...X509Certificate[]] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? []
  const first = blocks[0]
  if (first === undefined) throw configError(setting, `${path}: no PEM certificate found`)
  try {
    const rest = blocks.slice(1).map((block) => new X509Certificate(block))
    return [new X509Certificate(first), ...rest]
  } catch (err) {
    throw configError(setting, `${path}: not a valid PEM certificate (${cryptoReason(err)})`)
  }
}

function parsePrivateKey(path: string, pem: Buffer): KeyObject {
  if (!pem.toString('latin1').includes('-----BEGIN ')) {
    throw configError('server.tls.key_file', `${path}: no PEM private key found`)
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    // Encrypted keys land here too: there is no passphrase setting.
    const reason = cryptoReason(err)
    throw configError('server.tls.key_file', `${path}: not a valid unencrypted PEM key (${reason})`)
  }
}

/** Last check with the TLS stack itself, so a bad combination fails start-up, not handshakes. */
function checkSecureContext(cert: Buffer, key: Buffer, ca: Buffer | null): void {
  try {
    createSecureContext({ cert, key, ...(ca !== null ? { ca } : {}) })
  } catch (err) {
    throw configError('server.tls', `the TLS stack rejects the files (${cryptoReason(err)})`)
  }
}

/** Only the error code: OpenSSL messages are safe today, but nothing from the input is echoed. */
function cryptoReason(err: unknown): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : 'unrecognised content'
}

function configError(setting: string, detail: string, cause?: unknown): SignerError {
  return new SignerError(
    'ERR_CONFIG_INVALID',
    `cannot load ${setting}: ${detail}`,
    cause !== undefined ? { cause } : undefined,
  )
}
