import { createSecretKey } from 'node:crypto';
import { createServiceKit, unitEmail, TEST_JWT_SECRET, type ServiceKit } from '../../../test/factories/services.factory.js';
import { loadAuthenticatedUser } from '../../common/family-scope/jwt-auth.guard.js';
import { JwtStrategy } from './jwt.strategy.js';

/**
 * What a bearer token is worth once passport-jwt has verified the signature and expiry: the
 * strategy's claim checks, then the user JwtAuthGuard loads from the run's real PostgreSQL.
 */
describe('JwtStrategy.validate + loadAuthenticatedUser', () => {
  let kit: ServiceKit;
  const jwtStrategy = new JwtStrategy(createSecretKey(Buffer.from(TEST_JWT_SECRET)));
  const strategy = {
    async validate(payload: { sub: string; typ?: string; iat?: number; iat_ms?: number; sid?: unknown; exp?: number }) {
      const token = jwtStrategy.validate(payload as Parameters<JwtStrategy['validate']>[0]);
      return token && ((await loadAuthenticatedUser(kit.dataSource, token)) ?? false);
    },
  };
  beforeAll(async () => {
    kit = await createServiceKit();
  });
  afterAll(() => kit?.close());

  const now = () => Math.floor(Date.now() / 1000);
  const register = async (email = unitEmail('strategy')) => (await kit.auth.register({ email, password: 'correct horse battery' })).user;

  it('an access token of an existing user: the user and their membership', async () => {
    const user = await register();
    const exp = now() + 60;
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: now(), exp })).toEqual({
      userId: user.id,
      familyId: user.family_id,
      role: 'owner',
      joinedVersion: expect.any(Number),
      signInId: null,
      accessExpiresAtMs: exp * 1000,
    });
  });

  it.each([
    ['not a UUID', { sub: 'not-a-uuid', typ: 'access' }],
    ['an empty subject', { sub: '', typ: 'access' }],
    ['a UUID-shaped non-UUID', { sub: 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', typ: 'access' }],
    ['an unknown user', { sub: '6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7c', typ: 'access' }],
  ])('refuses %s', async (_, payload) => {
    expect(await strategy.validate({ iat: now(), ...payload } as never)).toBe(false);
  });

  // Of an existing user, so that only the typ can refuse them (with an unknown subject, as these
  // cases were written before, the missing user refused them whatever the typ check did).
  it.each([
    ['no typ (not an access token)', {}],
    ['a refresh-looking typ', { typ: 'refresh' }],
  ])('refuses a token of an existing user with %s', async (_, claims) => {
    const user = await register();
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: now() })).not.toBe(false);
    expect(await strategy.validate({ sub: user.id, iat: now(), ...claims } as never)).toBe(false);
  });

  it('after a password reset, tokens issued before it are refused and later ones accepted', async () => {
    const email = unitEmail('reset');
    const user = await register(email);
    const before = now() - 1;
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: before })).not.toBe(false);
    await kit.auth.resetPassword(email, 'a brand new password');
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: before })).toBe(false);
    // iat has whole seconds: any token from the second of the reset or before may predate it, and is refused.
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: now() - 1 })).toBe(false);
    expect(await strategy.validate({ sub: user.id, typ: 'access', iat: now() + 1 })).not.toBe(false);
    // A token without iat cannot prove it is newer.
    expect(await strategy.validate({ sub: user.id, typ: 'access' })).toBe(false);
  });

  it('iat_ms (ms) decides within the second of the reset: after it accepted, before it refused', async () => {
    const email = unitEmail('reset-ms');
    const user = await register(email);
    await kit.auth.resetPassword(email, 'a brand new password');
    const [{ tokens_valid_after: reset }] = await kit.dataSource.query('SELECT tokens_valid_after FROM users WHERE id = $1', [user.id]);
    const at = (ms: number) => ({ sub: user.id, typ: 'access', iat: Math.floor(ms / 1000), iat_ms: ms });
    expect(await strategy.validate(at(reset.getTime() + 1))).not.toBe(false);
    expect(await strategy.validate(at(reset.getTime()))).toBe(false);
    expect(await strategy.validate(at(reset.getTime() - 1))).toBe(false);
    // iat_ms wins over iat: a later second does not rescue a token issued before the reset.
    expect(await strategy.validate({ ...at(reset.getTime() - 1), iat: Math.floor(reset.getTime() / 1000) + 5 })).toBe(false);
  });

  describe('sid: an access token lives as long as its sign-in', () => {
    const refreshTokenId = (refreshToken: string) => refreshToken.split('.')[0];
    const chainOf = async (refreshToken: string): Promise<string> =>
      (await kit.dataSource.query('SELECT chain_id FROM refresh_tokens WHERE id = $1', [refreshTokenId(refreshToken)]))[0].chain_id;
    const payloadOf = (accessToken: string) => kit.jwt.decode(accessToken) as { sub: string; sid: string };

    it('tokens from TokenService name the refresh token issued with them; the guard puts its sign-in on the request', async () => {
      const user = await register();
      const pair = await kit.tokens.issue(user.id);
      expect(payloadOf(pair.accessToken).sid).toBe(refreshTokenId(pair.refreshToken));
      expect(await strategy.validate(payloadOf(pair.accessToken) as never)).toMatchObject({ userId: user.id, signInId: await chainOf(pair.refreshToken) });
    });

    it('a rotation keeps the previous access token (its refresh token is used, not revoked); a logout ends every access token of that sign-in only', async () => {
      const user = await register();
      const phone = await kit.tokens.issue(user.id);
      const tablet = await kit.tokens.issue(user.id);
      const rotated = await kit.tokens.rotate(phone.refreshToken);
      expect(await strategy.validate(payloadOf(phone.accessToken) as never)).not.toBe(false);
      expect(await strategy.validate(payloadOf(rotated.accessToken) as never)).not.toBe(false);
      await kit.auth.logout(rotated.refreshToken);
      expect(await strategy.validate(payloadOf(phone.accessToken) as never)).toBe(false);
      expect(await strategy.validate(payloadOf(rotated.accessToken) as never)).toBe(false);
      expect(await strategy.validate(payloadOf(tablet.accessToken) as never)).toMatchObject({ signInId: await chainOf(tablet.refreshToken) });
    });

    it('a detected reuse ends the access tokens of the copied sign-in', async () => {
      const user = await register();
      const first = await kit.tokens.issue(user.id);
      await kit.tokens.rotate(first.refreshToken);
      await kit.dataSource.query("UPDATE refresh_tokens SET used_at = now() - interval '1 hour' WHERE id = $1", [refreshTokenId(first.refreshToken)]);
      await expect(kit.tokens.rotate(first.refreshToken)).rejects.toMatchObject({ message: expect.stringContaining('reuse') });
      expect(await strategy.validate(payloadOf(first.accessToken) as never)).toBe(false);
    });

    it('refuses a sid that is not a UUID, names no refresh token, or names another user\'s', async () => {
      const user = await register();
      const other = await kit.tokens.issue((await register()).id);
      const base = { sub: user.id, typ: 'access', iat: now() };
      for (const sid of ['not-a-uuid', 42, '', '6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7c', refreshTokenId(other.refreshToken)]) {
        expect(await strategy.validate({ ...base, sid })).toBe(false);
      }
    });
  });

  it('tokens from TokenService carry iat_ms, the same instant as iat; a sign-in right after a reset is accepted', async () => {
    const email = unitEmail('reset-login');
    const user = await register(email);
    await kit.auth.resetPassword(email, 'a brand new password');
    const { access_token } = await kit.auth.login({ email, password: 'a brand new password' });
    const payload = kit.jwt.decode(access_token) as { iat: number; iat_ms: number };
    expect(Number.isSafeInteger(payload.iat_ms)).toBe(true);
    expect(payload.iat).toBe(Math.floor(payload.iat_ms / 1000));
    expect(await strategy.validate(payload as never)).toMatchObject({ userId: user.id });
  });
});
