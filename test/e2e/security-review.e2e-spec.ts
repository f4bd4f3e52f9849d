import { DataSource } from 'typeorm';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

/** Attacker-side probes of auth, families and documents: every odd input answers 4xx, never 500. */
describe('security review (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

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

describe('security review: text PostgreSQL cannot store (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

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
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

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
