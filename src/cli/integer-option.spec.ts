import { MAX_GRACE_HOURS, MAX_RETENTION_DAYS } from '../modules/documents/cleanup-limits.js';
import { CliError } from './cli-error.js';
import { parseIntegerOption } from './integer-option.js';
import { DEMO_MAX_MONTHS } from './seed/demo-history.js';

/** The rule of every whole-number option of the CLI; test/e2e/cli*.e2e-spec.ts run one through the process. */
describe('parseIntegerOption', () => {
  it.each([
    ['lots', '--months must be an integer from 1 to 84 (got "lots")'],
    ['240', '--months must be an integer from 1 to 84 (got "240")'], // the demo patient is 8, transfused since age 1
    ['0', '--months must be an integer from 1 to 84 (got "0")'],
    ['-3', '--months must be an integer from 1 to 84 (got "-3")'],
    ['2.5', '--months must be an integer from 1 to 84 (got "2.5")'],
    ['1e1', '--months must be an integer from 1 to 84 (got "1e1")'],
    ['0x10', '--months must be an integer from 1 to 84 (got "0x10")'],
    ['', '--months must be an integer from 1 to 84 (got "")'],
  ])('%j is refused, naming the option, its range and the value', (raw, message) => {
    expect(DEMO_MAX_MONTHS).toBe(84);
    expect(() => parseIntegerOption('--months', raw, 1, DEMO_MAX_MONTHS)).toThrow(new CliError(message));
    expect(() => parseIntegerOption('--months', raw, 1, DEMO_MAX_MONTHS)).toThrow(CliError); // one line, no stack (cli.ts)
  });

  it('the bounds themselves are taken', () => {
    expect([parseIntegerOption('--months', '1', 1, 84), parseIntegerOption('--months', '84', 1, 84), parseIntegerOption('--families', '100000', 1, 100_000)]).toEqual([1, 84, 100_000]);
    expect(() => parseIntegerOption('--families', '0', 1, 100_000)).toThrow(new CliError('--families must be an integer from 1 to 100000 (got "0")'));
  });

  // files:cleanup's overrides take 0 (no grace, no retention) up to the configuration's own maximum.
  it.each([
    ['--grace-hours', MAX_GRACE_HOURS],
    ['--retention-days', MAX_RETENTION_DAYS],
  ])('%s: 0 to %i; past it, and a value far past any number, refused', (flag, max) => {
    expect([parseIntegerOption(flag, '0', 0, max), parseIntegerOption(flag, String(max), 0, max)]).toEqual([0, max]);
    expect(() => parseIntegerOption(flag, String(max + 1), 0, max)).toThrow(new CliError(`${flag} must be an integer from 0 to ${max} (got "${max + 1}")`));
    expect(() => parseIntegerOption(flag, '99999999999999999999999', 0, max)).toThrow(new CliError(`${flag} must be an integer from 0 to ${max} (got "99999999999999999999999")`));
  });
});
