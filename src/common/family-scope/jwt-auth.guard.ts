import { ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import type { AuthenticatedUser, ScopedRequest, VerifiedAccessToken } from './family-scope.request.js';

interface UserRow {
  family_id: string | null;
  role: FamilyRole | null;
  family_joined_version: string;
  tokens_valid_after: Date | null;
}

/**
 * The user behind a verified access token, read from the database (one query per request): a deleted
 * user, or a token issued before the user's `tokens_valid_after` (a password reset), gets null; the
 * membership it loads is what FamilyGuard turns into the family scope.
 */
export async function loadAuthenticatedUser(dataSource: DataSource, token: VerifiedAccessToken): Promise<AuthenticatedUser | null> {
  const [row]: UserRow[] = await dataSource.query(
    'SELECT family_id, role, family_joined_version, tokens_valid_after FROM users WHERE id = $1',
    [token.userId],
  );
  if (!row) return null;
  if (row.tokens_valid_after && !issuedAfter(token, row.tokens_valid_after)) return null;
  return { userId: token.userId, familyId: row.family_id, role: row.role, joinedVersion: Number(row.family_joined_version) };
}

/**
 * Whether the token was certainly issued after `instant` (a password reset; both from the app's
 * clock). Our tokens carry `iat_ms`, so a sign-in right after a reset works at once. A token with
 * only the whole-second `iat` (issued before `iat_ms` existed) may come from any moment of that
 * second: it counts from the second's start, so one from the reset's own second is refused.
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
    if (!user) throw new UnauthorizedException();
    request.user = user;
    return true;
  }
}
