import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A throwaway PKI in a temporary directory: file paths, plus the PEM bytes for clients. */
export interface TestPki {
  readonly dir: string
  readonly caCert: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
  /** A client certificate signed by a second, unrelated CA. */
  readonly strangerCert: string
  readonly strangerKey: string
  /** Reads one of the files above. */
  read(path: string): Buffer
  /** Removes the directory. */
  remove(): void
}

// Minimal OpenSSL config so the result does not depend on the system openssl.cnf.
const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`

interface KeyPair {
  readonly cert: string
  readonly key: string
}

function openssl(...args: string[]): void {
  execFileSync('/usr/bin/openssl', args, { stdio: 'pipe' })
}

function ecKey(path: string): string {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path)
  return path
}

function selfSignedCa(dir: string, cnf: string, name: string, subject: string): KeyPair {
  const key = ecKey(join(dir, `${name}.key`))
  const cert = join(dir, `${name}.crt`)
  openssl('req', '-x509', '-new', '-key', key, '-subj', subject, '-days', '1',
    '-config', cnf, '-extensions', 'ca', '-out', cert)
  return { cert, key }
}

/** Issues a leaf certificate with the `extensions` section of {@link OPENSSL_CNF}. */
function issue(
  dir: string,
  cnf: string,
  name: string,
  issuer: KeyPair,
  extensions: string,
): KeyPair {
  const key = ecKey(join(dir, `${name}.key`))
  const csr = join(dir, `${name}.csr`)
  const cert = join(dir, `${name}.crt`)
  openssl('req', '-new', '-key', key, '-subj', `/CN=${name}`, '-config', cnf, '-out', csr)
  openssl('x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1',
    '-extfile', cnf, '-extensions', extensions, '-out', cert)
  return { cert, key }
}

/**
 * Generates, with the `openssl` CLI and EC P-256 keys (fast): a CA, a server certificate for
 * `localhost`/127.0.0.1, a client certificate from that CA, and a client certificate from
 * another CA (`other-ca.crt` in the directory).
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-sigv4-tls-'))
  const cnf = join(dir, 'openssl.cnf')
  writeFileSync(cnf, OPENSSL_CNF)
  const testCa = selfSignedCa(dir, cnf, 'ca', '/CN=mcp-sigv4 test CA')
  const otherCa = selfSignedCa(dir, cnf, 'other-ca', '/CN=mcp-sigv4 other CA')
  const server = issue(dir, cnf, 'localhost', testCa, 'server')
  const client = issue(dir, cnf, 'envoy', testCa, 'client')
  const stranger = issue(dir, cnf, 'stranger', otherCa, 'client')
  return {
    dir,
    caCert: testCa.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
