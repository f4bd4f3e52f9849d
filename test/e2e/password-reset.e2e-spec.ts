/**
 * Forgotten passwords: POST /api/v1/auth/forgot-password emails a single-use link (through a real
 * SMTP server started here), POST /api/v1/auth/reset-password takes its token and a new password.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { MAX_RESET_EMAILS_PER_HOUR, PasswordResetService } from '../../src/modules/auth/password-reset.service.js';
import { emailKey } from '../../src/modules/auth/rate-limit.guard.js';
import { bearer, registerFamily, uniqueEmail, type RegisteredUser } from '../factories/auth.factory.js';
import { freePort, startService, stopAll, waitForHealth } from '../setup/service-process.js';
import { SMTP_USER, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../setup/smtp-server.js';
import { expectRateLimited, newClientIp } from '../setup/rate-limits.js';
import { createTestApp, useTestApp, type TestApp } from '../setup/test-app.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';

const ERROR_SHAPE = { statusCode: expect.any(Number), error: expect.any(String), message: expect.any(String) };
const NEW_PASSWORD = 'a brand new horse battery';
const MAIL_FROM = 'HemoDay <no-reply@hemoday.test>';
const RESET_URL = 'https://app.hemoday.test/reset-password?token={token}';
const LINK = /https:\/\/app\.hemoday\.test\/reset-password\?token=([A-Za-z0-9_-]+)/;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

describe('password reset by email (e2e, real SMTP server)', () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({ SMTP_URL: smtp.url, MAIL_FROM, PASSWORD_RESET_URL: RESET_URL });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  const forgot = (email: unknown) => t.http().post('/api/v1/auth/forgot-password').send({ email });
  const reset = (token: unknown, new_password: unknown = NEW_PASSWORD) => t.http().post('/api/v1/auth/reset-password').send({ token, new_password });
  const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });
  const refresh = (token: string) => t.http().post('/api/v1/auth/refresh').send({ refresh_token: token });
  const me = (token: string) => t.http().get('/api/v1/auth/me').set(bearer(token));
  /** Waits until the requests answered so far are handled: their emails are in `smtp.received` (or were never sent). */
  const handled = () => t.app.get(PasswordResetService).idle();
  const mailsTo = (email: string) => smtp.received.filter((m) => m.envelopeTo.includes(email));
  /** Asks for a link for `user` and returns the token of the email it gets. */
  async function emailedToken(user: RegisteredUser): Promise<string> {
    const before = mailsTo(user.email).length;
    await forgot(user.email).expect(202);
    await handled();
    const mails = mailsTo(user.email);
    expect(mails).toHaveLength(before + 1);
    return tokenOf(mails[mails.length - 1]);
  }
  const tokenOf = (mail: ReceivedMail) => LINK.exec(mail.text)![1];
  const storedHash = async (userId: string): Promise<string> => (await db.query('SELECT password_hash FROM users WHERE id = $1', [userId]))[0].password_hash;

  it('emails a link; its token sets the new password, answers a sign-in, and ends every earlier sign-in', async () => {
    const user = await registerFamily(t);
    const tablet = (await login(user.email, user.password).expect(200)).body as { access_token: string; refresh_token: string };

    // Typed as people type it: the account is found all the same.
    const asked = await forgot(`  ${user.email.toUpperCase()} `).expect(202);
    expect(asked.body).toEqual({ message: expect.stringMatching(/30 minutes/), expires_in: 1800 });
    await handled();
    const [mail] = mailsTo(user.email);
    expect(mailsTo(user.email)).toHaveLength(1);
    // Sent through SMTP_URL's server, logged in with its user, from MAIL_FROM.
    expect(mail).toMatchObject({ envelopeFrom: 'no-reply@hemoday.test', envelopeTo: [user.email], authUser: SMTP_USER });
    expect(mail.headers.from).toBe(MAIL_FROM);
    expect(mail.headers.to).toBe(user.email);
    expect(mail.headers.subject).toMatch(/reset/i);
    const token = tokenOf(mail);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect(mail.text).toMatch(/works once, for 30 minutes/);
    expect(mail.html).toContain(`<a href="https://app.hemoday.test/reset-password?token=${token}">`);
    // Stored as its SHA-256 only.
    const rows: Array<Record<string, unknown>> = await db.query('SELECT * FROM password_reset_tokens WHERE user_id = $1', [user.user.id]);
    expect(rows).toEqual([expect.objectContaining({ token_hash: sha256(token), used_at: null, revoked_at: null })]);
    expect(JSON.stringify(rows)).not.toContain(token);
    const [{ minutes }] = await db.query(`SELECT round(extract(epoch FROM expires_at - created_at) / 60) AS minutes FROM password_reset_tokens WHERE user_id = $1`, [user.user.id]);
    expect(Number(minutes)).toBe(30);

    const before = await storedHash(user.user.id);
    const res = await reset(token).expect(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.stringMatching(/^[0-9a-f-]{36}\.[\w-]{43}$/),
      token_type: 'Bearer',
      expires_in: 900,
      user: user.user,
    });
    expect(await storedHash(user.user.id)).not.toBe(before);

    // Every earlier sign-in has ended: this phone's and the tablet's, access and refresh tokens.
    for (const access of [user.token, tablet.access_token]) {
      expect((await me(access).expect(401)).body.details.code).toBe('UNAUTHENTICATED');
    }
    for (const refreshToken of [user.refreshToken, tablet.refresh_token]) {
      expect((await refresh(refreshToken).expect(401)).body.details.code).toBe('INVALID_REFRESH_TOKEN');
    }
    // The new sign-in works; the old password is refused, the new one signs in.
    await me(res.body.access_token).expect(200);
    await refresh(res.body.refresh_token).expect(200);
    expect((await login(user.email, user.password).expect(401)).body.details.code).toBe('INVALID_CREDENTIALS');
    await login(user.email, NEW_PASSWORD).expect(200);

    // Single use: the link does nothing a second time.
    const again = await reset(token, 'yet another password').expect(401);
    expect(again.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401, error: 'Unauthorized', details: { code: 'INVALID_RESET_TOKEN' } });
    await login(user.email, NEW_PASSWORD).expect(200);
    await login(user.email, 'yet another password').expect(401);
  });

  it('an unknown email gets the same answer, and no email is sent to anyone', async () => {
    const user = await registerFamily(t);
    const known = await forgot(user.email).expect(202);
    const unknownEmail = uniqueEmail('nobody');
    await handled();
    const count = smtp.received.length;
    const unknown = await forgot(unknownEmail).expect(202);
    expect(unknown.body).toEqual(known.body);
    expect(Object.keys(unknown.headers).sort()).toEqual(Object.keys(known.headers).sort());
    await handled();
    expect(smtp.received.length).toBe(count);
    expect(mailsTo(unknownEmail)).toEqual([]);
  });

  it('a newer request replaces the earlier link: its token is refused, the newer one works', async () => {
    const user = await registerFamily(t);
    const first = await emailedToken(user);
    const second = await emailedToken(user);
    expect(second).not.toBe(first);
    expect((await reset(first).expect(401)).body.details.code).toBe('INVALID_RESET_TOKEN');
    await login(user.email, user.password).expect(200);
    await reset(second).expect(200);
    await login(user.email, NEW_PASSWORD).expect(200);
  });

  it('an expired link is refused and changes nothing', async () => {
    const user = await registerFamily(t);
    const token = await emailedToken(user);
    await db.query(`UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [sha256(token)]);
    expect((await reset(token).expect(401)).body.details.code).toBe('INVALID_RESET_TOKEN');
    await login(user.email, user.password).expect(200);
    await me(user.token).expect(200);
  });

  it('unknown and malformed tokens answer the same 401', async () => {
    for (const token of ['A'.repeat(43), 'not-a-token', 'A'.repeat(200)]) {
      const res = await reset(token).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, details: { code: 'INVALID_RESET_TOKEN' } });
    }
  });

  it('a token resets the password of the account it was sent to, and no other', async () => {
    const a = await registerFamily(t);
    const b = await registerFamily(t, { password: 'bs own password' });
    const token = await emailedToken(a);
    const res = await reset(token).expect(200);
    expect(res.body.user.id).toBe(a.user.id);
    await login(a.email, NEW_PASSWORD).expect(200);
    await login(b.email, NEW_PASSWORD).expect(401);
    await login(b.email, b.password).expect(200);
    await me(b.token).expect(200);
    await refresh(b.refreshToken).expect(200);
  });

  it('a password change voids a link sent before it (every password replacement does: replacePassword)', async () => {
    const user = await registerFamily(t);
    const token = await emailedToken(user);
    await t.http().post('/api/v1/auth/change-password').set(bearer(user.token)).send({ current_password: user.password, new_password: 'changed by the user' }).expect(200);
    expect((await reset(token).expect(401)).body.details.code).toBe('INVALID_RESET_TOKEN');
    await login(user.email, 'changed by the user').expect(200);
  });

  it(`at most ${MAX_RESET_EMAILS_PER_HOUR} emails an hour to one account: later requests get the same answer and send nothing; the last link still works`, async () => {
    const user = await registerFamily(t);
    let last = '';
    for (let i = 0; i < MAX_RESET_EMAILS_PER_HOUR; i++) last = await emailedToken(user);
    const over = await forgot(user.email).expect(202);
    expect(over.body).toEqual({ message: expect.any(String), expires_in: 1800 });
    await handled();
    expect(mailsTo(user.email)).toHaveLength(MAX_RESET_EMAILS_PER_HOUR);
    await reset(last).expect(200);
  });

  // Found by mutation testing: the account's own count could cover a minute instead of the hour and no
  // test failed, the address's counter refusing first. That counter has fixed windows (and is UNLOGGED:
  // a crash empties it); the account's rolling hour is what stops a burst across a window's end.
  it(`the account's cap counts the last hour, not the address counter's window: a new window after ${MAX_RESET_EMAILS_PER_HOUR} emails half an hour ago sends none`, async () => {
    const user = await registerFamily(t);
    for (let i = 0; i < MAX_RESET_EMAILS_PER_HOUR; i++) await emailedToken(user);
    await db.query(`UPDATE password_reset_tokens SET created_at = created_at - interval '30 minutes' WHERE user_id = $1`, [user.user.id]);
    await db.query(`UPDATE auth_rate_limits SET window_ends_at = now() - interval '1 second' WHERE key = $1`, [`reset-emails|${emailKey(user.email)}`]);
    await forgot(user.email).expect(202);
    await handled();
    expect(mailsTo(user.email)).toHaveLength(MAX_RESET_EMAILS_PER_HOUR);
  });

  it(`the cap of ${MAX_RESET_EMAILS_PER_HOUR} an hour is per address: deleting the account and registering the address again does not start it afresh`, async () => {
    // No email is verified at registration: whoever registers an address can also delete that account.
    const first = await registerFamily(t);
    for (let i = 0; i < MAX_RESET_EMAILS_PER_HOUR; i++) await emailedToken(first);
    await t.http().delete('/api/v1/auth/me').set(bearer(first.token)).send({ password: first.password }).expect(204);
    const again = await registerFamily(t, { email: first.email });
    await forgot(first.email).expect(202);
    await handled();
    expect(mailsTo(first.email)).toHaveLength(MAX_RESET_EMAILS_PER_HOUR);
    expect(await db.query('SELECT 1 FROM password_reset_tokens WHERE user_id = $1', [again.user.id])).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a missing email', {}, 'email', /email must be an email/],
    ['an email that is not one', { email: 'not an email' }, 'email', /email must be an email/],
    ['an unknown field', { email: 'x@example.test', password: 'x' }, 'password', /should not exist/],
  ])('forgot-password: %s answers 400 naming the field', async (_, body, field, error) => {
    const before = smtp.received.length;
    const res = await t.http().post('/api/v1/auth/forgot-password').send(body).expect(400);
    expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 400, details: { code: 'VALIDATION_FAILED' } });
    expect(res.body.details.fields).toEqual([{ field, errors: expect.arrayContaining([expect.stringMatching(error)]) }]);
    await handled();
    expect(smtp.received.length).toBe(before);
  });

  describe('reset-password: bad input answers 400 naming the field, and the link still works', () => {
    let user: RegisteredUser;
    let token: string;
    beforeAll(async () => {
      user = await registerFamily(t);
      token = await emailedToken(user);
    });

    it.each<[string, (token: string) => Record<string, unknown>, string, RegExp]>([
      ['a missing token', () => ({ new_password: NEW_PASSWORD }), 'token', /token should not be empty/],
      ['an empty token', () => ({ token: '', new_password: NEW_PASSWORD }), 'token', /should not be empty/],
      ['a missing new_password', (tk) => ({ token: tk }), 'new_password', /must be a string/],
      ['a new_password under 8 characters', (tk) => ({ token: tk, new_password: 'short' }), 'new_password', /8 characters/],
      ['a new_password over 256 characters', (tk) => ({ token: tk, new_password: 'p'.repeat(257) }), 'new_password', /256 characters/],
      ['an unknown field', (tk) => ({ token: tk, new_password: NEW_PASSWORD, email: 'x@example.test' }), 'email', /should not exist/],
    ])('%s', async (_, body, field, error) => {
      const res = await t.http().post('/api/v1/auth/reset-password').send(body(token)).expect(400);
      expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 400, details: { code: 'VALIDATION_FAILED' } });
      expect(res.body.details.fields).toEqual([{ field, errors: expect.arrayContaining([expect.stringMatching(error)]) }]);
      await login(user.email, user.password).expect(200);
    });

    afterAll(async () => {
      await reset(token).expect(200); // unused by the refused requests
    });
  });

  /**
   * Two uses of one token at once: a separate PostgreSQL session holds the user's row (which a
   * reset locks before it takes the token) until both requests queue behind it, then lets go.
   */
  it('two resets with one token at once: exactly one succeeds; its password is the one set', async () => {
    const user = await registerFamily(t);
    const token = await emailedToken(user);
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    const watcher = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await Promise.all([holder.connect(), watcher.connect()]);
    try {
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [user.user.id]);
      const first = reset(token, 'the first new password').then((r) => r);
      const second = reset(token, 'the second new password').then((r) => r);
      await until(
        // Directly behind the holder, or behind one that is (the second waits for the first's tuple lock).
        async () => (await sessionsWaitingBehind(watcher, pid)) >= 2,
        'both resets waiting for the user row',
      );
      await holder.query('COMMIT');
      const results = await Promise.all([first, second]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
      const loser = results.find((r) => r.status === 401)!;
      expect(loser.body.details.code).toBe('INVALID_RESET_TOKEN');
      const won = results[0].status === 200 ? 'the first new password' : 'the second new password';
      const lost = won === 'the first new password' ? 'the second new password' : 'the first new password';
      await login(user.email, won).expect(200);
      await login(user.email, lost).expect(401);
      const [{ live }] = await db.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [user.user.id]);
      expect(live).toBe(2); // the winner's sign-in and the login just made
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await Promise.all([holder.end(), watcher.end()]);
    }
  });
});

/** AUTH_RATE_LIMIT=3 per account, 9 per network; each test picks its client IP (TRUST_PROXY=1). No SMTP_URL: the log (silent here). */
describe('password reset rate limits (e2e)', () => {
  const t = useTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: '1' });

  const forgot = (ip: string, email: string) => t.http().post('/api/v1/auth/forgot-password').set('X-Forwarded-For', ip).send({ email });

  it('forgot-password: every request counts for the email, from any network — the same for an account and for no account', async () => {
    const user = await registerFamily(t, { ip: newClientIp() });
    for (const email of [user.email, uniqueEmail('nobody')]) {
      for (let i = 0; i < 3; i++) expect((await forgot(newClientIp(), email)).status).toBe(202);
      expectRateLimited(await forgot(newClientIp(), email));
      expectRateLimited(await forgot(newClientIp(), `  ${email.toUpperCase()}`));
    }
    // Signing in is another budget.
    expect((await t.http().post('/api/v1/auth/login').set('X-Forwarded-For', newClientIp()).send({ email: user.email, password: user.password })).status).toBe(200);
    await t.app.get(PasswordResetService).idle();
  });

  it('forgot-password: one network asking for many emails is limited at 3× the account limit', async () => {
    const ip = newClientIp();
    for (let i = 0; i < 9; i++) expect((await forgot(ip, uniqueEmail('spray'))).status).toBe(202);
    expectRateLimited(await forgot(ip, uniqueEmail('spray')));
    expect((await forgot(newClientIp(), uniqueEmail('spray'))).status).toBe(202);
    await t.app.get(PasswordResetService).idle();
  });

  it('reset-password: one network trying tokens is limited at 3× the account limit', async () => {
    const ip = newClientIp();
    const reset = () => t.http().post('/api/v1/auth/reset-password').set('X-Forwarded-For', ip).send({ token: 'A'.repeat(43), new_password: NEW_PASSWORD });
    for (let i = 0; i < 9; i++) expect((await reset()).status).toBe(401);
    expectRateLimited(await reset());
  });
});

describe('password reset without SMTP_URL in production (e2e)', () => {
  const t = useTestApp({ NODE_ENV: 'production', PASSWORD_RESET_URL: RESET_URL });

  it('forgot-password answers 503 PASSWORD_RESET_UNAVAILABLE, for an account and for no account alike', async () => {
    const user = await registerFamily(t);
    const answers = [];
    for (const email of [user.email, uniqueEmail('nobody')]) {
      const res = await t.http().post('/api/v1/auth/forgot-password').send({ email }).expect(503);
      expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String), details: { code: 'PASSWORD_RESET_UNAVAILABLE' } });
      answers.push(res.body);
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(await t.app.get(DataSource).query('SELECT 1 FROM password_reset_tokens WHERE user_id = $1', [user.user.id])).toEqual([]);
  });
});

/**
 * The built app (`node dist/main.js`) as it runs, its log read: a fresh development machine (no
 * SMTP_URL, no PASSWORD_RESET_URL) writes the email to its log, and the link there works; a mail
 * server that refuses the address leaves a log line without it.
 */
describe('password reset, the built app and its log (e2e)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hemoday-reset-log-'));
  let smtp: TestSmtpServer;
  beforeAll(async () => (smtp = await startSmtpServer({ refuseRecipient: (address) => address.startsWith('refused-') })));
  afterAll(async () => {
    await stopAll();
    await smtp?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startApp(env: Record<string, string>) {
    const port = await freePort();
    const app = startService({
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      UPLOAD_DIR: join(dataDir, 'uploads'),
      LOG_LEVEL: 'info',
      SMTP_URL: '',
      PASSWORD_RESET_URL: '',
      MAIL_FROM: '',
      ...env,
    });
    await waitForHealth(port, app);
    const post = (path: string, body: object) =>
      fetch(`http://127.0.0.1:${port}/api/v1/auth/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { app, post };
  }

  it('development without SMTP_URL: the email is written to the log at info level, with the default deep link; its token resets the password', async () => {
    const { app, post } = await startApp({ NODE_ENV: 'development' });
    const email = uniqueEmail('dev');
    expect((await post('register', { email, password: 'the first password' })).status).toBe(201);
    expect((await post('forgot-password', { email })).status).toBe(202);

    const line = JSON.parse(await app.waitFor(/email not sent \(no SMTP_URL\)/)) as { level: number; mail: { to: string; text: string } };
    expect(line.level).toBe(30); // info
    expect(line.mail.to).toBe(email);
    const token = /hemoday:\/\/reset-password\?token=([A-Za-z0-9_-]{43})/.exec(line.mail.text)![1];
    expect((await post('reset-password', { token, new_password: NEW_PASSWORD })).status).toBe(200);
    expect((await post('login', { email, password: NEW_PASSWORD })).status).toBe(200);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });

  it('a mail server that refuses the address: still 202; the error is logged with the user id and the SMTP code, never the address', async () => {
    const { app, post } = await startApp({ NODE_ENV: 'test', SMTP_URL: smtp.url, MAIL_FROM, PASSWORD_RESET_URL: RESET_URL });
    const email = uniqueEmail('refused');
    const registered = await post('register', { email, password: 'the first password' });
    const { user } = (await registered.json()) as { user: { id: string } };
    const asked = await post('forgot-password', { email });
    expect(asked.status).toBe(202);

    const line = JSON.parse(await app.waitFor(/password reset email could not be sent/)) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 50, userId: user.id, cause: { code: 'EENVELOPE', responseCode: 550, message: expect.stringContaining('[address]') } });
    // Sent after the answer, and still the request's line (found by mutation testing: a send run outside the request's context passed).
    expect(line.reqId).toBe(asked.headers.get('x-request-id'));
    expect(app.output()).not.toContain(email);
    expect(app.output()).not.toContain(email.split('@')[0]);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });
});
