import { randomInt } from 'node:crypto';
import { bearer, registerFamily, uniqueEmail } from '../factories/auth.factory.js';
import { newClientIp } from '../setup/rate-limits.js';
import { createTestApp, useTestApp, type TestApp } from '../setup/test-app.js';

/**
 * AUTH_RATE_LIMIT=3 per account per window, 3× that per IP. TRUST_PROXY=1 (the
 * test client plays the one proxy) lets each test pick its own client IP through
 * X-Forwarded-For, so tests do not share counters.
 */
describe('auth rate limits (e2e)', () => {
  const t = useTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: '1' });

  const login = (ip: string, email: string, password = 'wrong password') =>
    t.http().post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ email, password });

  function expect429(res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }) {
    expect(res.status).toBe(429);
    expect(res.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests', message: expect.any(String), details: { code: 'RATE_LIMITED' } });
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers['x-request-id']).toBeDefined();
  }

  it('login: after 3 failures on one account the next attempt answers 429, even from other IPs and with the right password', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    for (let i = 0; i < 3; i++) expect((await login(newClientIp(), user.email)).status).toBe(401);
    expect429(await login(newClientIp(), user.email, user.password));
    // The account key ignores case and spaces, so variants do not get a fresh budget.
    expect429(await login(newClientIp(), `  ${user.email.toUpperCase()} `, user.password));
    // Another account is unaffected.
    const other = await registerFamily(t, { ip: newClientIp() });
    expect((await login(newClientIp(), other.email, other.password)).status).toBe(200);
  });

  it('wrong passwords for one account add up across login, change-password, DELETE /auth/me and the owner hand-over: one budget, not one per route', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    const heir = await registerFamily(t, { ip: newClientIp(), invite_code: user.inviteCode });
    const signedIn = (path: string, method: 'post' | 'delete', body: object) => t.http()[method](path).set('X-Forwarded-For', newClientIp()).set(bearer(user.token)).send(body);
    expect((await signedIn('/api/v1/auth/change-password', 'post', { current_password: 'wrong password', new_password: 'another password' })).status).toBe(401);
    expect((await signedIn('/api/v1/auth/me', 'delete', { password: 'wrong password' })).status).toBe(401);
    expect((await signedIn('/api/v1/families/me/owner', 'post', { user_id: heir.user.id, password: 'wrong password' })).status).toBe(401);
    // Whoever holds the access token has had the account's 3 guesses: every route now refuses, the right password too.
    expect429(await signedIn('/api/v1/families/me/owner', 'post', { user_id: heir.user.id, password: user.password }));
    expect429(await signedIn('/api/v1/auth/me', 'delete', { password: user.password }));
    expect429(await signedIn('/api/v1/auth/change-password', 'post', { current_password: user.password, new_password: 'another password' }));
    expect429(await login(newClientIp(), user.email.toUpperCase(), user.password));
    // Other routes of the account keep their own budgets: the invite code is no password.
    await t.http().delete(`/api/v1/families/me/members/${heir.user.id}`).set(bearer(user.token)).expect(204);
    const other = await registerFamily(t, { ip: newClientIp() });
    expect((await t.http().post('/api/v1/auth/join-family').set('X-Forwarded-For', newClientIp()).set(bearer(user.token)).send({ invite_code: other.inviteCode })).status).toBe(200);
  });

  it("only a wrong password uses up the account's budget: refusals for other reasons (409, 404, 400) after or without a password check do not", async () => {
    // An owner with members may not delete their account (409 OWNER_HAS_MEMBERS) nor hand the family to
    // a stranger (404): with the right password, each refusal was counted as a failed guess, and after
    // three of them (an app retrying, a confused user) the owner could not sign in for the window.
    const owner = await registerFamily(t, { ip: newClientIp() });
    await registerFamily(t, { ip: newClientIp(), invite_code: owner.inviteCode });
    const stranger = await registerFamily(t, { ip: newClientIp() });
    const signedIn = (path: string, method: 'post' | 'delete', body: object) => t.http()[method](path).set('X-Forwarded-For', newClientIp()).set(bearer(owner.token)).send(body);
    for (let i = 0; i < 4; i++) {
      expect((await signedIn('/api/v1/auth/me', 'delete', { password: owner.password })).status).toBe(409);
      expect((await signedIn('/api/v1/families/me/owner', 'post', { user_id: stranger.user.id, password: owner.password })).status).toBe(404);
      expect((await signedIn('/api/v1/auth/me', 'delete', {})).status).toBe(400);
    }
    expect((await login(newClientIp(), owner.email, owner.password)).status).toBe(200);
    // Wrong passwords still count, on the same budget.
    for (let i = 0; i < 3; i++) expect((await signedIn('/api/v1/auth/me', 'delete', { password: 'wrong password' })).status).toBe(401);
    expect429(await login(newClientIp(), owner.email, owner.password));
  });

  it('login: one IP trying many accounts is limited at 3× the account limit', async () => {
    const ip = newClientIp();
    for (let i = 0; i < 9; i++) expect((await login(ip, uniqueEmail('spray'))).status).toBe(401);
    expect429(await login(ip, uniqueEmail('spray')));
    // Another IP is unaffected.
    expect((await login(newClientIp(), uniqueEmail('spray'))).status).toBe(401);
  });

  it('join-family: the 4th guess by one user answers 429, and a valid code is then refused too', async () => {
    const owner = await registerFamily(t, { ip: newClientIp() });
    const guesser = await registerFamily(t, { ip: newClientIp() });
    const ip = newClientIp();
    const join = (code: string) => t.http().post('/api/v1/auth/join-family').set('X-Forwarded-For', ip).set(bearer(guesser.token)).send({ invite_code: code });
    for (const code of ['ZZZZZ2', 'ZZZZZ3', 'ZZZZZ4']) expect((await join(code)).status).toBe(404);
    expect429(await join(owner.inviteCode));
    const me = await t.http().get('/api/v1/auth/me').set(bearer(guesser.token)).expect(200);
    expect(me.body.user.family_id).toBe(guesser.family.id);
  });

  it('join-family: one IP is limited across users', async () => {
    const ip = newClientIp();
    const users = await Promise.all([1, 2, 3, 4].map(() => registerFamily(t, { ip: newClientIp() })));
    const statuses: number[] = [];
    for (const user of users) {
      for (let i = 0; i < 3 && statuses.length < 10; i++) {
        const res = await t.http().post('/api/v1/auth/join-family').set('X-Forwarded-For', ip).set(bearer(user.token)).send({ invite_code: 'ZZZZZ5' });
        statuses.push(res.status);
        if (res.status === 429) expect429(res);
      }
    }
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(404));
    expect(statuses[9]).toBe(429);
  });

  it('register: invite-code guessing through registration is limited per IP too', async () => {
    const ip = newClientIp();
    const register = (code: string) =>
      t.http().post('/api/v1/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: 'long enough pw', invite_code: code });
    for (let i = 0; i < 9; i++) expect((await register('ZZZZZ6')).status).toBe(404);
    expect429(await register('ZZZZZ7'));
  });

  it('invite-code guesses through join-family and register share one budget per network (not one per route)', async () => {
    const ip = newClientIp();
    const guessers = await Promise.all([1, 2].map(() => registerFamily(t, { ip: newClientIp() })));
    const join = (user: (typeof guessers)[number], code: string) =>
      t.http().post('/api/v1/auth/join-family').set('X-Forwarded-For', ip).set(bearer(user.token)).send({ invite_code: code });
    const register = (code: string) =>
      t.http().post('/api/v1/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: 'long enough pw', invite_code: code });
    // 5 failed joins (2 users, under the per-account limit of 3) + 4 failed registrations = 9 = 3 × 3.
    for (const [user, code] of [[0, 'ZZZZZ2'], [0, 'ZZZZZ3'], [0, 'ZZZZZ4'], [1, 'ZZZZZ5'], [1, 'ZZZZZ6']] as const) {
      expect((await join(guessers[user], code)).status).toBe(404);
    }
    for (const code of ['ZZZZZ7', 'ZZZZZ8', 'ZZZZZ9', 'ZZZZYZ']) expect((await register(code)).status).toBe(404);
    // register's own per-route budget has 5 attempts left, but the guesses are spent.
    expect429(await register('ZZZZY2'));
    // A registration without a code is not a guess.
    expect((await t.http().post('/api/v1/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: 'long enough pw' })).status).toBe(201);
  });

  it('IPv6: one /48 rotating through its /64s gets 4× the /64 budget in all, not one per /64', async () => {
    // 3fff::/20 is a documentation prefix too; the test above uses 2001:db8::/32, so no shared /48.
    const site = `3fff:${randomInt(0x1000).toString(16)}:${randomInt(0x10000).toString(16)}`;
    for (let i = 0; i < 36; i++) expect((await login(`${site}:${i.toString(16)}::1`, uniqueEmail('v6site'))).status).toBe(401);
    expect429(await login(`${site}:ffff::1`, uniqueEmail('v6site')));
  });

  it('register: one email is limited per account (failed attempts: the 201 does not count)', async () => {
    const email = uniqueEmail();
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await t.http().post('/api/v1/auth/register').set('X-Forwarded-For', newClientIp()).send({ email, password: 'long enough pw' })).status);
    }
    expect(statuses).toEqual([201, 409, 409, 409, 429]);
  });

  it('login: successful sign-ins do not use up the account budget (several phones, frequent sign-ins)', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    for (let i = 0; i < 6; i++) expect((await login(newClientIp(), user.email, user.password)).status).toBe(200);
    // The failure budget is intact: 3 failures, then 429.
    for (let i = 0; i < 3; i++) expect((await login(newClientIp(), user.email)).status).toBe(401);
    expect429(await login(newClientIp(), user.email));
  });

  it('POST /families: founding, leaving and founding again is limited per user (every attempt counts), and per network', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    const found = (ip = newClientIp()) => t.http().post('/api/v1/families').set('X-Forwarded-For', ip).set(bearer(user.token)).send({});
    const leave = () => t.http().post('/api/v1/families/me/leave').set(bearer(user.token)).expect(204);
    await leave();
    for (let i = 0; i < 3; i++) {
      expect((await found()).status).toBe(201);
      await leave();
    }
    expect429(await found());
    // The 429 founded nothing: the user is still in no family.
    expect((await t.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(200)).body.user.family_id).toBeNull();

    // One network founding for many users: 3× the account limit, whatever the outcome (409s count too).
    const ip = newClientIp();
    const others = await Promise.all([1, 2, 3, 4].map(() => registerFamily(t, { ip: newClientIp() })));
    for (const other of others.slice(0, 3)) {
      for (let i = 0; i < 3; i++) expect((await t.http().post('/api/v1/families').set('X-Forwarded-For', ip).set(bearer(other.token)).send({})).status).toBe(409);
    }
    // A fourth user, whose own budget is untouched, is refused on that network, and not on another.
    expect429(await t.http().post('/api/v1/families').set('X-Forwarded-For', ip).set(bearer(others[3].token)).send({}));
    expect((await t.http().post('/api/v1/families').set('X-Forwarded-For', newClientIp()).set(bearer(others[3].token)).send({})).status).toBe(409);
  });

  it('a proxy that writes the source port (address:port, [v6]:port): a new port is not a new budget', async () => {
    const ip = newClientIp();
    const register = (from: string) =>
      t.http().post('/api/v1/auth/register').set('X-Forwarded-For', from).send({ email: uniqueEmail('port'), password: 'long enough pw', invite_code: 'ZZZZZ8' });
    for (let i = 0; i < 9; i++) expect((await register(`${ip}:${40_000 + i}`)).status).toBe(404);
    expect429(await register(`${ip}:50000`));
    expect429(await register(ip));
    // The same for IPv6 in brackets, and the IPv4-mapped spellings of the IPv4 address.
    const v6 = `2001:db8:${randomInt(0x10000).toString(16)}:${randomInt(0x10000).toString(16)}::1`;
    for (let i = 0; i < 9; i++) expect((await register(`[${v6}]:${40_000 + i}`)).status).toBe(404);
    expect429(await register(v6));
    const [a, b, c, d] = ip.split('.').map(Number);
    expect429(await register(`::ffff:${ip}`));
    expect429(await register(`[::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}]:443`));
  });

  it('IPv6: addresses of one /64 share one per-network budget', async () => {
    const [a, b] = [randomInt(0x10000), randomInt(0x10000)];
    const prefix = `2001:db8:${a.toString(16)}:${b.toString(16)}`;
    for (let i = 1; i <= 9; i++) expect((await login(`${prefix}::${i.toString(16)}`, uniqueEmail('v6'))).status).toBe(401);
    expect429(await login(`${prefix}:ffff:ffff:ffff:ffff`, uniqueEmail('v6')));
    // The next /64 is another client.
    expect((await login(`2001:db8:${a.toString(16)}:${(b ^ 1).toString(16)}::1`, uniqueEmail('v6'))).status).toBe(401);
  });
});

