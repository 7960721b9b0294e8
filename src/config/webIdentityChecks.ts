import { parse as parseCel } from '@bufbuild/cel'
import { createLocalJWKSet } from 'jose'
import type { Config, WebIdentityConfig } from './schema.js'

/**
 * Checks of `web_identity` identities that the schema cannot express: the token source's
 * required companions, one key source for verification, a way to pick a role, CEL that parses,
 * and a JWKS file that can be read. Returns one message per problem.
 */
export function checkWebIdentities(config: Config, readFile: (path: string) => string): string[] {
  const problems: string[] = []
  for (const [name, identity] of Object.entries(config.identities)) {
    if (identity.kind !== 'web_identity') continue
    problems.push(...checkOne(`identities.${name}`, identity, readFile))
  }
  return problems
}

function checkOne(path: string, identity: WebIdentityConfig, readFile: (path: string) => string): string[] {
  const problems: string[] = []
  if (identity.token.from === 'header' && identity.token.header === undefined) {
    problems.push(`${path}.token.header: required when token.from is "header"`)
  }
  if (identity.token.from === 'jwt_authn' && identity.token.payload_key === undefined) {
    problems.push(`${path}.token.payload_key: required when token.from is "jwt_authn" (jwt_authn payload_in_metadata)`)
  }
  if (identity.roles.length === 0 && identity.fallback_role_arn === undefined) {
    problems.push(`${path}: give "roles", "fallback_role_arn" or both`)
  }
  identity.roles.forEach((rule, index) => {
    if (!('cel' in rule.match)) return
    try {
      parseCel(rule.match.cel)
    } catch (err) {
      problems.push(`${path}.roles.${index}.match.cel: ${(err as Error).message.split('\n')[0]}`)
    }
  })
  const verify = identity.verify
  if (verify !== undefined) {
    const sources = [verify.jwks_url, verify.jwks_file].filter((v) => v !== undefined).length
    if (sources !== 1) problems.push(`${path}.verify: give exactly one of "jwks_url" and "jwks_file"`)
    if (verify.jwks_file !== undefined) {
      const problem = checkJwksFile(verify.jwks_file, readFile)
      if (problem !== undefined) problems.push(`${path}.verify.jwks_file: ${problem}`)
    }
  }
  return problems
}

function checkJwksFile(file: string, readFile: (path: string) => string): string | undefined {
  let text: string
  try {
    text = readFile(file)
  } catch (err) {
    return `cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
  }
  let jwks: { keys?: unknown }
  try {
    jwks = JSON.parse(text) as { keys?: unknown }
  } catch {
    return `"${file}" is not JSON`
  }
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) return `"${file}" has no "keys" array`
  try {
    // The same check the server runs when it builds the key set.
    createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])
  } catch (err) {
    return `"${file}" is not a JSON Web Key Set (${(err as Error).message})`
  }
  return undefined
}
