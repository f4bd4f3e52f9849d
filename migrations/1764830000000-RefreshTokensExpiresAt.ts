import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index on `refresh_tokens.expires_at` for the sweep that deletes rows a day after they expire
 * (TokenService). Every refresh adds a row and nothing removed them: the table grew by one row per
 * device every access-token lifetime, for ever (found by review).
 */
export class RefreshTokensExpiresAt1764830000000 implements MigrationInterface {
  name = 'RefreshTokensExpiresAt1764830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX refresh_tokens_expires_at_idx');
  }
}
