import { toRegisterDto } from '../account-input.js';
import { CliError } from '../cli-error.js';

/** The documented demo password: fine on a laptop, refused in production. */
export const DEFAULT_SEED_PASSWORD = 'hemoday-demo';
/** The name of every demo account. */
export const SEED_USER_NAME = 'Demo Parent';

/** `demo@x` for the first family, then `demo+2@x`, `demo+3@x`, … */
export function seedEmails(email: string, count: number): string[] {
  const at = email.lastIndexOf('@');
  if (at < 0) return [email]; // refused by seedPassword with the email rule's own message
  return Array.from({ length: count }, (_, i) => (i === 0 ? email : `${email.slice(0, at)}+${i + 1}${email.slice(at)}`));
}

/**
 * The password of new demo accounts, with every option of `seed` checked before anything touches
 * the database: the register rules on the first email and the longest (numbered) one, with the
 * password. It defaults to the documented demo one, except in production, where a public password
 * would open a real server's demo account to anyone.
 */
export function seedPassword(emails: string[], password: string | undefined, { isProduction }: { isProduction: boolean }): string {
  if (isProduction && (password === undefined || password === DEFAULT_SEED_PASSWORD)) {
    throw new CliError(`--password or --password-stdin is required when NODE_ENV=production, and not the documented demo password`);
  }
  const resolved = password ?? DEFAULT_SEED_PASSWORD;
  for (const email of new Set([emails[0], emails[emails.length - 1]])) toRegisterDto({ email, password: resolved, name: SEED_USER_NAME });
  return resolved;
}

/**
 * `seed --reset` deletes data: only where NODE_ENV is explicitly development or test. `rawNodeEnv` is
 * NODE_ENV as the process received it, not the configuration's value: that one defaults to
 * development, and a reset must never run on a server that merely forgot to set it.
 */
export function assertResetAllowed(rawNodeEnv: string | undefined): void {
  if (rawNodeEnv === 'development' || rawNodeEnv === 'test') return;
  throw new CliError(
    rawNodeEnv
      ? `--reset deletes data and is refused when NODE_ENV=${rawNodeEnv} (allowed: development, test)`
      : '--reset deletes data and is refused unless NODE_ENV is set to development or test (it is unset)',
  );
}
