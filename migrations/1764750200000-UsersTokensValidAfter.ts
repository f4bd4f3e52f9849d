import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `users.tokens_valid_after`: access tokens issued at or before it are refused (set by a password
 * reset), so a reset ends every session at once instead of when the last access token expires.
 */
export class UsersTokensValidAfter1764750200000 implements MigrationInterface {
  name = 'UsersTokensValidAfter1764750200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE users DROP COLUMN tokens_valid_after');
  }
}
