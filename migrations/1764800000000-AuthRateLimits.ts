import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `auth_rate_limits`: the counters of the login, register and join-family limits
 * (AuthRateLimitGuard), one row per bucket and window, shared by every instance of the app. They
 * were kept in memory per instance, which gave an attacker N× the budget behind N instances.
 * UNLOGGED: counters that live for a window are not worth WAL; a crash (or a fail-over: standbys
 * do not get unlogged tables) empties the table, which only starts every window afresh.
 */
export class AuthRateLimits1764800000000 implements MigrationInterface {
  name = 'AuthRateLimits1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE UNLOGGED TABLE auth_rate_limits (
        -- "<route>|net:<network>", "invite|net:<network>", "<route>|email:<sha-256>" or "<route>|user:<id>".
        key text PRIMARY KEY,
        count integer NOT NULL,
        -- The database's clock, so instances whose clocks differ agree on every window.
        window_ends_at timestamptz NOT NULL
      )`);
    // The sweep finds expired rows through it, however many live ones a flood left.
    await q.query('CREATE INDEX auth_rate_limits_window_ends_at ON auth_rate_limits (window_ends_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE auth_rate_limits');
  }
}