/**
 * The reviewer's set-up: TRUST_PROXY=loopback (the test client connects from 127.0.0.1, so it plays
 * a trusted proxy), AUTH_RATE_LIMIT=2, and a proxy that writes `address:port` into X-Forwarded-For
 * as Azure Application Gateway does. An entry with a port is no IP to Express, so it is never
 * trusted and becomes `request.ip` as written; the guard must drop the port itself.
 */
describe('auth rate limits behind a proxy that writes ports (e2e, TRUST_PROXY=loopback)', () => {
  const t = useTestApp({ AUTH_RATE_LIMIT: '2', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: 'loopback' });

  it('12 wrong invite codes from one address on 12 source ports: 6 × 404, then 6 × 429', async () => {
    const ip = `203.0.113.${randomInt(1, 255)}`;
    const firstPort = 1024 + randomInt(60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const port = firstPort + i;
      const res = await t.http().post('/api/v1/auth/register')
        .set('X-Forwarded-For', `198.51.100.1, ${ip}:${port}`)
        .send({ email: uniqueEmail('azure'), password: 'long enough pw', invite_code: 'ZZZZZ9' });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(6).fill(404), ...Array(6).fill(429)]);
    // The address without a port is the same client.
    const plain = await t.http().post('/api/v1/auth/register').set('X-Forwarded-For', ip)
      .send({ email: uniqueEmail('azure'), password: 'long enough pw', invite_code: 'ZZZZZ9' });
    expect(plain.status).toBe(429);
    // The forged left-most entry is not the client: its network still has its budget.
    const forged = await t.http().post('/api/v1/auth/register').set('X-Forwarded-For', '198.51.100.1')
      .send({ email: uniqueEmail('azure'), password: 'long enough pw', invite_code: 'ZZZZZ9' });
    expect(forged.status).toBe(404);
  });
});

