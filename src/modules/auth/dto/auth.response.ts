import { ApiProperty } from '@nestjs/swagger';
import type { UserEntity } from '../entities/user.entity.js';
import { FamilySummaryResponse } from '../../families/dto/family.response.js';
import type { TokenPair } from '../token.service.js';

export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  /** Normalized: trimmed, Unicode NFC, lower-case, a dotted i (İ) folded to i. */
  email: string;
  /** Display name given at registration; null when none was given. @example Leila */
  name: string | null;
  /** null after being removed from a family, until joining another. */
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  family_id: string | null;
  /** The user's role in their family (the owner manages members and the invite code); null without a family. @example owner */
  role: 'owner' | 'member' | null;

  static from(user: UserEntity): UserResponse {
    return { id: user.id, email: user.email, name: user.name, family_id: user.familyId, role: user.role };
  }
}

export class AuthResponse {
  /**
   * Short-lived JWT (HS256, JWT_ACCESS_TTL, 15 min by default) for every other request, as
   * `Authorization: Bearer <access_token>`. @example eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjBjMmE0ZS04YjFkLTRjNTUtOWYwYS0yYjdlNmYxZDljMTAiLCJ0eXAiOiJhY2Nlc3MifQ.c2lnbmF0dXJl
   */
  access_token: string;
  /**
   * Long-lived (JWT_REFRESH_TTL, 60 days by default), opaque and single-use: exchange it at
   * /auth/refresh for a new pair; keep it in the device's secure storage.
   * @example 0b6f1c2e-5d4a-4f3b-9a8e-7c6d5e4f3a2b.5wLgjLPH3Af3EddeWw5g5tz0SI0IJpcZPAJOG7rTcPI
   */
  refresh_token: string;
  /** @example Bearer */
  token_type: 'Bearer';
  /** Access token lifetime, seconds. @example 900 */
  @ApiProperty({ type: 'integer' })
  expires_in: number;
  user: UserResponse;

  static from(tokens: TokenPair, user: UserEntity): AuthResponse {
    return {
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      token_type: 'Bearer',
      expires_in: tokens.expiresIn,
      user: UserResponse.from(user),
    };
  }
}

export class TokenResponse {
  /** The new short-lived access token (use it as `Authorization: Bearer …`). @example eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIzZjBjMmE0ZS04YjFkLTRjNTUtOWYwYS0yYjdlNmYxZDljMTAiLCJ0eXAiOiJhY2Nlc3MifQ.c2lnbmF0dXJl */
  access_token: string;
  /** The next refresh token; the one just presented is retired (single use). @example 0b6f1c2e-5d4a-4f3b-9a8e-7c6d5e4f3a2b.5wLgjLPH3Af3EddeWw5g5tz0SI0IJpcZPAJOG7rTcPI */
  refresh_token: string;
  /** @example Bearer */
  token_type: 'Bearer';
  /** @example 900 */
  @ApiProperty({ type: 'integer' })
  expires_in: number;

  static from(tokens: TokenPair): TokenResponse {
    return { access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'Bearer', expires_in: tokens.expiresIn };
  }
}

export class MeResponse {
  user: UserResponse;
  family: FamilySummaryResponse | null;
}

export class ForgotPasswordResponse {
  /** The same words for every request, whether or not an account has the email. */
  @ApiProperty({ example: 'If an account uses this email, a link to reset its password is on its way. It works once, for 30 minutes.' })
  message: string;
  /** How long an emailed link works, seconds (PASSWORD_RESET_TTL). @example 1800 */
  @ApiProperty({ type: 'integer' })
  expires_in: number;

  static of(ttlSeconds: number): ForgotPasswordResponse {
    return {
      message: `If an account uses this email, a link to reset its password is on its way. It works once, for ${humanDuration(ttlSeconds)}.`,
      expires_in: ttlSeconds,
    };
  }
}

/** `30 minutes`, `1 hour`, `90 minutes`: a PASSWORD_RESET_TTL for people. */
export function humanDuration(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
