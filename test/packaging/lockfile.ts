/**
 * The parts of an npm v3 lockfile (`package-lock.json`, and the hidden
 * `node_modules/.package-lock.json` npm writes after an install) the packaging tests read.
 */

/** One `packages` entry. */
export interface LockEntry {
  readonly version?: string
  /** Only needed by devDependencies: `npm ci --omit=dev` leaves it out. */
  readonly dev?: boolean
  readonly optional?: boolean
  readonly hasInstallScript?: boolean
}

/** A lockfile: install paths (`node_modules/<name>`, `''` for the root project) → entry. */
export interface Lockfile {
  readonly packages: Readonly<Record<string, LockEntry>>
}

/**
 * The install paths `npm ci --omit=dev` creates: every entry but the root and those marked
 * `dev`. (Optional platform packages would need a platform filter; the tests assert there are
 * none outside the dev set.)
 */
export function productionClosure(lockfile: Lockfile): string[] {
  return Object.entries(lockfile.packages)
    .filter(([path, entry]) => path !== '' && entry.dev !== true)
    .map(([path]) => path)
}