/**
 * Two instances of the app behind one load balancer, on one database: the budgets are the
 * database's, so attempts through either add up and the limits hold for the pair as for one.
 */
describe('auth rate limits across two instances (e2e)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // One after the other: createTestApp sets process.env while the app reads its configuration.
    a = await createTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: '1' });
    b = await createTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: '1' });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  const login = (t: TestApp, ip: string, email: string, password = 'wrong password') =>
    t.http().post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ email, password });

  it('failures on one account through A and B add up: the 4th attempt is refused on both, the right password too', async () => {
    const user = await registerFamily(a, { ip: newClientIp() });
    for (const t of [a, b, a]) expect((await login(t, newClientIp(), user.email)).status).toBe(401);
    for (const t of [b, a]) {
      const refused = await login(t, newClientIp(), user.email, user.password);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body.details).toMatchObject({ code: 'RATE_LIMITED' });
    }
  });

  it('one network spraying accounts through A and B is refused after 3× the account limit in all', async () => {
    const ip = newClientIp();
    for (let i = 0; i < 9; i++) expect((await login(i % 2 ? b : a, ip, uniqueEmail('split'))).status).toBe(401);
    expect((await login(a, ip, uniqueEmail('split'))).status).toBe(429);
    expect((await login(b, ip, uniqueEmail('split'))).status).toBe(429);
  });

  it('a burst of concurrent wrong passwords for one account, split across A and B: exactly 3 are tried', async () => {
    const user = await registerFamily(b, { ip: newClientIp() });
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? b : a, newClientIp(), user.email).then((res) => res.status)));
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
  });

  it('invite-code guesses from one network, by join-family on A and register on B: one budget of 9', async () => {
    const ip = newClientIp();
    const guessers = await Promise.all([1, 2].map(() => registerFamily(a, { ip: newClientIp() })));
    for (const [user, code] of [[0, 'ZZZZZ2'], [0, 'ZZZZZ3'], [1, 'ZZZZZ4'], [1, 'ZZZZZ5']] as const) {
      expect((await a.http().post('/api/v1/auth/join-family').set('X-Forwarded-For', ip).set(bearer(guessers[user].token)).send({ invite_code: code })).status).toBe(404);
    }
    const register = (code: string) =>
      b.http().post('/api/v1/auth/register').set('X-Forwarded-For', ip).send({ email: uniqueEmail(), password: 'long enough pw', invite_code: code });
    for (const code of ['ZZZZZ6', 'ZZZZZ7', 'ZZZZZ8', 'ZZZZZ9', 'ZZZZYZ']) expect((await register(code)).status).toBe(404);
    expect((await register('ZZZZY2')).status).toBe(429);
  });
});
