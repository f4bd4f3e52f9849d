import type { Request } from 'express';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import type { FamilyScope } from './family-context.js';

/** What the JWT strategy vouches for: a signed, unexpired access token of this subject. */
export interface VerifiedAccessToken {
  userId: string;
  /** The token's `iat`, whole seconds; null when absent. */
  issuedAt: number | null;
  /** The token's `iat_ms`, ms since epoch; null when absent (tokens issued before the claim existed). */
  issuedAtMs: number | null;
  /**
   * The token's `sid`: the refresh token issued with it, whose sign-in must still be live; null for
   * tokens issued before the claim existed.
   */
  refreshTokenId: string | null;
  /** The token's `exp`, ms since epoch; null when absent. */
  expiresAtMs: number | null;
}

/**
 * The authenticated principal, as put on the request by JwtAuthGuard: the token's subject and
 * that user's membership, read from the database for this request (never from token claims).
 */
export interface AuthenticatedUser {
  userId: string;
  /** null: not a member of any family (removed, or never joined). */
  familyId: string | null;
  role: FamilyRole | null;
  /** Family sync_version when the user joined it. */
  joinedVersion: number;
  /** The sign-in (refresh-token chain) the access token belongs to; null for a token without `sid`. */
  signInId: string | null;
  /** When the access token expires (ms since epoch): what it opened (an event stream) ends then. Null: no `exp`. */
  accessExpiresAtMs: number | null;
}

export interface ScopedRequest extends Request {
  user?: AuthenticatedUser;
  familyScope?: FamilyScope;
}
