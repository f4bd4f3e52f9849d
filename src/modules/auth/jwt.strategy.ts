import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { JWT_SECRET } from './auth.constants.js';
import { isUuid } from '../../common/http/uuid.js';

interface AccessTokenPayload {
  sub: string;
  typ?: string;
}

/** Verifies the bearer access token; membership is checked separately, against the database, by FamilyGuard. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(JWT_SECRET) secret: KeyObject) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret as unknown as string, algorithms: ['HS256'], ignoreExpiration: false });
  }

  validate(payload: AccessTokenPayload): AuthenticatedUser | false {
    // `sub` goes into uuid columns: a validly signed token whose subject is not a UUID is refused here
    // (401), not by PostgreSQL further on (500).
    if (payload.typ !== 'access' || typeof payload.sub !== 'string' || !isUuid(payload.sub)) return false;
    return { userId: payload.sub };
  }
}
