import { CliError } from '../cli-error.js';
import { assertResetAllowed, DEFAULT_SEED_PASSWORD, seedEmails, seedPassword } from './seed-options.js';
import { SeedResetService } from './seed-reset.service.js';

/** The rules `seed` applies to its options before connecting; test/e2e/cli.e2e-spec.ts runs a few through the process. */
describe('seed options', () => {
  const failure = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      return (error as Error).message;
    }
    throw new Error('expected a CliError');
  };

  describe('seedEmails', () => {
    it('numbers the accounts after the first, before the @', () => {
      expect(seedEmails('demo@hemoday.example', 3)).toEqual(['demo@hemoday.example', 'demo+2@hemoday.example', 'demo+3@hemoday.example']);
      expect(seedEmails('a"b@c"@x.example', 2)).toEqual(['a"b@c"@x.example', 'a"b@c"+2@x.example']);
    });

    it('an email without @ is left for the email rule to refuse, once', () => {
      expect(seedEmails('not-an-email', 1000)).toEqual(['not-an-email']);
      expect(failure(() => seedPassword(seedEmails('not-an-email', 1000), 'long enough', { isProduction: false }))).toMatch(/^--email: must be an email/);
    });
  });

  describe('seedPassword', () => {
    const one = seedEmails('demo@hemoday.example', 1);

    it('outside production: the documented demo password by default, or the one given', () => {
      expect(seedPassword(one, undefined, { isProduction: false })).toBe(DEFAULT_SEED_PASSWORD);
      expect(seedPassword(one, 'long enough', { isProduction: false })).toBe('long enough');
    });

    it('in production: a password is required, and not the documented one (README: --password-stdin)', () => {
      const message = '--password or --password-stdin is required when NODE_ENV=production, and not the documented demo password';
      expect(failure(() => seedPassword(one, undefined, { isProduction: true }))).toBe(message);
      expect(failure(() => seedPassword(one, DEFAULT_SEED_PASSWORD, { isProduction: true }))).toBe(message);
      expect(seedPassword(one, 'a real secret', { isProduction: true })).toBe('a real secret');
    });

    it('the register rules apply: a short password, a bad email', () => {
      expect(failure(() => seedPassword(one, 'short', { isProduction: false }))).toBe('--password: must be longer than or equal to 8 characters');
      expect(failure(() => seedPassword(['x@@y'], 'long enough', { isProduction: false }))).toMatch(/^--email: must be an email/);
    });

    it('the longest numbered email is checked too: one that fits alone is refused when --families would lengthen it past the limit', () => {
      const email = `${'x'.repeat(60)}@example.test`;
      expect(seedPassword(seedEmails(email, 1), 'long enough', { isProduction: false })).toBe('long enough');
      expect(failure(() => seedPassword(seedEmails(email, 1000), 'long enough', { isProduction: false }))).toMatch(/^--email: must be an email/);
    });
  });

  describe('assertResetAllowed', () => {
    it.each(['development', 'test'])('NODE_ENV=%s: allowed', (env) => {
      expect(() => assertResetAllowed(env)).not.toThrow();
    });

    it.each([
      ['production', '--reset deletes data and is refused when NODE_ENV=production (allowed: development, test)'],
      ['staging', '--reset deletes data and is refused when NODE_ENV=staging (allowed: development, test)'],
      // The configuration would default it to development: a server that forgot to set it is not one.
      [undefined, '--reset deletes data and is refused unless NODE_ENV is set to development or test (it is unset)'],
    ])('NODE_ENV=%s: refused', (env, message) => {
      expect(failure(() => assertResetAllowed(env))).toBe(message);
    });

    // The service that deletes checks it again itself, whoever calls it, before it reads anything (it
    // is given no database here: a read would fail with a TypeError, not this CliError). Found by
    // mutation testing: dropping that check failed no test, seed's own one coming first.
    it.each(['production', undefined])('SeedResetService.reset with NODE_ENV=%s: refused before any read', async (env) => {
      const service = new SeedResetService(null as never, null as never, null as never, null as never, null as never);
      const refused = await service.reset(['demo@hemoday.example'], env).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(CliError);
      expect((refused as Error).message).toMatch(/^--reset deletes data and is refused /);
    });
  });
});
