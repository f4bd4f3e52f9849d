import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/** The account a reset was asked for, and whether a token was stored for it (false: its hourly cap is reached). */
export interface ResetTokenIssue {
  userId: string;
  email: string;
  issued: boolean;
}

/**
 * `password_reset_tokens` (migration PasswordResetTokens): tokens by their SHA-256, times on the
 * database's clock. Every statement that changes a user's tokens runs after the user's row is
 * locked — by `issue` itself, or by the password reset or change whose transaction it joins — so
 * two requests of one user never interleave (a newer request always revokes the one before it), and
 * those locks are always taken in one order: the users row, then the tokens.
 */
@Injectable()
export class PasswordResetTokenRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * For the account of `email` (normalized), if there is one: stores a token (its hash), valid for
   * `ttlSeconds`, and revokes the account's unused ones — unless `maxPerHour` tokens were already
   * stored for it in the last hour, or `addressAllows` (asked in this transaction, under the user's
   * lock, once the account is found) says no (`issued: false`, nothing changes). null: no such account.
   */
  issue(
    email: string,
    tokenHash: string,
    ttlSeconds: number,
    maxPerHour: number,
    addressAllows: (manager: EntityManager) => Promise<boolean>,
  ): Promise<ResetTokenIssue | null> {
    return this.dataSource.transaction(async (manager) => {
      const users: Array<{ id: string; email: string }> = await manager.query('SELECT id, email FROM users WHERE email = $1 FOR NO KEY UPDATE', [email]);
      if (!users.length) return null;
      const [{ id: userId }] = users;
      const [{ recent }]: Array<{ recent: number }> = await manager.query(
        `SELECT count(*)::int AS recent FROM password_reset_tokens WHERE user_id = $1 AND created_at > now() - interval '1 hour'`,
        [userId],
      );
      if (recent >= maxPerHour || !(await addressAllows(manager))) return { userId, email: users[0].email, issued: false };
      await this.revokeUnused(manager, userId);
      await manager.query(
        'INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))',
        [userId, tokenHash, ttlSeconds],
      );
      return { userId, email: users[0].email, issued: true };
    });
  }

  /** The user of the token, if it still works (not used, not revoked, not expired); null otherwise. */
  async findUsable(tokenHash: string): Promise<string | null> {
    const rows: Array<{ user_id: string }> = await this.dataSource.query(
      'SELECT user_id FROM password_reset_tokens WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()',
      [tokenHash],
    );
    return rows[0]?.user_id ?? null;
  }

  /**
   * Marks the token used, in the caller's transaction (which holds the user's row), if it still works
   * and is `userId`'s. True when this call took it: of two uses of one token, the second waits for
   * the first's transaction and then finds it used.
   */
  async claim(manager: EntityManager, tokenHash: string, userId: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected]: [unknown[], number] = await manager.query(
      `UPDATE password_reset_tokens SET used_at = now()
        WHERE token_hash = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`,
      [tokenHash, userId],
    );
    return affected === 1;
  }

  /**
   * Revokes the user's tokens that still work, in the caller's transaction: a newer request, or a
   * password reset or change (a link sent before the password changed must not change it again).
   * Expired rows are left alone: nothing uses them, and the sweep deletes them without the user's lock.
   */
  async revokeUnused(manager: EntityManager, userId: string): Promise<void> {
    await manager.query(
      'UPDATE password_reset_tokens SET revoked_at = now() WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()',
      [userId],
    );
  }

  /** Deletes at most `batch` rows that expired more than a day ago (kept until then for the hourly cap and for support). */
  async sweep(batch: number): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM password_reset_tokens WHERE id IN (
         SELECT id FROM password_reset_tokens WHERE expires_at < now() - interval '1 day' LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [batch],
    );
  }
}
