import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EntityManager, Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { authConfig } from '../../config/configuration.js';
import { RefreshTokenEntity } from './entities/refresh-token.entity.js';
import { isUuid } from '../../common/http/uuid.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
/**
 * Access tokens: short-lived HS256 JWTs (`sub` = user id, `typ` = access).
 * Refresh tokens: opaque `<id>.<secret>`, stored as sha256(secret), rotated on
 * every use; a used token presented again revokes its whole chain.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    @InjectRepository(RefreshTokenEntity) private readonly refreshTokens: Repository<RefreshTokenEntity>,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
  ) {}

  async issue(userId: string, chainId: string = randomUUID(), manager?: EntityManager): Promise<TokenPair> {
    const repo = manager ? manager.getRepository(RefreshTokenEntity) : this.refreshTokens;
    const secret = randomBytes(32).toString('base64url');
    const row = await repo.save(
      repo.create({
        userId,
        chainId,
        tokenHash: sha256(secret),
        expiresAt: new Date(Date.now() + this.config.refreshTtlSeconds * 1000),
      }),
    );
    const accessToken = await this.jwt.signAsync({ sub: userId, typ: 'access' }, { expiresIn: this.config.accessTtlSeconds });
    return { accessToken, refreshToken: `${row.id}.${secret}`, expiresIn: this.config.accessTtlSeconds };
  }

  /** Exchanges a refresh token for a new pair; detects reuse. */
  async rotate(presented: string): Promise<TokenPair> {
    const invalid = () => new DomainError(ErrorCode.INVALID_REFRESH_TOKEN, 'Invalid or expired refresh token');
    const [id, secret] = presented.split('.');
    if (!id || !secret || !isUuid(id)) throw invalid();

    const outcome = await this.refreshTokens.manager.transaction(async (manager) => {
      const repo = manager.getRepository(RefreshTokenEntity);
      const token = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!token || !safeEqual(token.tokenHash, sha256(secret))) return { error: invalid() };
      if (token.revokedAt || token.expiresAt.getTime() <= Date.now()) return { error: invalid() };
      if (token.usedAt) {
        // A rotated-out token came back: someone holds a copy. End the whole sign-in.
        await revokeTokens(manager, 'chain_id', token.chainId);
        return { error: new DomainError(ErrorCode.INVALID_REFRESH_TOKEN, 'Refresh token reuse detected; please sign in again') };
      }
      await repo.update({ id: token.id }, { usedAt: new Date() });
      return { pair: await this.issue(token.userId, token.chainId, manager) };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.pair;
  }

  /** Revokes the chain of the given refresh token (sign-out of that device). Unknown tokens are ignored. */
  async revoke(presented: string): Promise<void> {
    const [id, secret] = presented.split('.');
    if (!id || !secret || !isUuid(id)) return;
    const token = await this.refreshTokens.findOne({ where: { id } });
    if (!token || !safeEqual(token.tokenHash, sha256(secret))) return;
    await this.refreshTokens.manager.transaction((manager) => revokeTokens(manager, 'chain_id', token.chainId));
  }

  /** Revokes every refresh token of a user (removed from a family, password reset). */
  async revokeAllForUser(userId: string, manager?: EntityManager): Promise<void> {
    if (manager) return revokeTokens(manager, 'user_id', userId);
    await this.refreshTokens.manager.transaction((m) => revokeTokens(m, 'user_id', userId));
  }
}

/**
 * Revokes every live token of a user or a chain; must run inside a transaction. A plain UPDATE
 * misses the token that a refresh in flight is inserting (it is not in the UPDATE's snapshot), so
 * that refresh would hand out a token that survives the sign-out, removal or password reset. So
 * first lock the live tokens, which waits for such a refresh to commit; the UPDATE, a new statement
 * under READ COMMITTED, then sees the token it issued. A refresh that starts later waits for our
 * lock and finds its token revoked. (FamiliesService.removeMember does the same in SQL.)
 */
async function revokeTokens(manager: EntityManager, column: 'user_id' | 'chain_id', value: string): Promise<void> {
  await manager.query(`SELECT id FROM refresh_tokens WHERE ${column} = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE`, [value]);
  await manager.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE ${column} = $1 AND revoked_at IS NULL`, [value]);
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
