import type { EntityManager } from 'typeorm';

/**
 * Revokes every live refresh token of a user (password reset, removal from a family) or of one
 * sign-in's chain (logout, reuse); must run inside the caller's transaction. The one place this SQL
 * lives: TokenService and FamiliesService.removeMember both call it (a plain function over the
 * caller's manager, so the families module needs no Nest import of the auth module).
 *
 * A plain UPDATE would miss the token that a refresh in flight is inserting (it is not in the
 * UPDATE's snapshot), so that refresh would hand out a token that survives the sign-out, removal or
 * password reset. So first lock the live tokens, which waits for such a refresh to commit; the
 * UPDATE, a new statement under READ COMMITTED, then sees the token it issued. A refresh that starts
 * later waits for our lock and finds its token revoked.
 */
export async function revokeRefreshTokens(manager: EntityManager, by: { userId: string } | { chainId: string }): Promise<void> {
  const [column, value] = 'userId' in by ? ['user_id', by.userId] : ['chain_id', by.chainId];
  await manager.query(`SELECT id FROM refresh_tokens WHERE ${column} = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE`, [value]);
  await manager.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE ${column} = $1 AND revoked_at IS NULL`, [value]);
}
