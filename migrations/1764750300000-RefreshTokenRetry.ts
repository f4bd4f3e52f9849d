import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refresh-token retry grace: each token remembers the token it was rotated from (`parent_id`), so a
 * retried refresh can find and replace the successor it was sent; a replaced successor is marked
 * `superseded_at` (and revoked), and presenting it later counts as reuse.
 */
export class RefreshTokenRetry1764750300000 implements MigrationInterface {
  name = 'RefreshTokenRetry1764750300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE refresh_tokens ADD COLUMN parent_id uuid, ADD COLUMN superseded_at timestamptz');
    await q.query('CREATE INDEX refresh_tokens_parent_id_idx ON refresh_tokens (parent_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX refresh_tokens_parent_id_idx');
    await q.query('ALTER TABLE refresh_tokens DROP COLUMN superseded_at, DROP COLUMN parent_id');
  }
}
