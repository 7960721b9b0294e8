import { parse as parseYamlScalar } from 'yaml'

/** Prefix of environment variables that override single settings, e.g. `MCP_SIGV4__SERVER__GRPC_ADDRESS`. */
export const ENV_OVERRIDE_PREFIX = 'MCP_SIGV4__'

/**
 * Applies `MCP_SIGV4__<SECTION>__<KEY>=<value>` variables to a raw (unvalidated) configuration
 * object. Path segments are separated by `__` and lower-cased; the value is read as a YAML scalar,
 * so `50051` is a number and `true` a boolean. Returns the names of the variables applied.
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const applied: string[] = []
  for (const name of Object.keys(env).sort()) {
    const value = env[name]
    if (!name.startsWith(ENV_OVERRIDE_PREFIX) || value === undefined) continue
    const path = name
      .slice(ENV_OVERRIDE_PREFIX.length)
      .split('__')
      .map((segment) => segment.toLowerCase())
    if (path.some((segment) => segment === '' || segment === '__proto__')) continue
    setPath(raw, path, readScalar(value))
    applied.push(name)
  }
  return applied
}

function readScalar(text: string): unknown {
  try {
    return parseYamlScalar(text) ?? text
  } catch {
    return text
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const segment of path.slice(0, -1)) {
    const next = node[segment]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      node[segment] = {}
    }
    node = node[segment] as Record<string, unknown>
  }
  node[path[path.length - 1] as string] = value
}
