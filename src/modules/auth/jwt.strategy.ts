import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { JWT_SECRET } from './auth.constants.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
    if (payload.typ !== 'access' || typeof payload.sub !== 'string' || !UUID.test(payload.sub)) return false;
    return { userId: payload.sub };
  }
}
