import type { WebIdentityConfig } from '../../config/index.js'
import { SignerError } from '../../errors.js'
import type { CallerContext } from '../callerContext.js'

/** Tokens longer than this are rejected before any parsing (JWTs are a few KiB at most). */
export const MAX_TOKEN_BYTES = 16 * 1024

/** The caller's token, and the jwt_authn payload when Envoy verified it already. */
export interface ExtractedToken {
  readonly token: string
  /** Header the token came from (removed before forwarding when it is not `authorization`). */
  readonly header: string
  /** Claims from Envoy's jwt_authn filter (`payload_in_metadata`), when configured. */
  readonly envoyClaims?: Readonly<Record<string, unknown>>
}

/** The header a token source reads. */
export function tokenHeaderOf(config: WebIdentityConfig['token']): string {
  return config.from === 'authorization' ? 'authorization' : (config.header ?? 'authorization')
}

/** Reads the caller's token as configured; `ERR_TOKEN_MISSING` / `ERR_TOKEN_INVALID` otherwise. */
export function extractToken(config: WebIdentityConfig['token'], caller: CallerContext): ExtractedToken {
  const header = tokenHeaderOf(config)
  const raw = caller.header(header)
  if (raw === undefined || raw.trim() === '') {
    throw new SignerError('ERR_TOKEN_MISSING', `cannot authenticate the caller: no token in the ${header} header`)
  }
  const token = bearerValue(raw, header === 'authorization')
  if (token === undefined) {
    throw new SignerError('ERR_TOKEN_MISSING', `cannot authenticate the caller: the ${header} header is not a Bearer token`)
  }
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) {
    throw new SignerError('ERR_TOKEN_INVALID', 'cannot authenticate the caller: the token is not a compact JWT')
  }
  if (config.from !== 'jwt_authn') return { token, header }
  return { token, header, envoyClaims: jwtAuthnPayload(config, caller) }
}

/** `Bearer <token>` (scheme case-insensitive); other headers may also carry the bare token. */
function bearerValue(raw: string, schemeRequired: boolean): string | undefined {
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(raw)
  if (match !== null) return match[1]
  if (schemeRequired || /\s/.test(raw.trim())) return undefined
  return raw.trim()
}

function jwtAuthnPayload(config: WebIdentityConfig['token'], caller: CallerContext): Record<string, unknown> {
  const namespace = caller.metadata[config.metadata_namespace]
  const payload =
    typeof namespace === 'object' && namespace !== null
      ? (namespace as Record<string, unknown>)[config.payload_key ?? '']
      : undefined
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new SignerError(
      'ERR_TOKEN_MISSING',
      `cannot authenticate the caller: no jwt_authn payload "${config.payload_key}" in metadata namespace ` +
        `"${config.metadata_namespace}" (forward it with metadata_options.forwarding_namespaces)`,
    )
  }
  return payload as Record<string, unknown>
}
