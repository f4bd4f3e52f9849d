/**
 * POST /api/v1/auth/change-password: the signed-in user changes their own password; every other
 * sign-in ends at once and the calling device gets a new one.
 */
import pg from 'pg';
import { bearer, DEFAULT_PASSWORD, familyWithMember, registerFamily, type RegisteredUser } from '../factories/auth.factory.js';
import { expectEnded, openEvents } from '../setup/event-stream.js';
import { expectRateLimited, newClientIp } from '../setup/rate-limits.js';
import { useTestApp } from '../setup/test-app.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';

const ERROR_SHAPE = { statusCode: expect.any(Number), error: expect.any(String), message: expect.any(String) };
const NEW_PASSWORD = 'a brand new horse battery';

describe('change-password (e2e)', () => {
  const t = useTestApp();

  const change = (token: string, body: Record<string, unknown>) => t.http().post('/api/v1/auth/change-password').set(bearer(token)).send(body);
  const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });
  const refresh = (token: string) => t.http().post('/api/v1/auth/refresh').send({ refresh_token: token });
  const me = (token: string) => t.http().get('/api/v1/auth/me').set(bearer(token));
  const storedHash = async (userId: string): Promise<string> => (await t.db.query('SELECT password_hash FROM users WHERE id = $1', [userId]))[0].password_hash;
  /** A second device of the user: its own sign-in. */
  const secondDevice = async (user: RegisteredUser) => (await login(user.email, user.password).expect(200)).body as { access_token: string; refresh_token: string };

  it('answers a new sign-in for the caller; every earlier token of the user, the caller\'s included, is refused at once', async () => {
    const { owner, member: phone } = await familyWithMember(t);
    const tablet = await secondDevice(phone);
    const before = await storedHash(phone.user.id);

    const res = await change(phone.token, { current_password: phone.password, new_password: NEW_PASSWORD }).expect(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.stringMatching(/^[0-9a-f-]{36}\.[\w-]{43}$/),
      token_type: 'Bearer',
      expires_in: 900,
      user: phone.user,
    });
    expect(JSON.stringify(res.body)).not.toContain(NEW_PASSWORD);

    // Right after: the other device and the caller's own old pair are refused, access and refresh.
    for (const token of [tablet.access_token, phone.token]) {
      const refused = await me(token).expect(401);
      expect(refused.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401, details: { code: 'UNAUTHENTICATED' } });
      await t.http().get('/api/v1/families/me').set(bearer(token)).expect(401);
    }
    for (const token of [tablet.refresh_token, phone.refreshToken]) {
      expect((await refresh(token).expect(401)).body.details.code).toBe('INVALID_REFRESH_TOKEN');
    }

    // The new pair works: access token, then its refresh token.
    await me(res.body.access_token).expect(200);
    await t.http().get('/api/v1/families/me').set(bearer(res.body.access_token)).expect(200);
    const rotated = await refresh(res.body.refresh_token).expect(200);
    await me(rotated.body.access_token).expect(200);

    // The password: the old one is refused, the new one signs in.
    expect((await login(phone.email, phone.password).expect(401)).body.details.code).toBe('INVALID_CREDENTIALS');
    await login(phone.email, NEW_PASSWORD).expect(200);
    const after = await storedHash(phone.user.id);
    expect(after).toMatch(/^\$argon2id\$/);
    expect(after).not.toBe(before);
    expect(after).not.toContain(NEW_PASSWORD);
    // Only that user: the rest of the family keeps working.
    await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
  });

  it('a wrong current password answers 401 INVALID_CREDENTIALS and changes nothing: the caller stays signed in', async () => {
    const user = await registerFamily(t);
    const tablet = await secondDevice(user);
    const before = await storedHash(user.user.id);
    const res = await change(user.token, { current_password: 'not the password', new_password: NEW_PASSWORD }).expect(401);
    expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401, error: 'Unauthorized', details: { code: 'INVALID_CREDENTIALS' } });
    expect(await storedHash(user.user.id)).toBe(before);
    await login(user.email, NEW_PASSWORD).expect(401);
    await login(user.email, user.password).expect(200);
    // Nobody was signed out.
    await me(user.token).expect(200);
    await me(tablet.access_token).expect(200);
    await refresh(user.refreshToken).expect(200);
    await refresh(tablet.refresh_token).expect(200);
  });

  it('a new password equal to the current one answers 422 naming new_password, whether or not it is the password; nothing changes', async () => {
    const user = await registerFamily(t);
    const before = await storedHash(user.user.id);
    for (const password of [user.password, 'not the password']) {
      const res = await change(user.token, { current_password: password, new_password: password }).expect(422);
      expect(res.body).toMatchObject({
        ...ERROR_SHAPE,
        statusCode: 422,
        details: { code: 'VALIDATION_FAILED', fields: [{ field: 'new_password', errors: [expect.stringMatching(/differ/)] }] },
      });
    }
    expect(await storedHash(user.user.id)).toBe(before);
    await me(user.token).expect(200);
    await refresh(user.refreshToken).expect(200);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a missing current_password', { new_password: NEW_PASSWORD }, 'current_password', /current_password should not be empty/],
    ['an empty current_password', { current_password: '', new_password: NEW_PASSWORD }, 'current_password', /should not be empty/],
    ['a missing new_password', { current_password: DEFAULT_PASSWORD }, 'new_password', /must be a string/],
    ['a new_password under 8 characters', { current_password: DEFAULT_PASSWORD, new_password: 'short' }, 'new_password', /8 characters/],
    ['a new_password over 256 characters', { current_password: DEFAULT_PASSWORD, new_password: 'p'.repeat(257) }, 'new_password', /256 characters/],
    ['a new_password that is not a string', { current_password: DEFAULT_PASSWORD, new_password: 12345678 }, 'new_password', /must be a string/],
    ['an unknown field', { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD, email: 'x@example.test' }, 'email', /should not exist/],
  ])('%s answers 400 naming the field, and changes nothing', async (_, body, field, error) => {
    const user = await registerFamily(t);
    const res = await change(user.token, body).expect(400);
    expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 400, details: { code: 'VALIDATION_FAILED' } });
    expect(res.body.details.fields).toEqual([{ field, errors: expect.arrayContaining([expect.stringMatching(error)]) }]);
    expect(res.body.message).toContain(field);
    await me(user.token).expect(200);
    await login(user.email, user.password).expect(200);
  });

  it('without a valid access token: 401 UNAUTHENTICATED, nothing changes', async () => {
    const user = await registerFamily(t);
    const body = { current_password: user.password, new_password: NEW_PASSWORD };
    for (const req of [t.http().post('/api/v1/auth/change-password'), t.http().post('/api/v1/auth/change-password').set(bearer('not-a-jwt'))]) {
      const res = await req.send(body).expect(401);
      expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401, details: { code: 'UNAUTHENTICATED' } });
    }
    // Nor with the refresh token in place of the access token.
    await change(user.refreshToken, body).expect(401);
    await login(user.email, user.password).expect(200);
  });

  it('ends every open "sync now" stream of the user, the caller\'s too; the new access token opens one', async () => {
    const user = await registerFamily(t);
    const tablet = await secondDevice(user);
    const phoneStream = await openEvents(t, user.token);
    const tabletStream = await openEvents(t, tablet.access_token);
    let fresh: Awaited<ReturnType<typeof openEvents>> | undefined;
    try {
      await Promise.all([phoneStream, tabletStream].map((s) => s.waitFor((e) => e.type === 'sync')));
      const res = await change(user.token, { current_password: user.password, new_password: NEW_PASSWORD }).expect(200);
      await expectEnded(phoneStream, 'the password change (caller)');
      await expectEnded(tabletStream, 'the password change (other device)');
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(tablet.access_token) });
      expect(again.status).toBe(401);
      await again.body?.cancel();
      fresh = await openEvents(t, res.body.access_token);
      await fresh.waitFor((e) => e.type === 'sync');
    } finally {
      await Promise.all([phoneStream.close(), tabletStream.close(), fresh?.close()]);
    }
  });

  /**
   * Forced interleavings: a separate PostgreSQL session holds the user's sign-in lock (the advisory
   * lock every path that issues or revokes their refresh tokens takes) while requests queue behind
   * it in a chosen order; then it lets go.
   */
  describe('racing requests', () => {
    let client: pg.Client;
    beforeAll(async () => {
      client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await client.connect();
    });
    afterAll(() => client.end());

    async function holdSignIns(userId: string) {
      const session = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await session.connect();
      const { rows } = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await session.query('BEGIN');
      await session.query(`SELECT pg_advisory_xact_lock(hashtextextended('hemoday-sign-ins:' || $1::text, 0))`, [userId]);
      /** Sessions waiting for this one: directly, or behind one that does. */
      const waiting = () => sessionsWaitingBehind(client, rows[0].pid);
      let released = false;
      return {
        /** Waits until `n` requests queue behind the lock. */
        queued: (n: number, what: string) => until(async () => (await waiting()) >= n, what),
        release: async () => {
          if (released) return;
          released = true;
          await session.query('COMMIT');
          await session.end();
        },
      };
    }

    it('a login with the old password and a refresh that got their sign-ins just before the change committed are ended by it', async () => {
      const user = await registerFamily(t);
      const tablet = await secondDevice(user);
      const lock = await holdSignIns(user.user.id);
      try {
        // Both have checked what they present (the old password, a live refresh token) and wait to issue.
        const lateLogin = login(user.email, user.password).then((r) => r);
        await lock.queued(1, 'the login');
        const lateRefresh = refresh(tablet.refresh_token).then((r) => r);
        await lock.queued(2, 'the refresh');
        const changing = change(user.token, { current_password: user.password, new_password: NEW_PASSWORD }).then((r) => r);
        await lock.queued(3, 'the change');
        await lock.release();
        const [signedIn, refreshed, changed] = await Promise.all([lateLogin, lateRefresh, changing]);
        // First in the queue, so issued before the change's revocation ran: and then revoked by it.
        expect([signedIn.status, refreshed.status, changed.status]).toEqual([200, 200, 200]);
        for (const pair of [signedIn.body, refreshed.body]) {
          await me(pair.access_token).expect(401);
          await refresh(pair.refresh_token).expect(401);
        }
        await me(changed.body.access_token).expect(200);
        await refresh(changed.body.refresh_token).expect(200);
      } finally {
        await lock.release();
      }
    });

    it('a login with the old password that is still waiting to issue when the change commits gets no sign-in', async () => {
      const user = await registerFamily(t);
      const lock = await holdSignIns(user.user.id);
      try {
        const changing = change(user.token, { current_password: user.password, new_password: NEW_PASSWORD }).then((r) => r);
        await lock.queued(1, 'the change');
        // Its password check passes (the new hash is not committed yet); it then waits behind the change.
        const lateLogin = login(user.email, user.password).then((r) => r);
        await lock.queued(2, 'the login');
        await lock.release();
        const [changed, signedIn] = await Promise.all([changing, lateLogin]);
        expect([changed.status, signedIn.status]).toEqual([200, 401]);
        expect(signedIn.body.details.code).toBe('INVALID_CREDENTIALS');
        const [{ live }] = await t.db.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [user.user.id]);
        expect(live).toBe(1); // the change's own
      } finally {
        await lock.release();
      }
    });

    it('two devices changing the password from the same current one: the first wins, the second answers 401 and changes nothing', async () => {
      const user = await registerFamily(t);
      const tablet = await secondDevice(user);
      const lock = await holdSignIns(user.user.id);
      try {
        const first = change(user.token, { current_password: user.password, new_password: NEW_PASSWORD }).then((r) => r);
        await lock.queued(1, 'the first change');
        // Verifies the same (still stored) password, then waits for the first change's row.
        const second = change(tablet.access_token, { current_password: user.password, new_password: 'the tablet password' }).then((r) => r);
        await lock.queued(2, 'the second change');
        await lock.release();
        const [won, lost] = await Promise.all([first, second]);
        expect([won.status, lost.status]).toEqual([200, 401]);
        expect(lost.body.details.code).toBe('INVALID_CREDENTIALS');
        await login(user.email, NEW_PASSWORD).expect(200);
        await login(user.email, 'the tablet password').expect(401);
        await me(won.body.access_token).expect(200);
        await me(tablet.access_token).expect(401);
      } finally {
        await lock.release();
      }
    });
  });
});

