/**
 * An expected failure of a CLI command (bad input, missing record, refused
 * action): printed as one line, exit code 1, never with a stack trace.
 */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** Commander already printed its own message (bad option, unknown command, help): only the exit code is left. */
export class CliUsageError extends Error {
  constructor(readonly exitCode: number) {
    super('usage');
    this.name = 'CliUsageError';
  }
}

/** For a command that takes options only: a stray word (a misspelt option's value, say) is refused, not ignored. */
export function assertNoArguments(command: string, args: readonly string[]): void {
  if (args.length) throw new CliError(`${command} takes no arguments (got "${args.join(' ')}")`);
}
