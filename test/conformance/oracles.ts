import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (this file sits in `<repo>/test/conformance`). */
const REPO = fileURLToPath(new URL('../../', import.meta.url))

/** `<repo>/../shared/oracles`, the independent test data the conformance checks read. */
export const ORACLES_DIR = join(REPO, '..', 'shared', 'oracles')

/**
 * Returns the path of one oracle folder or file below {@link ORACLES_DIR}.
 *
 * @throws Error naming the missing path, so a checkout without `../shared` fails clearly
 */
export function oraclePath(...parts: string[]): string {
  const path = join(ORACLES_DIR, ...parts)
  if (!existsSync(path)) {
    throw new Error(
      `conformance oracle missing: ${path} (the checks need ../shared/oracles beside the repo)`,
    )
  }
  return path
}
