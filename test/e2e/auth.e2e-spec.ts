import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { FamilyMembershipService } from '../../src/modules/families/family-membership.service.js';
import { bearer, DEFAULT_PASSWORD, familyWithMember, joinFamily, registerFamily, resignToken, uniqueEmail } from '../factories/auth.factory.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { createTestApp, useTestApp, type TestApp } from '../setup/test-app.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';

/**
 * Runs `body` while another session holds the row `id` of `table` (FOR UPDATE, in a transaction the
 * body ends with `holder.query('COMMIT')`). `waiting(n, what)` returns once n sessions wait behind it.
 */
async function holdingRow<T>(
  table: 'users' | 'refresh_tokens',
  id: string,
  body: (row: { holder: pg.Client; waiting: (n: number, what: string) => Promise<void> }) => Promise<T>,
): Promise<T> {
  const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  const observer = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await holder.connect();
  await observer.connect();
  try {
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM ${table} WHERE id = $1 FOR UPDATE`, [id]);
    const waiting = (n: number, what: string) => until(async () => (await sessionsWaitingBehind(observer, rows[0].pid)) === n, what);
    return await body({ holder, waiting });
  } finally {
    await holder.end();
    await observer.end();
  }
}

const ERROR_SHAPE = { statusCode: expect.any(Number), error: expect.any(String), message: expect.any(String) };

describe('auth (e2e)', () => {
  const t = useTestApp();

  describe('register → login → me', () => {
    it('registers an owner with a new family, logs in and reads /me', async () => {
      const email = uniqueEmail('owner');
      const reg = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD, name: 'Leila' }).expect(201);
      expect(reg.body).toMatchObject({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 900,
        user: { id: expect.any(String), email, name: 'Leila', family_id: expect.any(String), role: 'owner' },
      });
      expect(reg.body.user).not.toHaveProperty('password_hash');
      expect(JSON.stringify(reg.body)).not.toContain(DEFAULT_PASSWORD);

      const login = await t.http().post('/api/v1/auth/login').send({ email, password: DEFAULT_PASSWORD }).expect(200);
      expect(login.body.user.id).toBe(reg.body.user.id);
      expect(login.body.refresh_token).not.toBe(reg.body.refresh_token);

      const me = await t.http().get('/api/v1/auth/me').set(bearer(login.body.access_token)).expect(200);
      expect(me.body.user).toEqual(reg.body.user);
      expect(me.body.family).toMatchObject({ id: reg.body.user.family_id, invite_code: expect.stringMatching(/^[A-HJKMNP-Z2-9]{6}$/) });

      const [stored] = await t.db.query('SELECT password_hash FROM users WHERE id = $1', [reg.body.user.id]);
      expect(stored.password_hash).toMatch(/^\$argon2id\$/);
    });

    it('a name is trimmed, and one of spaces only is no name (null, not "")', async () => {
      const named = await t.http().post('/api/v1/auth/register').send({ email: uniqueEmail(), password: DEFAULT_PASSWORD, name: '  Leila \t' }).expect(201);
      expect(named.body.user.name).toBe('Leila');
      const blank = await t.http().post('/api/v1/auth/register').send({ email: uniqueEmail(), password: DEFAULT_PASSWORD, name: ' \u00a0 ' }).expect(201);
      expect(blank.body.user.name).toBeNull();
    });

    it('hashes at the PASSWORD_HASH_* cost the app starts with (the other in-process apps of the suite are given a cheaper PasswordService)', async () => {
      const hashOf = async (app: { http: TestApp['http'] }, db: DataSource) => {
        const email = uniqueEmail('cost');
        const reg = await app.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(201);
        return (await db.query('SELECT password_hash FROM users WHERE id = $1', [reg.body.user.id]))[0].password_hash as string;
      };
      expect(await hashOf(t, t.db)).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/); // IN_PROCESS_PASSWORD_HASH_COST
      const configured = await createTestApp({ PASSWORD_HASH_MEMORY_KIB: '19456', PASSWORD_HASH_ITERATIONS: '3', PASSWORD_HASH_PARALLELISM: '2' });
      try {
        expect(await hashOf(configured, configured.app.get(DataSource))).toMatch(/^\$argon2id\$v=19\$m=19456,t=3,p=2\$/);
      } finally {
        await configured.close();
      }
    });

    it('trims the email, stores it lower-cased and compares it case-insensitively', async () => {
      const email = uniqueEmail('Mixed.Case');
      const reg = await t.http().post('/api/v1/auth/register').send({ email: `  ${email}  `, password: DEFAULT_PASSWORD }).expect(201);
      expect(reg.body.user.email).toBe(email.toLowerCase());
      const login = await t.http().post('/api/v1/auth/login').send({ email: ` ${email.toUpperCase()} `, password: DEFAULT_PASSWORD }).expect(200);
      expect(login.body.user.email).toBe(email.toLowerCase());
    });

    it('non-ASCII emails: case and Unicode form do not make a second account, on any database locale', async () => {
      const local = `ÄBC-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      const upper = `${local}@Exämple.test`;
      const stored = `${local.toLowerCase()}@exämple.test`.normalize('NFC');
      const decomposed = upper.normalize('NFD');
      const reg = await t.http().post('/api/v1/auth/register').send({ email: upper, password: DEFAULT_PASSWORD }).expect(201);
      expect(reg.body.user.email).toBe(stored);
      const [row] = await t.db.query('SELECT email FROM users WHERE id = $1', [reg.body.user.id]);
      expect(row.email).toBe(stored);

      // Register: the lower-case and the decomposed spellings are the same account (409), also when joining a family.
      for (const email of [stored, decomposed, ` ${decomposed.toLowerCase()} `]) {
        const res = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(409);
        expect(res.body.details.code).toBe('EMAIL_TAKEN');
      }
      const owner = await registerFamily(t);
      await t.http().post('/api/v1/auth/register').send({ email: stored, password: DEFAULT_PASSWORD, invite_code: owner.inviteCode }).expect(409);

      // Login: every spelling finds it.
      for (const email of [upper, stored, decomposed, decomposed.toLowerCase()]) {
        const res = await t.http().post('/api/v1/auth/login').send({ email, password: DEFAULT_PASSWORD });
        expect({ email, status: res.status, id: res.body.user?.id }).toEqual({ email, status: 200, id: reg.body.user.id });
      }
      const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM users WHERE email = $1', [stored]);
      expect(count).toBe(1);
    });

    it('an i typed as the dotted capital İ (a Turkish keyboard upper-cases i so) is the same account: no look-alike second one', async () => {
      // 'İ'.toLowerCase() is i + combining dot above (U+0307), which looks like i: `İlker@…` (a
      // Turkish phone capitalizing the first letter) did not find the account of `ilker@…` (401), and
      // registered a second account, whose address no mailbox has (found by review).
      const email = `ilker-${randomUUID()}@gmail.example`;
      const reg = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(201);
      const typed = [`İ${email.slice(1)}`, email.toUpperCase().replace(/I/g, 'İ'), `i\u0307${email.slice(1)}`, `I\u0307${email.slice(1)}`];
      for (const spelling of typed) {
        const login = await t.http().post('/api/v1/auth/login').send({ email: spelling, password: DEFAULT_PASSWORD });
        expect({ spelling, status: login.status, id: login.body.user?.id }).toEqual({ spelling, status: 200, id: reg.body.user.id });
        const again = await t.http().post('/api/v1/auth/register').send({ email: spelling, password: DEFAULT_PASSWORD });
        expect({ spelling, status: again.status, code: again.body.details?.code }).toEqual({ spelling, status: 409, code: 'EMAIL_TAKEN' });
      }
      // Registered that way first, the account is stored with the plain i.
      const other = `İpek-${randomUUID()}@example.test`;
      const second = await t.http().post('/api/v1/auth/register').send({ email: other, password: DEFAULT_PASSWORD }).expect(201);
      expect(second.body.user.email).toBe(`ipek${other.slice(4)}`.toLowerCase());
    });

    it('answers 409 for a duplicate email, also in another case', async () => {
      const email = uniqueEmail('dup');
      await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(201);
      const same = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(409);
      expect(same.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 409, details: { code: 'EMAIL_TAKEN' } });
      await t.http().post('/api/v1/auth/register').send({ email: email.toUpperCase(), password: DEFAULT_PASSWORD }).expect(409);
    });

    it('keeps one account when the same email registers concurrently', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        [email, email.toUpperCase(), ` ${email}`].map((e) => t.http().post('/api/v1/auth/register').send({ email: e, password: DEFAULT_PASSWORD })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM users WHERE email = $1', [email]);
      expect(count).toBe(1);
    });

    it('rejects a password under 8 characters with 400 naming the field', async () => {
      const res = await t.http().post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'short' }).expect(400);
      expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 400, details: { code: 'VALIDATION_FAILED' } });
      expect(res.body.message).toMatch(/password/);
      expect(res.body.details.fields).toEqual([{ field: 'password', errors: [expect.stringMatching(/8 characters/)] }]);
    });

    it('a value that is not a string is answered with the rule that says so, not also the length and pattern rules only a string can break', async () => {
      // `email: null` (an app's empty form field) said "email must be shorter than or equal to 320 characters; email must be an email".
      const fields = async (path: string, body: Record<string, unknown>) =>
        (await t.http().post(path).send(body).expect(400)).body.details.fields as Array<{ field: string; errors: string[] }>;
      expect(await fields('/api/v1/auth/login', { email: null, password: 12345678 })).toEqual([
        { field: 'email', errors: ['email must be an email'] },
        { field: 'password', errors: ['password must be a string'] },
      ]);
      expect(await fields('/api/v1/auth/register', { email: uniqueEmail(), password: ['correct horse battery'], invite_code: 123456 })).toEqual([
        { field: 'password', errors: ['password must be a string'] },
        { field: 'invite_code', errors: ['invite_code must be a string'] },
      ]);
      // A missing field too: what it must be, not every rule a string would be held to.
      expect(await fields('/api/v1/auth/refresh', {})).toEqual([
        { field: 'refresh_token', errors: ['refresh_token should not be empty', 'refresh_token must be a string'] },
      ]);
      // Strings are still held to every rule they break.
      expect(await fields('/api/v1/auth/register', { email: `${'x'.repeat(321)}@example.test`, password: 'short', invite_code: '12345' })).toEqual([
        { field: 'email', errors: ['email must be shorter than or equal to 320 characters', 'email must be an email'] },
        { field: 'password', errors: ['password must be longer than or equal to 8 characters'] },
        { field: 'invite_code', errors: ['invite_code must match /^[A-Za-z0-9]{6}$/ regular expression', 'invite_code must be longer than or equal to 6 characters'] },
      ]);
    });

    describe('emails with control characters, line breaks or bidi controls (found by review)', () => {
      const CHARACTERS = 'email must not contain control characters, line breaks or bidirectional-text controls';
      // What class-validator's IsEmail accepts: controls in a quoted local part, separators and bidi controls even unquoted.
      const refused = (): Array<[string, string]> => [
        ['ESC and BEL in quotes (sets a terminal\'s title)', `"\x1b]0;pwned\x07${randomUUID()}"@example.test`],
        ['CR/LF in quotes (no reset email could be sent)', `"a\r\nb-${randomUUID()}"@example.test`],
        ['a bidi override, unquoted', `user-${randomUUID()}\u202egpj.test@example.test`],
      ];
      const expect400NamingEmail = (res: { status: number; body: Record<string, any> }) => {
        expect({ status: res.status, code: res.body.details?.code, fields: res.body.details?.fields }).toEqual({
          status: 400,
          code: 'VALIDATION_FAILED',
          fields: [{ field: 'email', errors: [CHARACTERS] }],
        });
        expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 400, error: 'Bad Request' });
      };

      it('register answers 400 naming email, and creates no account', async () => {
        for (const [what, email] of refused()) {
          const res = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD });
          expect({ what, status: res.status }).toEqual({ what, status: 400 });
          expect400NamingEmail(res);
          expect(await t.db.query('SELECT id FROM users WHERE email = $1', [email.toLowerCase()])).toEqual([]);
        }
      });

      it('login and forgot-password answer the same 400 whether or not an account has the email (one stored before the rule)', async () => {
        const others = refused();
        for (const [i, [what, email]] of refused().entries()) {
          // An account registered before emails refused these characters.
          const legacy = await registerFamily(t);
          await t.db.query('UPDATE users SET email = $1 WHERE id = $2', [email.toLowerCase(), legacy.user.id]);
          const nobody = others[i][1]; // the same kind, no account
          const answers = [];
          for (const address of [email, nobody]) {
            const login = await t.http().post('/api/v1/auth/login').send({ email: address, password: DEFAULT_PASSWORD });
            const forgot = await t.http().post('/api/v1/auth/forgot-password').send({ email: address });
            expect({ what, login: login.status, forgot: forgot.status }).toEqual({ what, login: 400, forgot: 400 });
            expect400NamingEmail(login);
            expect400NamingEmail(forgot);
            answers.push({ login: login.body, forgot: forgot.body });
          }
          expect(answers[0]).toEqual(answers[1]);
        }
        // Shaped as the 400 of an email that is not one at all (status, error, code, field): refused for everyone alike.
        const shape = (b: Record<string, any>) => ({ statusCode: b.statusCode, error: b.error, code: b.details.code, fields: b.details.fields.map((f: { field: string }) => f.field) });
        const [, email] = refused()[0];
        const notAnEmail = await t.http().post('/api/v1/auth/login').send({ email: 'not an email', password: DEFAULT_PASSWORD }).expect(400);
        const controls = await t.http().post('/api/v1/auth/login').send({ email, password: DEFAULT_PASSWORD }).expect(400);
        expect(shape(controls.body)).toEqual(shape(notAnEmail.body));
      });

      it('an invisible character (zero-width space) makes no look-alike second account: register, login and forgot-password answer 400 naming email', async () => {
        const owner = await registerFamily(t);
        const lookAlike = owner.email.replace('@', '\u200b@');
        const INVISIBLE = 'email must not contain invisible characters (zero-width spaces or joiners, soft hyphens, variation selectors)';
        const register = await t.http().post('/api/v1/auth/register').send({ email: lookAlike, password: DEFAULT_PASSWORD, invite_code: owner.inviteCode });
        const login = await t.http().post('/api/v1/auth/login').send({ email: lookAlike, password: DEFAULT_PASSWORD });
        const forgot = await t.http().post('/api/v1/auth/forgot-password').send({ email: lookAlike });
        for (const res of [register, login, forgot]) {
          expect({ status: res.status, code: res.body.details?.code, fields: res.body.details?.fields }).toEqual({
            status: 400,
            code: 'VALIDATION_FAILED',
            fields: [{ field: 'email', errors: [INVISIBLE] }],
          });
        }
        const members = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
        expect(members.body.members).toHaveLength(1);
      });

      it('a compatibility character (a ligature, a full-width, circled or modifier letter) makes no look-alike second account: register, login and forgot-password answer 400 naming email', async () => {
        // NFC keeps them: `ﬁona@…` with the ﬁ ligature was a second account beside `fiona@…`, and
        // `ｌeila@…` (an Asian keyboard left in full-width mode) one beside `leila@…` (found by review).
        const owner = await registerFamily(t, { email: `fiona-leila-${randomUUID()}@example.test` });
        const COMPATIBILITY = 'email must not contain compatibility characters (ligatures, full-width, circled, superscript or modifier letters)';
        for (const lookAlike of [owner.email.replace('fi', '\ufb01'), owner.email.replace('l', '\uff4c'), owner.email.replace('l', '\u24db'), owner.email.replace('l', '\u02e1')]) {
          const register = await t.http().post('/api/v1/auth/register').send({ email: lookAlike, password: DEFAULT_PASSWORD, invite_code: owner.inviteCode });
          const login = await t.http().post('/api/v1/auth/login').send({ email: lookAlike, password: DEFAULT_PASSWORD });
          const forgot = await t.http().post('/api/v1/auth/forgot-password').send({ email: lookAlike });
          for (const res of [register, login, forgot]) {
            expect({ lookAlike, status: res.status, code: res.body.details?.code, fields: res.body.details?.fields }).toEqual({
              lookAlike,
              status: 400,
              code: 'VALIDATION_FAILED',
              fields: [{ field: 'email', errors: [COMPATIBILITY] }],
            });
          }
        }
        const members = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
        expect(members.body.members).toHaveLength(1);
      });

      it('a quoted local part without them still registers, logs in and asks for a reset link', async () => {
        const email = `"John Doe ${randomUUID()}"@Example.test`;
        const reg = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD }).expect(201);
        expect(reg.body.user.email).toBe(email.toLowerCase());
        const login = await t.http().post('/api/v1/auth/login').send({ email, password: DEFAULT_PASSWORD }).expect(200);
        expect(login.body.user.id).toBe(reg.body.user.id);
        await t.http().post('/api/v1/auth/forgot-password').send({ email }).expect(202);
      });
    });

    it('answers wrong password and unknown email with the same 401 body', async () => {
      const { email } = await registerFamily(t);
      const wrong = await t.http().post('/api/v1/auth/login').send({ email, password: 'not the password' }).expect(401);
      const unknown = await t.http().post('/api/v1/auth/login').send({ email: uniqueEmail('ghost'), password: 'not the password' }).expect(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', details: { code: 'INVALID_CREDENTIALS' } });
    });

    describe('a login replacing a hash of another cost (PASSWORD_HASH_* changed) while another write of the hash waits', () => {
      /** The user's hash set to one of another cost than the configured one, as before a PASSWORD_HASH_* change. */
      async function withOldCostHash(user: { user: { id: string }; password: string }) {
        const argon2 = (await import('argon2')).default;
        const old = await argon2.hash(user.password, { type: argon2.argon2id, memoryCost: 19456, timeCost: 3, parallelism: 1 });
        await t.db.query('UPDATE users SET password_hash = $1 WHERE id = $2', [old, user.user.id]);
        return { argon2, old };
      }

      /**
       * Holds the user's row (another session), starts each of `writes` in turn once the ones before
       * it wait for the row, then lets go: they write the hash in that order. Answers their results.
       */
      async function queuedOnUserRow<T>(userId: string, writes: Array<() => Promise<T>>): Promise<T[]> {
        return holdingRow('users', userId, async ({ waiting, holder }) => {
          const started: Array<Promise<T>> = [];
          for (const write of writes) {
            started.push(write());
            await waiting(started.length, `${started.length} writes of the hash waiting`);
          }
          await holder.query('COMMIT');
          return Promise.all(started);
        });
      }

      const login = (user: { email: string }, password: string) =>
        t.http().post('/api/v1/auth/login').send({ email: user.email, password }).then((res) => res);

      it('two logins at once with the right password both sign in (the second found the first one\'s new hash: 401)', async () => {
        // After PASSWORD_HASH_* changes, a successful login replaces the stored hash. Two phones signing
        // in at the same moment both verified the old hash; the second one's replacement found the
        // first one's and it answered 401 INVALID_CREDENTIALS to the right password (counted as a
        // failed attempt), because its sign-in checked that the stored hash was still the old one.
        const user = await registerFamily(t);
        const { argon2, old } = await withOldCostHash(user);
        const answers = await queuedOnUserRow(user.user.id, [() => login(user, user.password), () => login(user, user.password)]);
        expect(answers.map((res) => res.status)).toEqual([200, 200]);
        for (const res of answers) await t.http().get('/api/v1/auth/me').set(bearer(res.body.access_token)).expect(200);
        const [{ password_hash: now }] = await t.db.query('SELECT password_hash FROM users WHERE id = $1', [user.user.id]);
        expect(now).not.toBe(old);
        expect(await argon2.verify(now, user.password)).toBe(true);
      });

      it('a login with the old password gets no sign-in when a password reset stored its hash first', async () => {
        const { AuthService } = await import('../../src/modules/auth/auth.service.js');
        const user = await registerFamily(t);
        await withOldCostHash(user);
        const [reset, signIn] = await queuedOnUserRow<unknown>(user.user.id, [
          () => t.app.get(AuthService).resetPassword(user.email, 'a brand new password'),
          () => login(user, user.password),
        ]);
        expect(reset).toBeDefined();
        expect(signIn).toMatchObject({ status: 401, body: { details: { code: 'INVALID_CREDENTIALS' } } });
        expect((await login(user, user.password)).status).toBe(401);
        expect((await login(user, 'a brand new password')).status).toBe(200);
      });
    });

    it('requires a bearer token for /me', async () => {
      const res = await t.http().get('/api/v1/auth/me').expect(401);
      expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401 });
      await t.http().get('/api/v1/auth/me').set('Authorization', 'Bearer not-a-jwt').expect(401);
    });

    it('rejects a refresh token used as an access token', async () => {
      const { refreshToken } = await registerFamily(t);
      await t.http().get('/api/v1/auth/me').set(bearer(refreshToken)).expect(401);
    });

    describe('a password typed in another Unicode form (one caregiver, two keyboards)', () => {
      const composed = 'Crème brûlée 2024'; // as most keyboards type it
      const decomposed = composed.normalize('NFD'); // e + U+0300 …: other keyboards and password managers
      const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });

      it('signs in whichever form registered and whichever logs in (it answered 401 INVALID_CREDENTIALS)', async () => {
        const onIphone = await registerFamily(t, { password: composed });
        await login(onIphone.email, decomposed).expect(200);
        const onAndroid = await registerFamily(t, { password: decomposed });
        await login(onAndroid.email, composed).expect(200);
        await login(onAndroid.email, 'Creme brulee 2024').expect(401);
      });

      it('a hash made before normalization, of the decomposed form, signs in as typed and is replaced: then either form signs in', async () => {
        const argon2 = (await import('argon2')).default;
        const user = await registerFamily(t);
        const legacy = await argon2.hash(decomposed, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
        await t.db.query('UPDATE users SET password_hash = $1 WHERE id = $2', [legacy, user.user.id]);
        await login(user.email, composed).expect(401); // what the old hash cannot tell
        await login(user.email, decomposed).expect(200);
        const [{ password_hash: now }] = await t.db.query('SELECT password_hash FROM users WHERE id = $1', [user.user.id]);
        expect(now).not.toBe(legacy);
        await login(user.email, composed).expect(200);
        await login(user.email, decomposed).expect(200);
      });

      it('a new password is at least 8 characters in the form it is stored in (4 decomposed `é` counted 8: a 4-character password)', async () => {
        const short = 'éééé'.normalize('NFD');
        expect(short.length).toBe(8);
        const res = await t.http().post('/api/v1/auth/register').send({ email: uniqueEmail('nfd-short'), password: short }).expect(400);
        expect(res.body.message).toMatch(/password must be longer than or equal to 8 characters/);
        const user = await registerFamily(t);
        await t.http().post('/api/v1/auth/change-password').set(bearer(user.token)).send({ current_password: user.password, new_password: short }).expect(400);
      });

      it('a new password that is the current one in another form is unchanged (it signed every other device out for nothing)', async () => {
        const user = await registerFamily(t, { password: composed });
        const res = await t.http().post('/api/v1/auth/change-password').set(bearer(user.token)).send({ current_password: composed, new_password: decomposed });
        expect(res.body.message).toBe('new_password must differ from current_password');
      });

      it('change-password stores the normalized form: the new password signs in typed either way', async () => {
        const user = await registerFamily(t);
        await t.http().post('/api/v1/auth/change-password').set(bearer(user.token))
          .send({ current_password: user.password, new_password: decomposed }).expect((res) => expect(res.status).toBeLessThan(300));
        await login(user.email, composed).expect(200);
      });
    });
  });

  describe('joining a family', () => {
    it('a second user registers with the invite code and sees the same family', async () => {
      const owner = await registerFamily(t, { name: 'Owner' });
      const member = await joinFamily(t, owner.inviteCode, { name: 'Member' });
      expect(member.user).toMatchObject({ family_id: owner.family.id, role: 'member' });
      expect(member.family.id).toBe(owner.family.id);

      const family = await t.http().get('/api/v1/families/me').set(bearer(member.token)).expect(200);
      expect(family.body.id).toBe(owner.family.id);
      expect(family.body.members).toEqual([
        { id: owner.user.id, email: owner.email, name: 'Owner', role: 'owner' },
        { id: member.user.id, email: member.email, name: 'Member', role: 'member' },
      ]);
    });

    it('accepts a lower-case invite code with spaces around it', async () => {
      const owner = await registerFamily(t);
      const member = await joinFamily(t, ` ${owner.inviteCode.toLowerCase()} `);
      expect(member.family.id).toBe(owner.family.id);
    });

    it('an unknown invite code at register answers 404 and creates no user', async () => {
      const email = uniqueEmail();
      const res = await t.http().post('/api/v1/auth/register').send({ email, password: DEFAULT_PASSWORD, invite_code: 'ZZZZZZ' });
      // ZZZZZZ may exist by chance in a long run; overwhelmingly it does not.
      expect(res.status).toBe(404);
      expect(res.body.details.code).toBe('INVITE_CODE_INVALID');
      const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM users WHERE email = $1', [email]);
      expect(count).toBe(0);
    });

    it('POST /join-family moves a lone owner into another family', async () => {
      const a = await registerFamily(t);
      const b = await registerFamily(t);
      const res = await t.http().post('/api/v1/auth/join-family').set(bearer(b.token)).send({ invite_code: a.inviteCode.toLowerCase() }).expect(200);
      expect(res.body.user).toMatchObject({ id: b.user.id, family_id: a.family.id, role: 'member' });
      expect(res.body.family.id).toBe(a.family.id);
      // The same access token now works in the new family: membership is read from the database.
      const family = await t.http().get('/api/v1/families/me').set(bearer(b.token)).expect(200);
      expect(family.body.members.map((m: { id: string }) => m.id)).toEqual([a.user.id, b.user.id]);
      const [row] = await t.db.query('SELECT family_joined_version FROM users WHERE id = $1', [b.user.id]);
      const [fam] = await t.db.query('SELECT sync_version FROM families WHERE id = $1', [a.family.id]);
      expect(Number(row.family_joined_version)).toBe(Number(fam.sync_version));
      // b's old family has no members left: it has no invite code any more, its records stay.
      const [left] = await t.db.query('SELECT invite_code FROM families WHERE id = $1', [b.family.id]);
      expect(left.invite_code).toBeNull();
      await t.http().post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'long enough', invite_code: b.inviteCode }).expect(404);
    });

    it('POST /join-family takes a join version above every version of the family left, whatever the clocks did', async () => {
      const from = await registerFamily(t);
      const to = await registerFamily(t);
      // The family being left ran ahead of the clock (e.g. a server with a fast clock wrote there).
      const ahead = Date.now() + 10 * 24 * 3600 * 1000;
      await t.db.query('UPDATE families SET sync_version = $1 WHERE id = $2', [ahead, from.family.id]);
      await t.http().post('/api/v1/auth/join-family').set(bearer(from.token)).send({ invite_code: to.inviteCode }).expect(200);
      const [row] = await t.db.query('SELECT family_joined_version FROM users WHERE id = $1', [from.user.id]);
      expect(Number(row.family_joined_version)).toBeGreaterThan(ahead);
      // So a cursor from the old family gets a replacement snapshot of the new one.
      const pull = await t.http().get(`/api/v1/sync?last_pulled_at=${ahead}`).set(bearer(from.token)).expect(200);
      expect(pull.body.experimentalStrategy).toBe('replacement');
    });

    it('POST /join-family by a removed member takes a join version above every version of the family they were removed from, whatever the clocks did', async () => {
      const { owner, member } = await familyWithMember(t);
      const to = await registerFamily(t);
      const history = randomUUID();
      await push(t, { token: to.token, familyId: to.family.id }, 0, changesOf('reminders', { created: [{ id: history, title: 'before the join', remind_at: 1, frequency: 'once', is_completed: false }] })).expect(200);
      // The family being left ran ahead of the clock (a server with a fast clock wrote there); the
      // member's phone pulled it there, so its cursor is `ahead`.
      const ahead = Date.now() + 10 * 24 * 3600 * 1000;
      await t.db.query('UPDATE families SET sync_version = $1 WHERE id = $2', [ahead, owner.family.id]);
      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      const token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      await t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: to.inviteCode }).expect(200);
      // The same fast clock writes to the new family later, past the phone's cursor: still a replacement
      // (incremental, the phone kept the old family's records and never got the new one's history).
      await t.db.query('UPDATE families SET sync_version = $1 WHERE id = $2', [ahead + 60_000, to.family.id]);
      const res = await pull(t, { token, familyId: to.family.id }, ahead).expect(200);
      expect(res.body.experimentalStrategy).toBe('replacement');
      // The new family's whole history (listed by the cursor: no X-Device-Id says what the phone holds).
      const { created, updated } = res.body.changes.reminders;
      expect([...created, ...updated].map((r: { id: string }) => r.id)).toEqual([history]);
      const [row] = await t.db.query('SELECT family_joined_version FROM users WHERE id = $1', [member.user.id]);
      expect(Number(row.family_joined_version)).toBeGreaterThan(ahead);
    });

    it('POST /join-family by a removed member, signed in again, puts them in the new family', async () => {
      const { owner, member } = await familyWithMember(t);
      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      // The removal ended their sign-ins: the old token is refused, a new sign-in has no family yet.
      await t.http().get('/api/v1/auth/me').set(bearer(member.token)).expect(401);
      const token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      const res = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(403);
      expect(res.body.details.code).toBe('NO_FAMILY');
      const other = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: other.inviteCode }).expect(200);
      const family = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200);
      expect(family.body.id).toBe(other.family.id);
    });

    it('a join that committed answers 200 with the family it joined even when the user\'s other phone joins another family before the answer is written (found by review: 409, or 200 naming the other family)', async () => {
      const joiner = await registerFamily(t);
      const target = await registerFamily(t);
      const elsewhere = await registerFamily(t);
      const memberships = t.app.get(FamilyMembershipService);
      const moveMember = memberships.moveMember.bind(memberships);
      let other: { status: number } | undefined;
      // Right after the join's commit, before its answer: the user's other phone joins another family.
      const spy = jest.spyOn(memberships, 'moveMember').mockImplementationOnce(async (...args) => {
        const joined = await moveMember(...args);
        other = await t.http().post('/api/v1/auth/join-family').set(bearer(joiner.token)).send({ invite_code: elsewhere.inviteCode });
        return joined;
      });
      try {
        const res = await t.http().post('/api/v1/auth/join-family').set(bearer(joiner.token)).send({ invite_code: target.inviteCode });
        expect(other?.status).toBe(200);
        // The join was made: the answer says so, with the user and the family as the join left them.
        expect(res.status).toBe(200);
        expect(res.body.user).toMatchObject({ id: joiner.user.id, family_id: target.family.id, role: 'member' });
        expect(res.body.family).toMatchObject({ id: target.family.id, invite_code: target.inviteCode });
      } finally {
        spy.mockRestore();
      }
      const [row] = await t.db.query('SELECT family_id::text AS family_id FROM users WHERE id = $1', [joiner.user.id]);
      expect(row.family_id).toBe(elsewhere.family.id);
    });

    it('a join under way when the password is changed on another phone (this one was lost) writes nothing and answers 401, as a push does', async () => {
      const victim = await registerFamily(t);
      const thief = await registerFamily(t);
      const otherPhone = (await t.http().post('/api/v1/auth/login').send({ email: victim.email, password: victim.password }).expect(200)).body;
      const memberships = t.app.get(FamilyMembershipService);
      const joinByInviteCode = memberships.joinByInviteCode.bind(memberships);
      // The lost phone's join has passed the guards; before its transaction, the owner changes the password on their other phone.
      const spy = jest.spyOn(memberships, 'joinByInviteCode').mockImplementationOnce(async (...args) => {
        await t.http().post('/api/v1/auth/change-password').set(bearer(otherPhone.access_token)).send({ current_password: victim.password, new_password: 'a brand new secret' }).expect(200);
        return joinByInviteCode(...args);
      });
      try {
        const res = await t.http().post('/api/v1/auth/join-family').set(bearer(victim.token)).send({ invite_code: thief.inviteCode });
        expect(res.status).toBe(401);
        expect(res.body.details.code).toBe('UNAUTHENTICATED');
      } finally {
        spy.mockRestore();
      }
      // Still in their family, which keeps its invite code.
      const [row] = await t.db.query('SELECT family_id::text AS family_id, role FROM users WHERE id = $1', [victim.user.id]);
      expect(row).toEqual({ family_id: victim.family.id, role: 'owner' });
      expect(await t.db.query('SELECT invite_code FROM families WHERE id = $1', [victim.family.id])).toEqual([{ invite_code: victim.inviteCode }]);
    });

    it('refuses an owner whose family has other members (409)', async () => {
      const { owner } = await familyWithMember(t);
      const other = await registerFamily(t);
      const res = await t.http().post('/api/v1/auth/join-family').set(bearer(owner.token)).send({ invite_code: other.inviteCode }).expect(409);
      expect(res.body).toMatchObject({ statusCode: 409, details: { code: 'OWNER_HAS_MEMBERS' } });
      const me = await t.http().get('/api/v1/auth/me').set(bearer(owner.token)).expect(200);
      expect(me.body.user).toMatchObject({ family_id: owner.family.id, role: 'owner' });
    });

    it('refuses joining the family the caller is already in (409)', async () => {
      const { owner, member } = await familyWithMember(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(member.token)).send({ invite_code: owner.inviteCode }).expect(409);
    });

    it('an unknown invite code answers 404; a malformed one 400 naming the field', async () => {
      const user = await registerFamily(t);
      await t.http().post('/api/v1/auth/join-family').set(bearer(user.token)).send({ invite_code: 'ZZZZZZ' }).expect(404);
      const bad = await t.http().post('/api/v1/auth/join-family').set(bearer(user.token)).send({ invite_code: 'abc' }).expect(400);
      expect(bad.body.details.fields[0].field).toBe('invite_code');
    });

    it('requires authentication', async () => {
      await t.http().post('/api/v1/auth/join-family').send({ invite_code: 'ABCDEF' }).expect(401);
    });
  });

  describe('refresh tokens', () => {
    it('rotates: each refresh returns a new working pair', async () => {
      const user = await registerFamily(t);
      const first = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
      expect(first.body).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
      expect(first.body.refresh_token).not.toBe(user.refreshToken);
      await t.http().get('/api/v1/auth/me').set(bearer(first.body.access_token)).expect(200);
      const second = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: first.body.refresh_token }).expect(200);
      expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    });

    const refresh = (token: string) => t.http().post('/api/v1/auth/refresh').send({ refresh_token: token });

    it('reusing an old refresh token once its successor was used answers 401 and revokes the whole chain, newest token included', async () => {
      const user = await registerFamily(t);
      const rotated = await refresh(user.refreshToken).expect(200);
      const newest = await refresh(rotated.body.refresh_token).expect(200);
      const reuse = await refresh(user.refreshToken).expect(401);
      expect(reuse.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401, details: { code: 'INVALID_REFRESH_TOKEN' } });
      expect(reuse.body.message).toMatch(/reuse/);
      await refresh(newest.body.refresh_token).expect(401);
    });

    it('reuse revokes only that sign-in: another device of the same user keeps working', async () => {
      const user = await registerFamily(t);
      const other = await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const rotated = await refresh(user.refreshToken).expect(200);
      await refresh(rotated.body.refresh_token).expect(200);
      await refresh(user.refreshToken).expect(401);
      await refresh(other.body.refresh_token).expect(200);
    });

    it('a retried refresh (the response was lost) within 30 s gets a working pair; nobody is signed out', async () => {
      const user = await registerFamily(t);
      const lost = await refresh(user.refreshToken).expect(200); // the phone never receives this
      const retried = await refresh(user.refreshToken).expect(200);
      expect(retried.body.refresh_token).not.toBe(lost.body.refresh_token);
      await t.http().get('/api/v1/families/me').set(bearer(retried.body.access_token)).expect(200);
      await refresh(retried.body.refresh_token).expect(200);
    });

    // Found by mutation testing: every retry above came at once, so a grace of a few seconds passed them too;
    // a phone on a slow network retries later than that.
    it('a retry 25 s after the rotation is still within the grace', async () => {
      const user = await registerFamily(t);
      await refresh(user.refreshToken).expect(200); // lost
      await t.db.query(`UPDATE refresh_tokens SET used_at = now() - interval '25 seconds' WHERE id = $1`, [user.refreshToken.split('.')[0]]);
      const retried = await refresh(user.refreshToken).expect(200);
      await t.http().get('/api/v1/families/me').set(bearer(retried.body.access_token)).expect(200);
    });

    it('a retired token presented once the new pair is in use is reuse, even if only its access token was used: the copy does not take the sign-in over', async () => {
      const user = await registerFamily(t);
      const rotated = await refresh(user.refreshToken).expect(200);
      await t.http().get('/api/v1/families/me').set(bearer(rotated.body.access_token)).expect(200); // the phone got its pair
      const replay = await refresh(user.refreshToken).expect(401); // a copy of the old token, within the 30 s
      expect(replay.body.message).toMatch(/reuse/);
      // The whole sign-in ended: the phone signs in again, the copy holder has nothing.
      await t.http().get('/api/v1/families/me').set(bearer(rotated.body.access_token)).expect(401);
      await refresh(rotated.body.refresh_token).expect(401);
    });

    it('the first request of a pair that a retry replaced meanwhile is refused (its sign-in was superseded)', async () => {
      const user = await registerFamily(t);
      const lost = await refresh(user.refreshToken).expect(200);
      await refresh(user.refreshToken).expect(200); // retry: `lost` is superseded before it was ever used
      await t.http().get('/api/v1/families/me').set(bearer(lost.body.access_token)).expect(401);
    });

    // Found by mutation testing: a guard that took its pair's first use as recorded whether or not the
    // refresh token was still live (`affected >= 0`) passed every test. Forced here: the revocation
    // commits between the guard's read of the sign-in and its recording of the pair's first use.
    it("the first request of a pair whose sign-in is revoked while the guard records that first use is refused", async () => {
      const user = await registerFamily(t);
      const fresh = (await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
      const tokenId = String(fresh.refresh_token).split('.')[0];
      await holdingRow('refresh_tokens', tokenId, async ({ waiting, holder }) => {
        const me = t.http().get('/api/v1/auth/me').set(bearer(fresh.access_token)).then((res) => res);
        await waiting(1, 'the first use waiting for the refresh token');
        await holder.query('UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1', [tokenId]);
        await holder.query('COMMIT');
        expect((await me).status).toBe(401);
      });
    });

    it('the pair a retry replaced, presented later, revokes the chain (two holders)', async () => {
      const user = await registerFamily(t);
      const first = await refresh(user.refreshToken).expect(200);
      const second = await refresh(user.refreshToken).expect(200);
      expect((await refresh(first.body.refresh_token).expect(401)).body.message).toMatch(/reuse/);
      await refresh(second.body.refresh_token).expect(401);
    });

    // Found by mutation testing: with only one retry, a lookup of the unused successor that also matched
    // superseded (revoked) ones passed; on a second retry it could pick the first retry's pair, already
    // superseded, and leave the live one working beside the new pair: two branches of one sign-in.
    it('a second retry supersedes the first retry\'s pair too: only the newest pair works', async () => {
      const user = await registerFamily(t);
      await refresh(user.refreshToken).expect(200); // lost
      const firstRetry = await refresh(user.refreshToken).expect(200); // lost too
      const secondRetry = await refresh(user.refreshToken).expect(200);
      await t.http().get('/api/v1/families/me').set(bearer(firstRetry.body.access_token)).expect(401);
      expect((await refresh(firstRetry.body.refresh_token).expect(401)).body.message).toMatch(/reuse/);
      await refresh(secondRetry.body.refresh_token).expect(401); // the chain ended: two holders
    });

    it('a retired token presented after the 30 s grace is reuse, even if its successor was never used', async () => {
      const user = await registerFamily(t);
      const rotated = await refresh(user.refreshToken).expect(200);
      await t.db.query(`UPDATE refresh_tokens SET used_at = now() - interval '31 seconds' WHERE id = $1`, [user.refreshToken.split('.')[0]]);
      await refresh(user.refreshToken).expect(401);
      await refresh(rotated.body.refresh_token).expect(401);
    });

    it('rejects garbage, a tampered secret and a missing token', async () => {
      const user = await registerFamily(t);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: 'garbage' }).expect(401);
      const [id, secret] = user.refreshToken.split('.');
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: `${id}.${secret.slice(0, -2)}xx` }).expect(401);
      const missing = await t.http().post('/api/v1/auth/refresh').send({}).expect(400);
      expect(missing.body.details.fields[0].field).toBe('refresh_token');
      // The tampered attempt did not burn the real token.
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    });

    it('parses strictly: the real token with anything after (or around) it is refused (401) and not burned', async () => {
      const user = await registerFamily(t);
      for (const variant of [`${user.refreshToken}.junk`, `${user.refreshToken}.`, `${user.refreshToken}junk`, ` ${user.refreshToken}`]) {
        const res = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: variant });
        expect({ variant, status: res.status, code: res.body.details?.code }).toEqual({ variant, status: 401, code: 'INVALID_REFRESH_TOKEN' });
        // Logout ignores it like any token that is not one of ours: the sign-in stays.
        await t.http().post('/api/v1/auth/logout').send({ refresh_token: variant }).expect(204);
      }
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    });

    it('an access token sent as the refresh token (an app mixing its two tokens up) is an invalid refresh token, 401, and logout ignores it', async () => {
      const user = await registerFamily(t);
      const res = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.token });
      expect({ status: res.status, code: res.body.details?.code }).toEqual({ status: 401, code: 'INVALID_REFRESH_TOKEN' });
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.token }).expect(204);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    });

    it('rejects an expired refresh token', async () => {
      const user = await registerFamily(t);
      await t.db.query('UPDATE refresh_tokens SET expires_at = now() - interval \'1 second\' WHERE id = $1', [user.refreshToken.split('.')[0]]);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
    });

    it('logout revokes the refresh token (204); unknown tokens are ignored', async () => {
      const user = await registerFamily(t);
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: 'whatever' }).expect(204);
    });

    it('logout ends that sign-in\'s access tokens at once, rotated-out ones included; the user\'s other sign-ins keep working', async () => {
      const user = await registerFamily(t);
      const tablet = (await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
      const rotated = (await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200)).body;
      // A rotation does not end the access token it replaces (it expires on its own).
      await t.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(200);
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: rotated.refresh_token }).expect(204);
      for (const token of [user.token, rotated.access_token]) {
        const res = await t.http().get('/api/v1/families/me').set(bearer(token)).expect(401);
        expect(res.body).toMatchObject({ statusCode: 401, details: { code: 'UNAUTHENTICATED' } });
        await t.http().get('/api/v1/sync').set(bearer(token)).expect(401);
      }
      await t.http().get('/api/v1/families/me').set(bearer(tablet.access_token)).expect(200);
    });

    it('a detected refresh-token reuse ends the access tokens of that sign-in too', async () => {
      const user = await registerFamily(t);
      const rotated = (await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200)).body;
      await t.db.query("UPDATE refresh_tokens SET used_at = now() - interval '1 hour' WHERE id = $1", [user.refreshToken.split('.')[0]]);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
      await t.http().get('/api/v1/auth/me').set(bearer(rotated.access_token)).expect(401);
      await t.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(401);
    });

    it('stores only a hash of the refresh secret', async () => {
      const user = await registerFamily(t);
      const [id, secret] = user.refreshToken.split('.');
      const [row] = await t.db.query('SELECT token_hash FROM refresh_tokens WHERE id = $1', [id]);
      expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.token_hash).not.toContain(secret);
    });
  });

  describe('password reset', () => {
    it('access tokens issued before it stop working at once; a new sign-in works at once, in the same second', async () => {
      const { AuthService } = await import('../../src/modules/auth/auth.service.js');
      const { owner, member } = await familyWithMember(t);
      await t.http().get('/api/v1/families/me').set(bearer(member.token)).expect(200);
      // Start of a second: the sign-in below then happens in the reset's own second (a whole-second
      // issue time could not tell it from a token issued just before the reset).
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      await t.app.get(AuthService).resetPassword(member.email, 'a brand new password');
      const login = await t.http().post('/api/v1/auth/login').send({ email: member.email, password: 'a brand new password' }).expect(200);
      await t.http().get('/api/v1/auth/me').set(bearer(login.body.access_token)).expect(200);
      await t.http().get('/api/v1/families/me').set(bearer(login.body.access_token)).expect(200);
      // The same, whatever the machine's speed: tokens signed 1 ms after and 1 ms before the reset,
      // in the reset's own second.
      const { JwtService } = await import('@nestjs/jwt');
      const { testEnv } = await import('../setup/test-app.js');
      const jwt = new JwtService({ secret: testEnv().JWT_SECRET });
      const [{ tokens_valid_after: reset }] = await t.db.query('SELECT tokens_valid_after FROM users WHERE id = $1', [member.user.id]);
      const signedAt = (ms: number) => jwt.sign({ sub: member.user.id, typ: 'access', iat: Math.floor(reset.getTime() / 1000), iat_ms: ms });
      await t.http().get('/api/v1/auth/me').set(bearer(signedAt(reset.getTime() + 1))).expect(200);
      await t.http().get('/api/v1/auth/me').set(bearer(signedAt(reset.getTime() - 1))).expect(401);
      // Issued in the reset's own millisecond: not certainly after it, refused (found by mutation testing:
      // a comparison taking that millisecond, `>=`, passed every test). Likewise a whole-second `iat` of
      // the reset's own second, without `iat_ms`; the next second's is after it.
      await t.http().get('/api/v1/auth/me').set(bearer(signedAt(reset.getTime()))).expect(401);
      const signedInSecond = (s: number) => jwt.sign({ sub: member.user.id, typ: 'access', iat: s });
      await t.http().get('/api/v1/auth/me').set(bearer(signedInSecond(Math.floor(reset.getTime() / 1000)))).expect(401);
      await t.http().get('/api/v1/auth/me').set(bearer(signedInSecond(Math.floor(reset.getTime() / 1000) + 1))).expect(200);
      for (const req of [t.http().get('/api/v1/auth/me'), t.http().get('/api/v1/families/me'), t.http().get('/api/v1/sync')]) {
        const res = await req.set(bearer(member.token));
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject(ERROR_SHAPE);
      }
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: member.refreshToken }).expect(401);
      // The new sign-in's refresh works too.
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      // Only that user is affected.
      await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    });

    it("a sign-in on an instance whose clock is behind the resetting one's works at once; tokens issued before still end", async () => {
      const { AuthService } = await import('../../src/modules/auth/auth.service.js');
      const { member } = await familyWithMember(t);
      await t.app.get(AuthService).resetPassword(member.email, 'a brand new password');
      // The instance that ran the reset had a clock an hour ahead of this one.
      await t.db.query(`UPDATE users SET tokens_valid_after = now() + interval '1 hour' WHERE id = $1`, [member.user.id]);
      const login = await t.http().post('/api/v1/auth/login').send({ email: member.email, password: 'a brand new password' }).expect(200);
      await t.http().get('/api/v1/families/me').set(bearer(login.body.access_token)).expect(200);
      const refreshed = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: login.body.refresh_token }).expect(200);
      await t.http().get('/api/v1/auth/me').set(bearer(refreshed.body.access_token)).expect(200);
      // What ends the tokens of before is their revoked sign-in, not the clock.
      await t.http().get('/api/v1/auth/me').set(bearer(member.token)).expect(401);
      // A token without a sign-in id (issued before they existed) still has only the time to go by.
      const withoutSid = await resignToken(login.body.access_token, ({ sid: _sid, ...claims }) => claims);
      await t.http().get('/api/v1/auth/me').set(bearer(withoutSid)).expect(401);
    });
  });

  describe('deleted user', () => {
    it('a still-valid access token of a deleted user answers 401 everywhere', async () => {
      const user = await registerFamily(t);
      await t.db.query('DELETE FROM users WHERE id = $1', [user.user.id]);
      for (const req of [
        t.http().get('/api/v1/auth/me'),
        t.http().get('/api/v1/families/me'),
        t.http().patch('/api/v1/families/me').send({ notes: 'x' }),
        t.http().post('/api/v1/auth/join-family').send({ invite_code: 'ABCDEF' }),
      ]) {
        const res = await req.set(bearer(user.token));
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject(ERROR_SHAPE);
      }
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
    });
  });
});

