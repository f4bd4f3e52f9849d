import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { KeyObject } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { VerifiedAccessToken } from '../../common/family-scope/family-scope.request.js';
import { isUuid } from '../../common/http/uuid.js';
import { JWT_SECRET } from './auth.constants.js';

interface AccessTokenPayload {
  sub: string;
  typ?: string;
  /** Issued at, whole seconds (jsonwebtoken sets it). */
  iat?: number;
  /** Issued at, ms since epoch (TokenService sets it; tokens issued before it existed lack it). */
  iat_ms?: number;
  /** The refresh token issued with this access token (TokenService sets it; older tokens lack it). */
  sid?: string;
  /** Expiry, whole seconds (jsonwebtoken sets it; passport-jwt has checked it). */
  exp?: number;
}

/**
 * Verifies the bearer access token (signature, expiry, type, subject) and nothing else. It must not
 * hold per-application state such as a database connection: passport keeps one strategy per name for
 * the whole process, so the last application created would serve every other one. The user behind
 * the token is loaded by JwtAuthGuard, which belongs to its own application.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(JWT_SECRET) secret: KeyObject) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret as unknown as string, algorithms: ['HS256'], ignoreExpiration: false });
  }

  validate(payload: AccessTokenPayload): VerifiedAccessToken | false {
    // `sub` goes into uuid columns: a validly signed token whose subject is not a UUID is refused here
    // (401), not by PostgreSQL further on (500).
    if (payload.typ !== 'access' || typeof payload.sub !== 'string' || !isUuid(payload.sub)) return false;
    // Likewise `sid` (a refresh_tokens id); absent only in tokens issued before the claim existed.
    if (payload.sid !== undefined && (typeof payload.sid !== 'string' || !isUuid(payload.sid))) return false;
    return {
      userId: payload.sub,
      issuedAt: typeof payload.iat === 'number' ? payload.iat : null,
      issuedAtMs: Number.isSafeInteger(payload.iat_ms) ? (payload.iat_ms as number) : null,
      refreshTokenId: payload.sid ?? null,
      expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
    };
  }
}
