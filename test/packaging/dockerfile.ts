/**
 * A small Dockerfile reader for the packaging tests: stages, instructions with line continuations
 * joined, exec-form arguments and `--flag=value` options. It covers the syntax our Dockerfile
 * uses (no heredocs, no escape directive, no ARG substitution) and throws on what it cannot read.
 */

/** One instruction, keyword upper-cased, arguments with continuations joined by one space. */
export interface Instruction {
  readonly keyword: string
  readonly args: string
  /** 1-based line of the instruction's first line. */
  readonly line: number
}

/** One `FROM` stage and its instructions (the `FROM` itself excluded). */
export interface Stage {
  readonly base: string
  readonly name: string | undefined
  readonly instructions: readonly Instruction[]
}

/** Splits a Dockerfile into stages. Comment lines (and parser directives) are skipped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: { base: string; name: string | undefined; instructions: Instruction[] }[] = []
  for (const instruction of joinInstructions(text)) {
    if (instruction.keyword === 'FROM') {
      const { rest } = splitFlags(instruction.args)
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)
      if (match === null) throw new Error(`cannot read FROM at line ${instruction.line}`)
      stages.push({ base: match[1] as string, name: match[2], instructions: [] })
      continue
    }
    const stage = stages[stages.length - 1]
    if (stage === undefined) throw new Error(`instruction before FROM at line ${instruction.line}`)
    stage.instructions.push(instruction)
  }
  return stages
}

function joinInstructions(text: string): Instruction[] {
  const lines = text.split(/\r?\n/)
  const out: Instruction[] = []
  let pending: { parts: string[]; line: number } | undefined
  lines.forEach((raw, index) => {
    const trimmed = raw.trim()
    // Docker drops comment lines even inside a continued instruction.
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) return
    const continued = trimmed.endsWith('\\')
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed
    pending ??= { parts: [], line: index + 1 }
    if (part !== '') pending.parts.push(part)
    if (continued) return
    const joined = pending.parts.join(' ')
    const space = joined.search(/\s/)
    const keyword = (space === -1 ? joined : joined.slice(0, space)).toUpperCase()
    const args = space === -1 ? '' : joined.slice(space + 1).trim()
    out.push({ keyword, args, line: pending.line })
    pending = undefined
  })
  if (pending !== undefined) throw new Error('Dockerfile ends inside a continued line')
  return out
}

/** Leading `--name=value` options, and the rest of the arguments. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {}
  let rest = args.trim()
  for (;;) {
    const match = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
    if (match === null) return { flags, rest }
    flags[match[1] as string] = match[2] ?? 'true'
    rest = rest.slice(match[0].length)
  }
}

/** The JSON array of an exec-form instruction (`["node", "dist/main.js"]`). */
export function execForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`not an exec-form array: ${args}`)
  }
  return parsed
}

/** The stage's instructions with `keyword`. */
export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword)
}

/** The stage's single instruction with `keyword`; throws on none or several. */
export function soleInstruction(stage: Stage, keyword: string): Instruction {
  const found = instructionsOf(stage, keyword)
  if (found.length !== 1) {
    const name = stage.name ?? stage.base
    throw new Error(`expected one ${keyword} in stage ${name}, found ${found.length}`)
  }
  return found[0] as Instruction
}

/** `ENV` pairs of a stage (`KEY=value` form only, no quoting). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args, line } of instructionsOf(stage, 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new Error(`cannot read ENV at line ${line}: use KEY=value`)
      env[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
  }
  return env
}

/** The `RUN` shell commands of a stage, split at `&&`. */
export function runCommands(stage: Stage): string[][] {
  return instructionsOf(stage, 'RUN').flatMap(({ args }) =>
    args.split('&&').map((command) => command.trim().split(/\s+/)),
  )
}
