import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { InjectDataSource } from '@nestjs/typeorm';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { DataSource } from 'typeorm';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { isUuid } from '../../common/http/uuid.js';
import { JWT_SECRET } from './auth.constants.js';
import type { FamilyRole } from './entities/user.entity.js';

interface AccessTokenPayload {
  sub: string;
  typ?: string;
  /** Issued at, whole seconds (jsonwebtoken sets it). */
  iat?: number;
}

interface UserRow {
  family_id: string | null;
  role: FamilyRole | null;
  family_joined_version: string;
  tokens_valid_after: Date | null;
}

/**
 * Verifies the bearer access token, then reads the user from the database (one query per request):
 * a deleted user, or a token issued before the user's `tokens_valid_after` (a password reset), is
 * refused at once; the membership it loads is what FamilyGuard turns into the family scope.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(JWT_SECRET) secret: KeyObject,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret as unknown as string, algorithms: ['HS256'], ignoreExpiration: false });
  }

  async validate(payload: AccessTokenPayload): Promise<AuthenticatedUser | false> {
    // `sub` goes into uuid columns: a validly signed token whose subject is not a UUID is refused here
    // (401), not by PostgreSQL further on (500).
    if (payload.typ !== 'access' || typeof payload.sub !== 'string' || !isUuid(payload.sub)) return false;
    const [row]: UserRow[] = await this.dataSource.query(
      'SELECT family_id, role, family_joined_version, tokens_valid_after FROM users WHERE id = $1',
      [payload.sub],
    );
    if (!row) return false;
    // iat has whole seconds: a token from the same second as the reset is refused too (it may predate it).
    if (row.tokens_valid_after && !(typeof payload.iat === 'number' && payload.iat * 1000 > row.tokens_valid_after.getTime())) return false;
    return { userId: payload.sub, familyId: row.family_id, role: row.role, joinedVersion: Number(row.family_joined_version) };
  }
}
