import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { bearer, familyWithMember, joinFamily, registerFamily } from '../factories/auth.factory.js';
import { lockSignIns } from '../../src/modules/auth/refresh-token-revocation.js';
import { useTestApp } from '../setup/test-app.js';
import { until } from '../setup/wait.js';

/** Attacker-side probes of auth, families and documents: every odd input answers 4xx, never 500. */
describe('security review (e2e)', () => {
  const t = useTestApp();

  it('a refresh token whose id part is 36 hex/dash characters but not a UUID answers 401 (refresh) and 204 (logout), not 500', async () => {
    const user = await registerFamily(t);
    const secret = user.refreshToken.split('.')[1];
    for (const id of ['-'.repeat(36), 'f'.repeat(36), `${'a'.repeat(8)}-${'b'.repeat(27)}`]) {
      const refresh = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: `${id}.${secret}` });
      expect([refresh.status, refresh.body.details?.code]).toEqual([401, 'INVALID_REFRESH_TOKEN']);
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: `${id}.${secret}` }).expect(204);
    }
    // The real token still works afterwards.
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    expect((await t.http().get('/api/v1/auth/me').set(bearer(user.token))).status).toBe(200);
  });
});

describe('security review: bodies of many properties (e2e)', () => {
  const t = useTestApp();

  const manyKeys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));

  it('an object of more than 100 properties answers one 400 naming it, before the ValidationPipe (whose key de-duplication is quadratic)', async () => {
    // 50,000 keys (~500 KB, under BODY_LIMIT_BYTES): class-transformer took ~2 s of event loop for it
    // (90,000: ~7 s) on routes with no rate limit, and the 400 listed every key three times (4.9 MB).
    const refresh = await t.http().post('/api/v1/auth/refresh').send(manyKeys(50_000));
    expect(refresh.status).toBe(400);
    expect(refresh.body.details).toEqual({ code: 'VALIDATION_FAILED', fields: [{ field: '(body)', errors: ['(body) has more than 100 properties'] }] });
    const user = await registerFamily(t);
    const patch = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ patient_name: manyKeys(50_000) });
    expect(patch.status).toBe(400);
    expect(patch.body.details).toEqual({ code: 'VALIDATION_FAILED', fields: [{ field: 'patient_name', errors: ['patient_name has more than 100 properties'] }] });
    // Up to 100, unknown properties are still named one by one.
    const named = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken, ...manyKeys(99) });
    expect(named.status).toBe(400);
    expect(named.body.details.fields).toHaveLength(99);
    expect(named.body.details.fields[0]).toEqual({ field: 'k0', errors: ['property k0 should not exist'] });
  });

  it('a body of more than 1,000 values (an array, or arrays under few properties) answers one short 400, before the ValidationPipe', async () => {
    // Within the per-object limit, the ValidationPipe's class-transformer still walked every value:
    // an anonymous 1 MiB array to POST /auth/refresh held the event loop ~3.7 s and was answered with
    // 51 MB ("property <i> should not exist" per item: an array body is validated as an object);
    // 99 properties holding arrays of arrays, ~3 s for a 9 KB answer (found by review).
    const refused = { code: 'VALIDATION_FAILED', fields: [{ field: '(body)', errors: ['(body) holds more than 1000 values'] }] };
    const array = await t.http().post('/api/v1/auth/refresh').send(Array.from({ length: 50_000 }, () => 1));
    expect([array.status, array.body.details]).toEqual([400, refused]);
    expect(array.text.length).toBeLessThan(500);
    const row = () => Array.from({ length: 100 }, () => 1);
    const wide = Object.fromEntries(Array.from({ length: 99 }, (_, i) => [`k${i}`, Array.from({ length: 50 }, row)]));
    const nested = await t.http().post('/api/v1/auth/refresh').send(wide);
    expect([nested.status, nested.body.details]).toEqual([400, refused]);
    // A short array body is still validated as before.
    const short = await t.http().post('/api/v1/auth/refresh').send([1, 2]);
    expect(short.status).toBe(400);
    expect(short.body.details.fields.map((f: { field: string }) => f.field)).toEqual(['0', '1', 'refresh_token']);
  });

  it('__proto__ and constructor are unknown properties like any other: 400 naming them, nothing changed', async () => {
    // class-transformer drops these two keys without a word, so the ValidationPipe never saw them:
    // PATCH {"__proto__": {...}} answered 200 as an empty PATCH (found by review; nothing was polluted).
    const user = await registerFamily(t);
    const [before] = await t.db.query('SELECT sync_version, patient_name FROM families WHERE id = $1', [user.family.id]);
    for (const key of ['__proto__', 'constructor']) {
      const body = `{"${key}": {"patient_name": "Polluted"}}`;
      const patch = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).set('Content-Type', 'application/json').send(body);
      expect([patch.status, patch.body.details]).toEqual([400, { code: 'VALIDATION_FAILED', fields: [{ field: key, errors: [`property ${key} should not exist`] }] }]);
      const refresh = await t.http().post('/api/v1/auth/refresh').set('Content-Type', 'application/json').send(`{"refresh_token": "${user.refreshToken}", "${key}": 1}`);
      expect([refresh.status, refresh.body.details?.fields]).toEqual([400, [{ field: key, errors: [`property ${key} should not exist`] }]]);
    }
    const [after] = await t.db.query('SELECT sync_version, patient_name FROM families WHERE id = $1', [user.family.id]);
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).patient_name).toBeUndefined();
    // The refresh token was not spent by the refused requests.
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
  });

  it('a property named after any other member of Object.prototype (toString, hasOwnProperty, valueOf…) is unknown too: 400 naming it, in a body or a query', async () => {
    // class-transformer skips every key whose value on the new DTO is a function, and a DTO inherits
    // Object.prototype's methods: PATCH {"notes": "…", "toString": "…"} answered 200, and GET /sync?hasOwnProperty=1
    // a full pull, as if the name were not there (found by review), while `foo` is refused.
    const user = await registerFamily(t);
    const [before] = await t.db.query('SELECT sync_version, notes FROM families WHERE id = $1', [user.family.id]);
    for (const key of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'toLocaleString', '__defineGetter__']) {
      const unknown = { code: 'VALIDATION_FAILED', fields: [{ field: key, errors: [`property ${key} should not exist`] }] };
      const patch = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ notes: 'changed', [key]: 'x' });
      expect([key, patch.status, patch.body.details]).toEqual([key, 400, unknown]);
      const refresh = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken, [key]: 1 });
      expect([key, refresh.status, refresh.body.details]).toEqual([key, 400, unknown]);
    }
    for (const key of ['toString', 'hasOwnProperty', '__proto__', 'constructor']) {
      const pull = await t.http().get(`/api/v1/sync?${key}=1`).set(bearer(user.token));
      expect([key, pull.status, pull.body.details]).toEqual([key, 400, { code: 'VALIDATION_FAILED', fields: [{ field: key, errors: [`property ${key} should not exist`] }] }]);
    }
    const [after] = await t.db.query('SELECT sync_version, notes FROM families WHERE id = $1', [user.family.id]);
    expect(after).toEqual(before);
    // The refresh token was not spent by the refused requests.
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
  });

  it('a long property name is repeated cut to 64 characters, in the message and the details', async () => {
    // A 1 MiB unknown name came back three times (3 MB); a name of a refused value (NUL) in its path too.
    const long = 'k'.repeat(500_000);
    const cut = `${'k'.repeat(64)}…`;
    const unknown = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: 'a.b', [long]: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe(`property ${cut} should not exist`);
    expect(unknown.body.details.fields).toEqual([{ field: cut, errors: [`property ${cut} should not exist`] }]);
    const nul = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: 'a.b', [long]: { [long]: 'a\u0000b' } });
    expect(nul.status).toBe(400);
    expect(nul.body.details.fields).toEqual([{ field: `${cut}.${cut}`, errors: [`${cut}.${cut} must not contain NUL characters`] }]);
    expect(unknown.text.length + nul.text.length).toBeLessThan(2_000);
    // Found by mutation testing: a name of exactly 64 characters cut (`<` for `<=`) passed every test.
    const longest = 'k'.repeat(64);
    const whole = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: 'a.b', [longest]: 1 });
    expect([whole.status, whole.body.details?.fields]).toEqual([400, [{ field: longest, errors: [`property ${longest} should not exist`] }]]);
    // Cut before an emoji the 64th character would halve: the answer is well-formed text (found by mutation
    // testing: a cut leaving half of a surrogate pair passed every test).
    const straddling = `${'k'.repeat(63)}😀x`;
    const halved = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: 'a.b', [straddling]: 1 });
    expect(halved.body.details?.fields).toEqual([{ field: `${'k'.repeat(63)}…`, errors: [`property ${'k'.repeat(63)}… should not exist`] }]);
    expect(halved.body.message.isWellFormed()).toBe(true);
  });
});

