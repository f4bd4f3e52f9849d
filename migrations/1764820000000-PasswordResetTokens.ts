import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `password_reset_tokens`: the single-use tokens that POST /auth/forgot-password emails and
 * POST /auth/reset-password takes (PasswordResetService). Only the SHA-256 of a token is stored, as
 * for refresh tokens: a copy of the table resets nobody's password. A token works while `used_at`
 * and `revoked_at` are NULL and `expires_at` (the database's clock) is ahead; a newer request of the
 * same user, and any password reset or change, revoke the ones still unused. Rows go with their user
 * (ON DELETE CASCADE) and are swept a day after they expire; until then they count the emails sent
 * to the account in the last hour (a cap against mail bombing).
 */
export class PasswordResetTokens1764820000000 implements MigrationInterface {
  name = 'PasswordResetTokens1764820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE password_reset_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        -- hex SHA-256 of the 32 random bytes emailed (base64url)
        token_hash char(64) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash)
      )`);
    // The user's tokens: revoking the unused ones, counting the recent ones.
    await q.query('CREATE INDEX password_reset_tokens_user_id_idx ON password_reset_tokens (user_id, created_at)');
    // The sweep of expired rows.
    await q.query('CREATE INDEX password_reset_tokens_expires_at_idx ON password_reset_tokens (expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE password_reset_tokens');
  }
}
