import { SignerError } from '../errors.js'

/** The configuration failed validation; `problems` lists every problem found, one per entry. */
export class ConfigInvalidError extends SignerError {
  readonly problems: readonly string[]

  constructor(source: string, problems: readonly string[]) {
    super(
      'ERR_CONFIG_INVALID',
      `cannot load configuration from ${source}: ${problems.length} problem(s)\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    )
    this.problems = problems
  }
}
