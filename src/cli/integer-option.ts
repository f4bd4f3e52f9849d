import { CliError } from './cli-error.js';

/**
 * The one parser of the CLI's whole-number options (seed's --months and --families, files:cleanup's
 * --grace-hours and --retention-days, sync:cleanup's --idle-days), for their nest-commander @Option
 * handlers: decimal digits within the option's range, or a one-line CliError naming the option, its
 * range and the value given. Commander calls it as it parses the command line, before the command
 * connects to anything.
 */
export function parseIntegerOption(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new CliError(`${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}
