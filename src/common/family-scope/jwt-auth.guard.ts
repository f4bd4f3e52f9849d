import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { prepared, runBatch } from '../../database/statement-batch.js';
import { unauthenticated } from '../errors/unauthenticated.js';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import type { AuthenticatedUser, ScopedRequest, VerifiedAccessToken } from './family-scope.request.js';

interface UserRow {
  family_id: string | null;
  role: FamilyRole | null;
  family_joined_version: string;
  tokens_valid_after: Date | null;
  /** The chain of the token's `sid` while that refresh token is the user's and not revoked; else null. */
  live_sign_in: string | null;
  /** This access token's pair has not been used yet (its first request). */
  first_use: boolean | null;
}

/**
 * The user behind a verified access token, read from the database (one query per request): null for
 * a deleted user, a token whose sign-in has ended (`sid` names a refresh token that was revoked:
 * logout, reuse, removal from the family, password reset or change), or a token without `sid`
 * issued before the user's `tokens_valid_after` (a password reset or change). The membership it
 * loads is what FamilyGuard turns into the family scope.
 *
 * A token with `sid` is not compared with `tokens_valid_after`: a reset revokes every refresh token
 * of the user, and a sign-in that checked the old password cannot commit after it (TokenService.issue
 * re-checks the hash under the user's sign-in lock), so its revoked sign-in is what refuses it. The
 * comparison would add nothing but the clocks of two instances: a sign-in on an instance whose clock
 * was behind the resetting one's was refused until that clock caught up (found by review).
 */
export async function loadAuthenticatedUser(dataSource: DataSource, token: VerifiedAccessToken): Promise<AuthenticatedUser | null> {
  // A rotation marks the old refresh token used, not revoked: the access token issued with it stays
  // good until it expires. Revoking a sign-in revokes every token of its chain, used ones included.
  // Prepared on each connection: every authenticated request runs it, and planning it cost more than running it.
  const runner = dataSource.createQueryRunner();
  let row: UserRow | undefined;
  try {
    [[row]] = (await runBatch(runner.manager, [
      prepared(
        `SELECT u.family_id, u.role, u.family_joined_version, u.tokens_valid_after, rt.chain_id AS live_sign_in,
                rt.id IS NOT NULL AND rt.access_used_at IS NULL AND rt.used_at IS NULL AS first_use
           FROM users u
           LEFT JOIN refresh_tokens rt ON rt.id = $2 AND rt.user_id = u.id AND rt.revoked_at IS NULL
          WHERE u.id = $1`,
        [token.userId, token.refreshTokenId],
      ),
    ])) as UserRow[][];
  } finally {
    await runner.release();
  }
  if (!row) return null;
  if (token.refreshTokenId !== null && row.live_sign_in === null) return null;
  if (token.refreshTokenId === null && row.tokens_valid_after && !issuedAfter(token, row.tokens_valid_after)) return null;
  // The pair's first use (once per access token lifetime, not per request): from now on the refresh
  // token it replaced is no longer accepted as a retry of a lost response (TokenService.rotate). A
  // retry that superseded this pair meanwhile revoked it: then this request is refused too.
  if (row.first_use && !(await markPairUsed(dataSource, token.refreshTokenId!))) return null;
  return {
    userId: token.userId,
    familyId: row.family_id,
    role: row.role,
    joinedVersion: Number(row.family_joined_version),
    signInId: row.live_sign_in,
    accessExpiresAtMs: token.expiresAtMs,
  };
}

/** Records the first use of an access token's pair; false when its refresh token was revoked meanwhile. */
async function markPairUsed(dataSource: DataSource, refreshTokenId: string): Promise<boolean> {
  // coalesce: a concurrent first request of the same pair may have set it already.
  const [, affected] = (await dataSource.query(
    'UPDATE refresh_tokens SET access_used_at = coalesce(access_used_at, now()) WHERE id = $1 AND revoked_at IS NULL',
    [refreshTokenId],
  )) as [unknown, number];
  return affected === 1;
}

/**
 * Whether a token without `sid` (issued before sign-ins had ids) was certainly issued after `instant`
 * (a password reset). With `iat_ms`, to the millisecond; with only the whole-second `iat`, it may
 * come from any moment of that second: it counts from the second's start, so one from the reset's
 * own second is refused.
 */
function issuedAfter(token: VerifiedAccessToken, instant: Date): boolean {
  const issuedAtMs = token.issuedAtMs ?? (token.issuedAt === null ? null : token.issuedAt * 1000);
  return issuedAtMs !== null && issuedAtMs > instant.getTime();
}

/**
 * Bearer authentication: passport-jwt verifies the token, then this guard — an instance of its own
 * application, with that application's database — loads the user, so a removed member or a reset
 * password takes effect on the next request, not when the token expires.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    await super.canActivate(context);
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const user = await loadAuthenticatedUser(this.dataSource, request.user as unknown as VerifiedAccessToken);
    if (!user) throw unauthenticated();
    request.user = user;
    return true;
  }
}