describe('security review: text PostgreSQL cannot store (e2e)', () => {
  const t = useTestApp();

  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(3000, 65), Buffer.from('\n%%EOF\n')]);
  const expectFieldRejected = (res: { status: number; body: Record<string, any> }, field: string) => {
    expect(res.status).toBe(400);
    expect(res.body.details.fields).toEqual([{ field, errors: [expect.stringMatching(/NUL|well-formed/)] }]);
  };

  it('a NUL character in a JSON string answers 400 naming the field (register, PATCH family), not 500', async () => {
    const reg = await t.http().post('/api/v1/auth/register').send({ email: `nul-${Date.now()}@example.test`, password: 'correct horse battery', name: 'a\u0000b' });
    expectFieldRejected(reg, 'name');
    const user = await registerFamily(t);
    expectFieldRejected(await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ patient_name: 'x\u0000y' }), 'patient_name');
    expectFieldRejected(await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ notes: '\ud800' }), 'notes');
    const family = await t.http().get('/api/v1/families/me').set(bearer(user.token)).expect(200);
    expect([family.body.patient_name, family.body.notes]).toEqual([null, null]);
  });

  it('a registration name longer than its column in code points answers 400 naming it, not 500; the longest one is stored whole', async () => {
    // class-validator's MaxLength counts a character and its variation selector (❤️ = U+2764 U+FE0F)
    // as one; PostgreSQL's varchar(200) counts both.
    const register = (name: string) => t.http().post('/api/v1/auth/register').send({ email: `name-${randomUUID()}@example.test`, password: 'correct horse battery', name });
    for (const name of ['❤️'.repeat(200), '❤️'.repeat(101), 'a'.repeat(201)]) {
      const res = await register(name);
      expect(res.status).toBe(400);
      expect(res.body.details.fields).toEqual([{ field: 'name', errors: ['name must be shorter than or equal to 200 characters'] }]);
    }
    for (const name of ['❤️'.repeat(100), '😀'.repeat(200)]) {
      const res = await register(name).expect(201);
      expect(res.body.user.name).toBe(name);
    }
    const docs = (await t.http().get('/docs-json').expect(200)).body.components.schemas.RegisterDto;
    expect(docs.properties.name).toMatchObject({ type: 'string', maxLength: 200 });
    expect(docs.required.sort()).toEqual(['email', 'password']);
  });

  it('a NUL character in an upload form field answers 400 naming the field and stores nothing', async () => {
    const user = await registerFamily(t);
    const upload = (fields: Record<string, string>) => {
      const req = t.http().post('/api/v1/upload').set(bearer(user.token));
      for (const [k, v] of Object.entries(fields)) req.field(k, v);
      return req.attach('file', pdf, 'scan.pdf');
    };
    expectFieldRejected(await upload({ name: 'a\u0000b', category: 'other' }), 'name');
    expectFieldRejected(await upload({ name: 'ok', category: 'other', notes: 'z\u0000' }), 'notes');
    await upload({ name: 'ok', category: 'other', notes: 'fine' }).expect(201);
    const db = t.app.get(DataSource);
    const [{ files, documents }] = await db.query(
      'SELECT (SELECT count(*)::int FROM files WHERE family_id = $1) AS files, (SELECT count(*)::int FROM documents WHERE family_id = $1) AS documents',
      [user.family.id],
    );
    expect({ files, documents }).toEqual({ files: 1, documents: 1 });
  });
});

