import type { EntityManager } from 'typeorm';

/**
 * Serializes, per user, everything that creates or revokes their refresh tokens (sign-in, refresh,
 * logout, reuse, password reset or change, removal from a family) for the rest of the caller's transaction.
 * One lock per user instead of row locks taken in whatever order each path meets the rows: a
 * refresh retry locks its token and then its successor, a revocation the user's tokens in id
 * order, and the two deadlocked when the successor's id sorted first (found by review: a logout
 * answered 500 and left the sign-in live). An advisory lock on a hash of the user id: a collision
 * only makes two users wait for each other, briefly.
 */
export async function lockSignIns(manager: EntityManager, userId: string): Promise<void> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('hemoday-sign-ins:' || $1::text, 0))`, [userId]);
}

/**
 * Revokes every live refresh token of a user (password reset or change, removal from a family) or of one of
 * their sign-ins, a chain (logout, reuse); must run inside the caller's transaction. The one place
 * this SQL lives: TokenService and FamiliesService.removeMember both call it (a plain function over
 * the caller's manager, so the families module needs no Nest import of the auth module).
 *
 * A refresh in flight holds the user's lock (lockSignIns) until it commits, so the UPDATE — a new
 * statement under READ COMMITTED, after the lock — sees the token it issued; a refresh that starts
 * later waits for our lock and finds its token revoked.
 */
export async function revokeRefreshTokens(manager: EntityManager, by: { userId: string; chainId?: string }): Promise<void> {
  await lockSignIns(manager, by.userId);
  if (by.chainId) {
    await manager.query('UPDATE refresh_tokens SET revoked_at = now() WHERE chain_id = $1 AND user_id = $2 AND revoked_at IS NULL', [by.chainId, by.userId]);
  } else {
    await manager.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [by.userId]);
  }
}
