import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EntityManager, Repository } from 'typeorm';
import { authConfig } from '../../config/configuration.js';
import { RefreshTokenEntity } from './entities/refresh-token.entity.js';
import { AuthErrors } from './auth.errors.js';
import { lockSignIns, revokeRefreshTokens } from './refresh-token-revocation.js';
import { LOWER_CASE_UUID_SOURCE } from '../../common/http/uuid.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * How long after a rotation the rotated-out token may be presented again as a retry (the response
 * carrying its successor was lost on a flaky network): see `rotate`.
 */
export const REFRESH_RETRY_GRACE_MS = 30_000;

/**
 * The sweep of expired refresh tokens: at most once a minute per instance, after a sign-in or a
 * refresh, at most SWEEP_BATCH rows. A row is deleted a day after it expired: by then no access
 * token names it (an access token lives no longer than its refresh token: JWT_ACCESS_TTL ≤
 * JWT_REFRESH_TTL is checked at start-up), and presenting it answers 401 either way.
 */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_BATCH = 10_000;

/** 32 random bytes: 43 base64url characters. */
const REFRESH_SECRET_BYTES = 32;
/**
 * Exactly what `issueInChain` hands out, `<id>.<secret>`: the row id as a lower-case canonical UUID,
 * a dot, and 43 base64url characters. Nothing before, between or after: `<id>.<secret>.junk`, padding,
 * spaces or an upper-case id are not this server's tokens (401), rather than being cut to the part
 * that matches.
 */
const REFRESH_TOKEN = new RegExp(`^(${LOWER_CASE_UUID_SOURCE})\\.([A-Za-z0-9_-]{43})$`);

export function parseRefreshToken(presented: string): { id: string; secret: string } | null {
  const match = REFRESH_TOKEN.exec(presented);
  return match ? { id: match[1], secret: match[2] } : null;
}

/**
 * Access tokens: short-lived HS256 JWTs (`sub` = user id, `typ` = access, `iat_ms` = issue time in ms,
 * `sid` = the refresh token issued with it: the access token lives only as long as its sign-in).
 * Refresh tokens: opaque `<id>.<secret>`, stored as sha256(secret), rotated on
 * every use; a used token presented again revokes its whole chain (but see the retry grace).
 */
@Injectable()
export class TokenService {
  private readonly logger = new Logger(TokenService.name);
  private lastSweep = 0;

  constructor(
    private readonly jwt: JwtService,
    @InjectRepository(RefreshTokenEntity) private readonly refreshTokens: Repository<RefreshTokenEntity>,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
    private readonly versions: FamilyVersionService,
  ) {}

  /**
   * A new sign-in: a new chain. `verifiedPasswordHash`: the hash a login checked the password
   * against. Under the user's sign-in lock it must still be the stored one: a password reset that
   * committed while the login was verifying (argon2 takes a while) revoked every sign-in, and must
   * not be outlived by one made with the old password.
   */
  async issue(userId: string, verifiedPasswordHash?: string): Promise<TokenPair> {
    const pair = await this.refreshTokens.manager.transaction(async (manager) => {
      await lockSignIns(manager, userId);
      if (verifiedPasswordHash !== undefined) {
        const rows: Array<{ password_hash: string }> = await manager.query('SELECT password_hash FROM users WHERE id = $1', [userId]);
        if (rows[0]?.password_hash !== verifiedPasswordHash) throw AuthErrors.invalidCredentials();
      }
      return this.issueInChain(manager, userId, randomUUID(), null);
    });
    await this.sweepExpired();
    return pair;
  }

  /**
   * A new sign-in inside the caller's transaction: a password change, which has just revoked every
   * other sign-in (JwtAuthGuard refuses their access tokens by their revoked `sid`, and accepts this
   * one's, whatever the clock says of `tokens_valid_after`).
   */
  async issueIn(manager: EntityManager, userId: string): Promise<TokenPair> {
    await lockSignIns(manager, userId);
    return this.issueInChain(manager, userId, randomUUID(), null);
  }

