import { assertNoArguments, CliError } from './cli-error.js';

describe('assertNoArguments', () => {
  it('lets a command with options only run', () => {
    expect(() => assertNoArguments('sync:cleanup', [])).not.toThrow();
  });

  it('refuses a stray word as a one-line CliError naming the command and the words', () => {
    const run = () => assertNoArguments('files:cleanup', ['30', 'days']);
    expect(run).toThrow(CliError);
    expect(run).toThrow('files:cleanup takes no arguments (got "30 days")');
  });

  // Found by mutation testing: refusing only two words or more failed no test (`--dry-run 30`, say).
  it('refuses a single stray word too', () => {
    expect(() => assertNoArguments('sync:cleanup', ['30'])).toThrow(new CliError('sync:cleanup takes no arguments (got "30")'));
  });
});

// README, Admin CLI: a failure prints one line and exits 1 (cli.ts returns a CliError's exitCode).
// Found by mutation testing: another default failed no test, the e2e specs only check "not 0".
describe('CliError', () => {
  it('exits 1 unless told otherwise', () => {
    expect(new CliError('No user with email a@b.example').exitCode).toBe(1);
  });
});