describe('auth with short-lived access tokens (e2e)', () => {
  // 10 s is the shortest JWT_ACCESS_TTL accepted. Rather than wait it out, the test expires a real
  // token by moving its times back (same claims, same secret): the app cannot tell it from an old one.
  const t = useTestApp({ JWT_ACCESS_TTL: '10s' });

  const expired = (token: string) =>
    resignToken(token, (claims) => {
      expect(claims.exp - claims.iat).toBe(10);
      const back = 11; // seconds: issued 11 s ago, expired 1 s ago
      return { ...claims, iat: claims.iat - back, iat_ms: claims.iat_ms - back * 1000, exp: claims.exp - back };
    });

  it('an expired access token answers 401; a refresh gets a working one', async () => {
    const user = await registerFamily(t);
    const old = await expired(user.token);
    const res = await t.http().get('/api/v1/auth/me').set(bearer(old)).expect(401);
    expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401 });
    await t.http().get('/api/v1/families/me').set(bearer(old)).expect(401);
    const refreshed = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    expect(refreshed.body.expires_in).toBe(10);
    await t.http().get('/api/v1/auth/me').set(bearer(refreshed.body.access_token)).expect(200);
  });

  it('a validly signed token whose subject is not a UUID answers 401, not 500', async () => {
    const { JwtService } = await import('@nestjs/jwt');
    const { testEnv } = await import('../setup/test-app.js');
    const jwt = new JwtService({ secret: testEnv().JWT_SECRET });
    for (const sub of ['not-a-uuid', '', '00000000-0000-0000-0000-00000000000g', 'x'.repeat(36)]) {
      const token = jwt.sign({ sub, typ: 'access' });
      for (const path of ['/api/v1/auth/me', '/api/v1/families/me', '/api/v1/sync']) {
        const res = await t.http().get(path).set(bearer(token));
        expect({ sub, path, status: res.status }).toEqual({ sub, path, status: 401 });
        expect(res.body).toMatchObject({ ...ERROR_SHAPE, statusCode: 401 });
      }
    }
    // The same secret with a real user id works: only the subject was wrong.
    const user = await registerFamily(t);
    await t.http().get('/api/v1/auth/me').set(bearer(jwt.sign({ sub: user.user.id, typ: 'access' }))).expect(200);
  });

  it('a token signed with another secret answers 401', async () => {
    const { JwtService } = await import('@nestjs/jwt');
    const user = await registerFamily(t);
    const forged = new JwtService({ secret: 'another-secret-another-secret-another-secret' }).sign({ sub: user.user.id, typ: 'access' });
    await t.http().get('/api/v1/auth/me').set(bearer(forged)).expect(401);
  });
});