/** AUTH_RATE_LIMIT=3 per account, 9 per network; each test picks its client IP (TRUST_PROXY=1). */
describe('change-password rate limits (e2e)', () => {
  const t = useTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: '1' });

  const change = (ip: string, token: string, current_password: string, new_password = NEW_PASSWORD) =>
    t.http().post('/api/v1/auth/change-password').set('X-Forwarded-For', ip).set(bearer(token)).send({ current_password, new_password });

  it('after 3 wrong current passwords the account gets 429 with Retry-After, from any network and with the right password; it stays signed in and unchanged', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    for (let i = 0; i < 3; i++) expect((await change(newClientIp(), user.token, 'not the password')).status).toBe(401);
    expectRateLimited(await change(newClientIp(), user.token, user.password));
    await t.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(200);
    // The guesses were at the account's password: a login with it is refused for the window too.
    expectRateLimited(await t.http().post('/api/v1/auth/login').set('X-Forwarded-For', newClientIp()).send({ email: user.email, password: user.password }));
    // Another account is unaffected.
    const other = await registerFamily(t, { ip: newClientIp() });
    expect((await change(newClientIp(), other.token, other.password)).status).toBe(200);
  });

  it('successful changes give their attempt back: the failure budget stays whole', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    let token = user.token;
    let password = user.password;
    for (let i = 0; i < 4; i++) {
      const res = await change(newClientIp(), token, password, `new password number ${i}`);
      expect(res.status).toBe(200);
      [token, password] = [res.body.access_token, `new password number ${i}`];
    }
    for (let i = 0; i < 3; i++) expect((await change(newClientIp(), token, 'not the password')).status).toBe(401);
    expectRateLimited(await change(newClientIp(), token, password));
  });

  it('one network is limited at 3× the account limit across accounts', async () => {
    const ip = newClientIp();
    const users = await Promise.all([1, 2, 3, 4].map(() => registerFamily(t, { ip: newClientIp() })));
    for (const user of users.slice(0, 3)) {
      for (let i = 0; i < 3; i++) expect((await change(ip, user.token, 'not the password')).status).toBe(401);
    }
    expectRateLimited(await change(ip, users[3].token, users[3].password));
    // Another network is not.
    expect((await change(newClientIp(), users[3].token, users[3].password)).status).toBe(200);
  });
});