describe('security review: numbers beyond the columns (e2e)', () => {
  const t = useTestApp();

  it('PATCH family with a birth date beyond any date answers 400 naming the field, not 500', async () => {
    const user = await registerFamily(t);
    for (const value of [1e19, 8_640_000_000_000_001]) {
      const res = await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ patient_birth_date: value });
      expect(res.status).toBe(400);
      expect(res.body.details.fields.map((f: { field: string }) => f.field)).toEqual(['patient_birth_date']);
    }
    // The largest JS date is accepted, as sync accepts it.
    await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ patient_birth_date: 8_640_000_000_000_000 }).expect(200);
  });
});

describe('security review: revocation racing a refresh (e2e)', () => {
  const t = useTestApp();

  /**
   * Plays a refresh that is between its row lock and its commit (what TokenService.rotate does in one
   * transaction): locks the presented token, marks it used and inserts the next token of the chain.
   * Runs `revocation` meanwhile, lets the refresh commit once the revocation waits on the lock, and
   * returns how many of the user's refresh tokens are still usable afterwards.
   */
  async function raceRevocation(refreshToken: string, revocation: () => PromiseLike<unknown>): Promise<number> {
    const [tokenId] = refreshToken.split('.');
    const runner = t.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // What TokenService.rotate does, up to its commit: the user's sign-in lock, then the token.
      const [{ user_id: userId }] = await runner.query('SELECT user_id FROM refresh_tokens WHERE id = $1', [tokenId]);
      await lockSignIns(runner.manager, userId);
      const [token] = await runner.query('SELECT user_id, chain_id FROM refresh_tokens WHERE id = $1 FOR UPDATE', [tokenId]);
      await runner.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1', [tokenId]);
      await runner.query(
        `INSERT INTO refresh_tokens (user_id, chain_id, token_hash, expires_at) VALUES ($1, $2, repeat('a', 64), now() + interval '1 day')`,
        [token.user_id, token.chain_id],
      );
      const [{ pid }] = await runner.query('SELECT pg_backend_pid() AS pid');
      const revoking = Promise.resolve(revocation());
      for (let i = 0; i < 200; i++) {
        const [{ waiting }] = await t.db.query(
          'SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
          [pid],
        );
        if (waiting > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await runner.commitTransaction();
      await revoking;
      const [{ usable }] = await t.db.query(
        'SELECT count(*)::int AS usable FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL',
        [token.user_id],
      );
      return usable;
    } finally {
      await runner.release();
    }
  }

  it('a member removed while one of their refreshes is in flight keeps no usable refresh token', async () => {
    const owner = await registerFamily(t);
    const member = await registerFamily(t, { invite_code: owner.inviteCode });
    const usable = await raceRevocation(member.refreshToken, () =>
      t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204),
    );
    expect(usable).toBe(0);
  });

  it('a refresh retry racing a logout of its successor never deadlocks (no 500) and leaves no usable token', async () => {
    // The retry locks its token and then the successor; the logout the chain's tokens: before one
    // lock per user (lockSignIns), they deadlocked whenever the successor's id sorted first.
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 30; round++) {
      const user = await registerFamily(t);
      const successor = (await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200)).body;
      const [retry, logout] = await Promise.all([
        t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }),
        t.http().post('/api/v1/auth/logout').send({ refresh_token: successor.refresh_token }),
      ]);
      const key = `retry ${retry.status} / logout ${logout.status}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      expect([200, 401]).toContain(retry.status);
      expect(logout.status).toBe(204);
      // Whatever the order, the sign-in is over: no refresh token of it works, nor its access tokens.
      if (retry.status === 200) {
        await t.http().post('/api/v1/auth/refresh').send({ refresh_token: retry.body.refresh_token }).expect(401);
        await t.http().get('/api/v1/auth/me').set(bearer(retry.body.access_token)).expect(401);
      }
      await t.http().get('/api/v1/auth/me').set(bearer(successor.access_token)).expect(401);
    }
    expect([...outcomes.keys()].every((k) => !k.includes('500'))).toBe(true);
  });

  it('a logout while a refresh of the same sign-in is in flight leaves no usable token in the chain', async () => {
    const user = await registerFamily(t);
    const usable = await raceRevocation(user.refreshToken, () =>
      t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204),
    );
    expect(usable).toBe(0);
  });
});

describe('security review: upload racing another family for a new document id (e2e)', () => {
  const t = useTestApp();

  it('answers 404 (like another family\'s document), not 500, and stores nothing', async () => {
    const attacker = await registerFamily(t);
    const victim = await registerFamily(t);
    const documentId = randomUUID();
    const db = t.app.get(DataSource);
    // The other family's insert of the same new id is in flight when ours runs.
    const other = await db.createQueryRunner();
    await other.connect();
    await other.startTransaction();
    await other.query(
      `INSERT INTO documents (id, family_id, name, category, created_at, updated_at, server_version, server_created_version)
       VALUES ($1, $2, 'theirs', 'other', 1, 1, 1, 1)`,
      [documentId, victim.family.id],
    );
    const [{ pid }] = await other.query('SELECT pg_backend_pid() AS pid');
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(500, 65), Buffer.from('\n%%EOF\n')]);
    const upload = t
      .http()
      .post('/api/v1/upload')
      .set(bearer(attacker.token))
      .field('document_id', documentId)
      .field('name', 'mine')
      .field('category', 'other')
      .attach('file', pdf, 'scan.pdf')
      .then((res) => res);
    // Ours is seen waiting on the other insert (not a pause that hopes so: an upload still on its way
    // would meet the committed row and answer 404 on the ordinary path, whatever the insert does).
    await until(
      async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).length > 0,
      'the upload to wait on the other family\'s insert',
    );
    await other.commitTransaction();
    await other.release();
    const res = await upload;
    expect([res.status, res.body.details?.code]).toEqual([404, 'NOT_FOUND']);
    const [{ files }] = await db.query('SELECT count(*)::int AS files FROM files WHERE family_id = $1', [attacker.family.id]);
    expect(files).toBe(0);
    const [row] = await db.query('SELECT family_id, name FROM documents WHERE id = $1', [documentId]);
    expect(row).toEqual({ family_id: victim.family.id, name: 'theirs' });
  });
});

describe('security review: a stolen sign-in and the family\'s ownership (e2e)', () => {
  const t = useTestApp();

  const roles = async (token: string): Promise<Record<string, string>> =>
    Object.fromEntries(
      (await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200)).body.members.map((m: { id: string; role: string }) => [m.id, m.role]),
    );

  it('the owner\'s access token alone cannot hand the family to an outsider: the hand-over takes the owner\'s password', async () => {
    const { owner, member } = await familyWithMember(t);
    // Whoever holds the owner's tokens (a copied refresh token, an unlocked phone) reads the invite
    // code and joins with an account of their own: a member, whom the owner sees and can remove.
    const code: string = (await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200)).body.invite_code;
    const intruder = await joinFamily(t, code);
    // Before, the token then made that account the owner (200), which removed the parents for good:
    // their password, changed or not, no longer reached the child's records.
    const unconfirmed = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: intruder.user.id });
    expect([unconfirmed.status, unconfirmed.body.details?.fields?.map((f: { field: string }) => f.field)]).toEqual([400, ['password']]);
    const guessed = await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: intruder.user.id, password: 'a guess at it' });
    expect([guessed.status, guessed.body.details?.code]).toEqual([401, 'INVALID_CREDENTIALS']);
    const expected = { [owner.user.id]: 'owner', [member.user.id]: 'member', [intruder.user.id]: 'member' };
    expect(await roles(owner.token)).toEqual(expected);
    await t.http().delete(`/api/v1/families/me/members/${owner.user.id}`).set(bearer(intruder.token)).expect(403);
    // The owner's token still works (a wrong password ends no sign-in), and the owner, who knows the password, removes the intruder.
    await t.http().delete(`/api/v1/families/me/members/${intruder.user.id}`).set(bearer(owner.token)).expect(204);
    await t.http().post('/api/v1/families/me/owner').set(bearer(owner.token)).send({ user_id: member.user.id, password: owner.password }).expect(200);
    expect(await roles(member.token)).toEqual({ [owner.user.id]: 'member', [member.user.id]: 'owner' });
  });
});