describe('expired refresh tokens are deleted (e2e)', () => {
  let t: TestApp;
  let fresh: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // Its first sign-in or refresh sweeps (then at most once a minute).
    fresh = await createTestApp();
  });
  afterAll(async () => {
    await fresh.close();
    await t.close();
  });

  it('a sign-in or refresh deletes refresh tokens expired over a day ago, and keeps the rest (live, used, expired within the day)', async () => {
    const db = t.app.get(DataSource);
    const user = await registerFamily(t);
    const signIn = () => t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const idOf = (refreshToken: string) => refreshToken.split('.')[0];
    const longExpired = idOf((await signIn()).body.refresh_token);
    const justExpired = idOf((await signIn()).body.refresh_token);
    await db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '25 hours' WHERE id = $1`, [longExpired]);
    await db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '23 hours' WHERE id = $1`, [justExpired]);

    const refreshed = await fresh.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);

    const left: Array<{ id: string }> = await db.query('SELECT id FROM refresh_tokens WHERE user_id = $1', [user.user.id]);
    expect(left.map((r) => r.id).sort()).toEqual([idOf(user.refreshToken), justExpired, idOf(refreshed.body.refresh_token)].sort());
    // The sweep touched nothing live: the new pair works.
    await t.http().get('/api/v1/auth/me').set(bearer(refreshed.body.access_token)).expect(200);
  });
});
