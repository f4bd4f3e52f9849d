import { ApiProperty } from '@nestjs/swagger';
import type { UserEntity } from '../entities/user.entity.js';
import { FamilySummaryResponse } from '../../families/dto/family.response.js';
import type { TokenPair } from '../token.service.js';

export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  /** Normalized: trimmed, Unicode NFC, lower-case. */
  email: string;
  name: string | null;
  /** null after being removed from a family, until joining another. */
  @ApiProperty({ format: 'uuid', nullable: true, type: String })
  family_id: string | null;
  role: 'owner' | 'member' | null;

  static from(user: UserEntity): UserResponse {
    return { id: user.id, email: user.email, name: user.name, family_id: user.familyId, role: user.role };
  }
}

export class AuthResponse {
  /** Short-lived bearer token for every other request. */
  access_token: string;
  /** Long-lived, single-use: exchange it at /auth/refresh for a new pair. */
  refresh_token: string;
  /** @example Bearer */
  token_type: 'Bearer';
  /** Access token lifetime, seconds. @example 900 */
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
  access_token: string;
  refresh_token: string;
  /** @example Bearer */
  token_type: 'Bearer';
  /** @example 900 */
  expires_in: number;

  static from(tokens: TokenPair): TokenResponse {
    return { access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'Bearer', expires_in: tokens.expiresIn };
  }
}

export class MeResponse {
  user: UserResponse;
  family: FamilySummaryResponse | null;
}
