/**
 * Replays a Dockerfile stage's file-system steps outside Docker: `WORKDIR`, `COPY` (from the
 * build context or from an earlier stage's root) and `RUN`, inside directories that stand in
 * for the image roots. Metadata instructions (USER, EXPOSE, …) are left to the caller.
 */
import { cpSync, mkdirSync } from 'node:fs'
import { join, posix } from 'node:path'
import { splitFlags, stageEnv, type Instruction, type Stage } from './dockerfile.js'

/** Where the replay reads and writes. */
export interface ReplayLayout {
  /** The build context (the repository root). */
  readonly context: string
  /** The directory standing for the stage's image root `/`. */
  readonly root: string
  /** Roots of earlier stages by name, for `COPY --from=<name>`. */
  readonly stageRoots: Readonly<Record<string, string>>
}

/** Runs one shell command of a `RUN` (already split at `&&`) in `cwd`. */
export type RunCommand = (argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv) =>
  Promise<void>

/** What the replay leaves behind: the working directory (host path) and the stage's ENV. */
export interface ReplayResult {
  readonly workdir: string
  readonly env: Readonly<Record<string, string>>
}

/** Instructions that only set image metadata; the replay skips them. */
const METADATA = new Set(['ENV', 'USER', 'EXPOSE', 'STOPSIGNAL', 'HEALTHCHECK', 'ENTRYPOINT',
  'CMD', 'LABEL'])

/**
 * Replays `stage` in order. Throws on an instruction or option it cannot reproduce faithfully
 * (ADD, ARG, COPY --chown/--chmod, …).
 */
export async function replayStage(
  stage: Stage,
  layout: ReplayLayout,
  run: RunCommand,
): Promise<ReplayResult> {
  const env = stageEnv(stage)
  let workdir = '/'
  for (const instruction of stage.instructions) {
    if (METADATA.has(instruction.keyword)) continue
    if (instruction.keyword === 'WORKDIR') {
      workdir = posix.resolve(workdir, instruction.args)
      mkdirSync(hostPath(layout.root, workdir), { recursive: true })
    } else if (instruction.keyword === 'COPY') {
      copy(instruction, workdir, layout)
    } else if (instruction.keyword === 'RUN') {
      for (const command of instruction.args.split('&&')) {
        await run(command.trim().split(/\s+/), hostPath(layout.root, workdir), env)
      }
    } else {
      throw unsupported(instruction, 'instruction')
    }
  }
  return { workdir: hostPath(layout.root, workdir), env }
}

function copy(instruction: Instruction, workdir: string, layout: ReplayLayout): void {
  const { flags, rest } = splitFlags(instruction.args)
  const unknown = Object.keys(flags).filter((flag) => flag !== 'from')
  if (unknown.length > 0) throw unsupported(instruction, `option --${unknown.join(', --')}`)
  const words = rest.split(/\s+/)
  const target = words.pop()
  if (target === undefined || words.length === 0) throw unsupported(instruction, 'form')
  const from = flags['from']
  const sourceRoot = from === undefined ? layout.context : layout.stageRoots[from]
  if (sourceRoot === undefined) throw unsupported(instruction, `stage ${from}`)
  const destination = posix.resolve(workdir, target)
  const intoDirectory = target.endsWith('/') || words.length > 1
  for (const source of words) {
    const sourcePath = from === undefined ? join(sourceRoot, source) : hostPath(sourceRoot, source)
    const destPath = intoDirectory
      ? hostPath(layout.root, posix.join(destination, posix.basename(source)))
      : hostPath(layout.root, destination)
    cpSync(sourcePath, destPath, { recursive: true, errorOnExist: true, force: false })
  }
}

/** The host path of an absolute image path under `root`. */
export function hostPath(root: string, imagePath: string): string {
  if (!imagePath.startsWith('/')) throw new Error(`not an absolute image path: ${imagePath}`)
  return join(root, ...imagePath.split('/').filter((segment) => segment !== ''))
}

function unsupported(instruction: Instruction, what: string): Error {
  return new Error(
    `cannot replay ${instruction.keyword} at Dockerfile line ${instruction.line} (${what}): ` +
      'teach test/packaging/runtimeSteps.ts the new form',
  )
}