  /**
   * Exchanges a refresh token for a new pair; detects reuse.
   *
   * Retry grace: a mobile app whose refresh response was lost retries with the same token. If that
   * happens within REFRESH_RETRY_GRACE_MS of the rotation, and the pair issued then has never been
   * used (neither its refresh token nor its access token), the successor is revoked as "superseded" and a new one is issued: the retry gets a
   * working pair and nobody is signed out. Anything else is reuse, as before: a retired token after
   * the grace, or after its successor was used, revokes the whole chain; and so does a superseded
   * successor presented later — it means two parties held tokens of this chain.
   */
  async rotate(presented: string): Promise<TokenPair> {
    const invalid = AuthErrors.invalidRefreshToken;
    const reuse = AuthErrors.refreshTokenReuse;
    const parsed = parseRefreshToken(presented);
    if (!parsed) throw invalid();
    const { id, secret } = parsed;

    const outcome = await this.refreshTokens.manager.transaction(async (manager) => {
      const repo = manager.getRepository(RefreshTokenEntity);
      const owner = await repo.findOne({ where: { id }, select: { userId: true } });
      if (!owner) return { error: invalid() };
      // Every path that touches this user's tokens takes this lock first (see lockSignIns).
      await lockSignIns(manager, owner.userId);
      const token = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!token || !safeEqual(token.tokenHash, sha256(secret))) return { error: invalid() };
      if (token.supersededAt) {
        await this.revokeCopiedChain(manager, token);
        return { error: reuse() };
      }
      if (token.revokedAt || token.expiresAt.getTime() <= Date.now()) return { error: invalid() };
      if (token.usedAt) {
        const successor = Date.now() - token.usedAt.getTime() <= REFRESH_RETRY_GRACE_MS ? await unusedSuccessor(manager, token.id) : undefined;
        if (!successor) {
          // A rotated-out token came back: someone holds a copy. End the whole sign-in.
          await this.revokeCopiedChain(manager, token);
          return { error: reuse() };
        }
        await manager.query('UPDATE refresh_tokens SET revoked_at = now(), superseded_at = now() WHERE id = $1', [successor]);
        // usedAt stays: the grace counts from the first rotation, retries do not extend it.
        return { pair: await this.issueInChain(manager, token.userId, token.chainId, token.id) };
      }
      await repo.update({ id: token.id }, { usedAt: new Date() });
      return { pair: await this.issueInChain(manager, token.userId, token.chainId, token.id) };
    });
    if ('error' in outcome) throw outcome.error;
    await this.sweepExpired();
    return outcome.pair;
  }

  /** Deletes refresh tokens expired for over a day (see SWEEP_INTERVAL_MS), skipping rows another statement holds. */
  private async sweepExpired(): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = Date.now();
    await this.refreshTokens
      .query(
        `DELETE FROM refresh_tokens WHERE id IN (
           SELECT id FROM refresh_tokens WHERE expires_at < now() - interval '1 day' LIMIT $1 FOR UPDATE SKIP LOCKED)`,
        [SWEEP_BATCH],
      )
      .catch((error: Error) => this.logger.warn(`refresh token sweep failed: ${error.message}`));
  }

  /** Ends a sign-in whose tokens were copied: its refresh and access tokens, and its event streams (on commit). */
  private async revokeCopiedChain(manager: EntityManager, token: RefreshTokenEntity): Promise<void> {
    await revokeRefreshTokens(manager, { userId: token.userId, chainId: token.chainId });
    await this.versions.notifyMembershipChange(manager, token.userId, token.chainId);
  }

  private async issueInChain(manager: EntityManager, userId: string, chainId: string, parentId: string | null): Promise<TokenPair> {
    const repo = manager.getRepository(RefreshTokenEntity);
    const secret = randomBytes(REFRESH_SECRET_BYTES).toString('base64url');
    const row = await repo.save(
      repo.create({
        userId,
        chainId,
        parentId,
        tokenHash: sha256(secret),
        expiresAt: new Date(Date.now() + this.config.refreshTtlSeconds * 1000),
      }),
    );
    // `iat` has whole seconds; `iat_ms` (the same instant, in ms) lets JwtAuthGuard tell a token
    // issued just after a password reset from one issued just before it, within the same second.
    // `sid` ties the access token to its sign-in: once the chain is revoked (logout, reuse) the
    // guard refuses it, instead of it working until it expires.
    const issuedAtMs = Date.now();
    const accessToken = await this.jwt.signAsync(
      { sub: userId, typ: 'access', iat: Math.floor(issuedAtMs / 1000), iat_ms: issuedAtMs, sid: row.id },
      { expiresIn: this.config.accessTtlSeconds },
    );
    return { accessToken, refreshToken: `${row.id}.${secret}`, expiresIn: this.config.accessTtlSeconds };
  }

  /**
   * Revokes the chain of the given refresh token (sign-out of that device) and returns its user and
   * sign-in (chain). Unknown tokens are ignored (null).
   */
  async revoke(presented: string): Promise<{ userId: string; signInId: string } | null> {
    const parsed = parseRefreshToken(presented);
    if (!parsed) return null;
    const { id, secret } = parsed;
    const token = await this.refreshTokens.findOne({ where: { id } });
    if (!token || !safeEqual(token.tokenHash, sha256(secret))) return null;
    await this.refreshTokens.manager.transaction((manager) => revokeRefreshTokens(manager, { userId: token.userId, chainId: token.chainId }));
    return { userId: token.userId, signInId: token.chainId };
  }

  /** Revokes every refresh token of a user (removed from a family, password reset or change). */
  async revokeAllForUser(userId: string, manager?: EntityManager): Promise<void> {
    if (manager) return revokeRefreshTokens(manager, { userId });
    await this.refreshTokens.manager.transaction((m) => revokeRefreshTokens(m, { userId }));
  }
}

/**
 * The live token issued from `parentId` whose pair was never used — neither the refresh token nor the
 * access token issued with it (the guard records its first request) — locked (a concurrent refresh
 * with it waits, or wins). A pair in use means its response arrived: the parent presented again is a
 * copy, not a retry (found by review: a copied token replayed while the phone was using its new
 * access token took the sign-in over).
 */
async function unusedSuccessor(manager: EntityManager, parentId: string): Promise<string | undefined> {
  const rows: Array<{ id: string }> = await manager.query(
    'SELECT id FROM refresh_tokens WHERE parent_id = $1 AND used_at IS NULL AND access_used_at IS NULL AND revoked_at IS NULL FOR UPDATE',
    [parentId],
  );
  return rows[0]?.id;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
