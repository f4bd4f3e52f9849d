import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `refresh_tokens.access_used_at`: when the access token issued with this refresh token was first
 * used. A pair counts as used once either of its tokens was: a retired refresh token presented
 * after that is reuse, not a retry of a lost response (see TokenService.rotate).
 */
export class RefreshTokenAccessUsed1764780100000 implements MigrationInterface {
  name = 'RefreshTokenAccessUsed1764780100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE refresh_tokens ADD COLUMN access_used_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE refresh_tokens DROP COLUMN access_used_at');
  }
}
