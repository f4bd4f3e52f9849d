import { createServiceKit, unitEmail, TEST_JWT_SECRET, type ServiceKit, domainFailure as failure } from '../../../test/factories/services.factory.js';
import { JwtService } from '@nestjs/jwt';
import { createHash } from 'node:crypto';
import { ErrorCode } from '../../common/errors/domain-error.js';
import { parseRefreshToken, REFRESH_RETRY_GRACE_MS } from './token.service.js';
import { sessionsWaitingBehind, until } from '../../../test/setup/wait.js';

interface TokenRow {
  id: string;
  chain_id: string;
  token_hash: string;
  used_at: Date | null;
  revoked_at: Date | null;
}

/** TokenService over the run's real PostgreSQL: the rotation rules live in row locks and SQL. */
describe('TokenService', () => {
  let kit: ServiceKit;
  beforeAll(async () => (kit = await createServiceKit()));
  afterAll(() => kit?.close());

  const newUser = async (): Promise<string> =>
    (await kit.dataSource.query(`INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`, [unitEmail('tokens')]))[0].id;
  const row = async (refreshToken: string): Promise<TokenRow> =>
    (await kit.dataSource.query('SELECT id, chain_id, token_hash, used_at, revoked_at FROM refresh_tokens WHERE id = $1', [refreshToken.split('.')[0]]))[0];
  const liveInChain = async (chainId: string): Promise<number> =>
    (await kit.dataSource.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE chain_id = $1 AND revoked_at IS NULL', [chainId]))[0].n;

  describe('issue', () => {
    it('an HS256 access JWT (sub = user, typ = access, TTL from config) and an opaque refresh token stored as a hash', async () => {
      const userId = await newUser();
      const pair = await kit.tokens.issue(userId);
      const claims = await new JwtService({ secret: TEST_JWT_SECRET }).verifyAsync(pair.accessToken, { algorithms: ['HS256'] });
      expect(claims).toMatchObject({ sub: userId, typ: 'access' });
      expect(claims.exp - claims.iat).toBe(kit.config.accessTtlSeconds);
      expect(pair.expiresIn).toBe(kit.config.accessTtlSeconds);
      const [id, secret] = pair.refreshToken.split('.');
      const stored = await row(pair.refreshToken);
      expect(stored.id).toBe(id);
      expect(stored.token_hash).toBe(createHash('sha256').update(secret).digest('hex'));
      expect(JSON.stringify(stored)).not.toContain(secret);
    });
  });

  describe('issueIn', () => {
    it("issues a new sign-in (its own chain, live) in the caller's transaction, and goes if that rolls back", async () => {
      const userId = await newUser();
      const pair = await kit.dataSource.transaction((manager) => kit.tokens.issueIn(manager, userId));
      const claims = await new JwtService({ secret: TEST_JWT_SECRET }).verifyAsync(pair.accessToken, { algorithms: ['HS256'] });
      expect(claims.exp - claims.iat).toBe(kit.config.accessTtlSeconds);
      const stored = await row(pair.refreshToken);
      expect(stored).toMatchObject({ used_at: null, revoked_at: null });
      expect(claims.sid).toBe(stored.id);
      expect(await liveInChain(stored.chain_id)).toBe(1);

      let issued: { refreshToken: string } | undefined;
      await kit.dataSource
        .transaction(async (manager) => {
          issued = await kit.tokens.issueIn(manager, userId);
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      expect(await row(issued!.refreshToken)).toBeUndefined();
    });
  });

  describe('rotate', () => {
    it('returns a new pair in the same chain and retires the presented token', async () => {
      const first = await kit.tokens.issue(await newUser());
      const second = await kit.tokens.rotate(first.refreshToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      const [old, next] = [await row(first.refreshToken), await row(second.refreshToken)];
      expect(old.used_at).toBeInstanceOf(Date);
      expect(old.revoked_at).toBeNull();
      expect(next).toMatchObject({ chain_id: old.chain_id, used_at: null, revoked_at: null });
      const third = await kit.tokens.rotate(second.refreshToken);
      expect((await row(third.refreshToken)).chain_id).toBe(old.chain_id);
    });

    it('a retired token presented again after its successor was used is reuse: 401, the whole chain revoked', async () => {
      const userId = await newUser();
      const first = await kit.tokens.issue(userId);
      const otherDevice = await kit.tokens.issue(userId);
      const second = await kit.tokens.rotate(first.refreshToken);
      const third = await kit.tokens.rotate(second.refreshToken);
      const reuse = await failure(() => kit.tokens.rotate(first.refreshToken));
      expect([reuse.code, reuse.status]).toEqual([ErrorCode.INVALID_REFRESH_TOKEN, 401]);
      expect(reuse.message).toMatch(/reuse/);
      expect(await liveInChain((await row(first.refreshToken)).chain_id)).toBe(0);
      expect((await failure(() => kit.tokens.rotate(third.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      // Another sign-in of the same user is another chain: untouched.
      await kit.tokens.rotate(otherDevice.refreshToken);
    });

    it('a retired token presented again after the retry grace is reuse, even if its successor was never used', async () => {
      const first = await kit.tokens.issue(await newUser());
      const second = await kit.tokens.rotate(first.refreshToken);
      await kit.dataSource.query(`UPDATE refresh_tokens SET used_at = now() - $2 * interval '1 millisecond' WHERE id = $1`, [
        first.refreshToken.split('.')[0],
        REFRESH_RETRY_GRACE_MS + 1000,
      ]);
      expect((await failure(() => kit.tokens.rotate(first.refreshToken))).message).toMatch(/reuse/);
      expect((await failure(() => kit.tokens.rotate(second.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      expect(await liveInChain((await row(first.refreshToken)).chain_id)).toBe(0);
    });

    describe('retry grace (a lost refresh response)', () => {
      it('the same token again within the grace, successor unused: a new working pair; the lost successor is superseded', async () => {
        const first = await kit.tokens.issue(await newUser());
        const lost = await kit.tokens.rotate(first.refreshToken);
        const retried = await kit.tokens.rotate(first.refreshToken);
        expect(retried.refreshToken).not.toBe(lost.refreshToken);
        const lostRow = await row(lost.refreshToken);
        expect(lostRow.revoked_at).toBeInstanceOf(Date);
        const [{ superseded_at, parent_id }] = await kit.dataSource.query('SELECT superseded_at, parent_id FROM refresh_tokens WHERE id = $1', [lostRow.id]);
        expect(superseded_at).toBeInstanceOf(Date);
        expect(parent_id).toBe(first.refreshToken.split('.')[0]);
        // The retry's pair goes on working, in the same chain.
        const next = await kit.tokens.rotate(retried.refreshToken);
        expect((await row(next.refreshToken)).chain_id).toBe(lostRow.chain_id);
      });

      it('the superseded successor presented later means two holders: reuse, the chain is revoked', async () => {
        const first = await kit.tokens.issue(await newUser());
        const lost = await kit.tokens.rotate(first.refreshToken);
        const retried = await kit.tokens.rotate(first.refreshToken);
        expect((await failure(() => kit.tokens.rotate(lost.refreshToken))).message).toMatch(/reuse/);
        expect((await failure(() => kit.tokens.rotate(retried.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
        expect(await liveInChain((await row(first.refreshToken)).chain_id)).toBe(0);
      });

      it('retries do not extend the grace: it counts from the first rotation', async () => {
        const first = await kit.tokens.issue(await newUser());
        await kit.tokens.rotate(first.refreshToken);
        const usedAt = (await row(first.refreshToken)).used_at;
        await kit.tokens.rotate(first.refreshToken);
        expect((await row(first.refreshToken)).used_at).toEqual(usedAt);
      });

      // Two rotations started together seldom overlapped (the test passed twice in three runs with the
      // rotation's locks taken out): the first is held inside its transaction here, and the second
      // is seen waiting before the first may go on.
      it('two concurrent rotations of one token: the later waits for the first to commit, then is its retry; only the later pair survives', async () => {
        const userId = await newUser();
        const first = await kit.tokens.issue(userId);
        // Holding the user's row stops the first rotation at the insert of its new token (the foreign
        // key), inside its transaction, with every lock it took before.
        const blocker = kit.dataSource.createQueryRunner();
        await blocker.connect();
        await blocker.startTransaction();
        const observer = { query: async (sql: string, params: unknown[]) => ({ rows: await kit.dataSource.query(sql, params) }) };
        let rotations: Array<Promise<{ refreshToken: string }>> = [];
        try {
          await blocker.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
          const [{ pid }] = await blocker.query('SELECT pg_backend_pid() AS pid');
          const waiting = (n: number, what: string) => until(async () => (await sessionsWaitingBehind(observer as never, pid)) >= n, what);
          rotations = [kit.tokens.rotate(first.refreshToken)];
          await waiting(1, 'the first rotation to reach its insert');
          rotations.push(kit.tokens.rotate(first.refreshToken));
          await waiting(2, 'the second rotation to wait for the first');
          await blocker.commitTransaction();
        } finally {
          if (blocker.isTransactionActive) await blocker.rollbackTransaction();
          await blocker.release();
        }
        const [a, b] = await Promise.all(rotations);
        const rows = [await row(a.refreshToken), await row(b.refreshToken)];
        expect([rows[0].revoked_at, rows[1].revoked_at]).toEqual([expect.any(Date), null]); // the first pair superseded by the retry
        const [{ n }] = await kit.dataSource.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE chain_id = $1 AND revoked_at IS NULL AND used_at IS NULL', [rows[0].chain_id]);
        expect(n).toBe(1); // one refresh token of this sign-in can still be used
      });
    });

    it.each([
      ['garbage', () => 'garbage'],
      ['no secret', (t: string) => t.split('.')[0]],
      ['a tampered secret', (t: string) => `${t.slice(0, -2)}xx`],
      ['an id that is not a UUID', (t: string) => `zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz.${t.split('.')[1]}`],
      ['an unknown id', (t: string) => `00000000-0000-4000-8000-000000000000.${t.split('.')[1]}`],
      ['the real token with text after it', (t: string) => `${t}.junk`],
      ['the real token with a dot after it', (t: string) => `${t}.`],
      ['the real token with a newline after it', (t: string) => `${t}\n`],
      ['the real token with spaces around it', (t: string) => ` ${t} `],
      ['the real token with base64 padding', (t: string) => `${t}=`],
      ['the real token with its id in upper case', (t: string) => `${t.split('.')[0].toUpperCase()}.${t.split('.')[1]}`],
      ['the real token with a character more in the secret', (t: string) => `${t}A`],
    ])('refuses %s without burning the real token', async (_, forge) => {
      const pair = await kit.tokens.issue(await newUser());
      expect((await failure(() => kit.tokens.rotate(forge(pair.refreshToken)))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      expect((await row(pair.refreshToken)).used_at).toBeNull();
      await kit.tokens.rotate(pair.refreshToken);
    });

    it('refuses an expired or revoked token', async () => {
      const expired = await kit.tokens.issue(await newUser());
      await kit.dataSource.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.refreshToken.split('.')[0]]);
      expect((await failure(() => kit.tokens.rotate(expired.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      const revoked = await kit.tokens.issue(await newUser());
      await kit.tokens.revoke(revoked.refreshToken);
      expect((await failure(() => kit.tokens.rotate(revoked.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
    });
  });

  it('parseRefreshToken accepts exactly `<lower-case uuid>.<43 base64url characters>`', () => {
    const id = '6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7c';
    const secret = 'A'.repeat(21) + '-_' + 'z'.repeat(20);
    expect(parseRefreshToken(`${id}.${secret}`)).toEqual({ id, secret });
    for (const bad of [`${id}.${secret}.junk`, `${id}.${secret.slice(1)}`, `${id}.${secret}x`, `${id}..${secret}`, `x${id}.${secret}`, `${id}.${secret.slice(1)}+`, '']) {
      expect(parseRefreshToken(bad)).toBeNull();
    }
  });

  describe('revoke and revokeAllForUser', () => {
    it('revoke (logout) ends that chain only; unknown or forged tokens are ignored', async () => {
      const userId = await newUser();
      const phone = await kit.tokens.issue(userId);
      const tablet = await kit.tokens.issue(userId);
      const rotated = await kit.tokens.rotate(phone.refreshToken);
      expect(await kit.tokens.revoke(`${tablet.refreshToken.slice(0, -2)}xx`)).toBeNull();
      expect(await kit.tokens.revoke('whatever')).toBeNull();
      expect(await kit.tokens.revoke(`${tablet.refreshToken}.junk`)).toBeNull();
      // An old token of the chain still signs that device out; user and sign-in are named (its event streams end).
      const [{ chain_id: phoneSignIn }] = await kit.dataSource.query('SELECT chain_id FROM refresh_tokens WHERE id = $1', [phone.refreshToken.split('.')[0]]);
      expect(await kit.tokens.revoke(phone.refreshToken)).toEqual({ userId, signInId: phoneSignIn });
      expect((await failure(() => kit.tokens.rotate(rotated.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      await kit.tokens.rotate(tablet.refreshToken);
    });

    it('revokeAllForUser ends every chain of that user and no one else’s', async () => {
      const [userId, someoneElse] = [await newUser(), await newUser()];
      const pairs = [await kit.tokens.issue(userId), await kit.tokens.issue(userId)];
      const theirs = await kit.tokens.issue(someoneElse);
      await kit.tokens.revokeAllForUser(userId);
      for (const pair of pairs) expect((await failure(() => kit.tokens.rotate(pair.refreshToken))).code).toBe(ErrorCode.INVALID_REFRESH_TOKEN);
      await kit.tokens.rotate(theirs.refreshToken);
    });
  });
});
