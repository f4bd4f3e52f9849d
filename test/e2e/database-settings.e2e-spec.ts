import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { queryOnce, scratchDatabases } from '../setup/scratch-databases.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

/**
 * A database that is not UTF8 (what `createdb` makes on a cluster initialised under the C locale) is
 * refused at start-up, naming its encoding. The app used to start on it and answer 500 to valid
 * writes: SQL_ASCII counts varchar(n) in bytes, so a patient name of 200 'é' — accepted by the
 * validator, which counts characters — failed the UPDATE (found by review).
 */
describe('database encoding', () => {
  const name = `hemoday_sql_ascii_${process.pid}_${Date.now()}`;
  let admin: pg.Client;
  let url: string;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    const target = new URL(process.env.TEST_DATABASE_URL!);
    target.pathname = `/${name}`;
    url = target.toString();
  });

  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('a SQL_ASCII database stops the start-up, naming its encoding, before any migration runs on it', async () => {
    let started: TestApp | undefined;
    const outcome = await createTestApp({ DATABASE_URL: url }).then(
      (app) => {
        started = app;
        return 'started';
      },
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    await started?.close();
    expect(outcome).toBe(
      `database "${name}" has the encoding SQL_ASCII; HemoDay needs a UTF8 database ` +
        `(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0, or createdb --encoding=UTF8 --template=template0)`,
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});

/**
 * A server, database or role with `extra_float_digits = 0` prints float8 to 15 significant digits:
 * the pull (row_to_json) and the family's REST answer (TypeORM) sent back other numbers than the
 * phone pushed — 0.1 + 0.2 came back 0.3 (found by review). The app's connections ask for exact
 * floats in their start-up packet (exact-floats-client.ts).
 */
describe('database float output', () => {
  const scratch = scratchDatabases('hemoday_floats');
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    await scratch.open();
    url = await scratch.create();
    await queryOnce(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET extra_float_digits = 0`);
    t = await createTestApp({ DATABASE_URL: url });
  });

  afterAll(async () => {
    await t?.close();
    await scratch.dropAll();
  });

  it('numbers that need 16 or 17 digits come back exactly, by pull and by REST, on a database set to print 15', async () => {
    // What any other client of that database sees: the setting does round.
    expect(await queryOnce<{ v: string }>(url, 'SELECT (0.1::float8 + 0.2::float8)::text AS v')).toEqual([{ v: '0.3' }]);
    const owner = await registerFamily(t);
    const m = { token: owner.token, familyId: owner.family.id };
    const weight = 100 / 3;
    const patched = await t.http().patch('/api/v1/families/me').set(bearer(m.token)).send({ patient_weight_kg: weight }).expect(200);
    expect(patched.body.patient_weight_kg).toBe(weight);
    expect((await t.http().get('/api/v1/families/me').set(bearer(m.token)).expect(200)).body.patient_weight_kg).toBe(weight);

    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const row = { id: randomUUID(), date: 1, volume_ml: 250 + 0.1 + 0.2, patient_weight_kg: 0.1 + 0.2, notes: 'n', created_at: 1, updated_at: 1 };
    await push(t, m, c0, changesOf('transfusions', { created: [row] })).expect(200);
    const { changes } = (await pull(t, m, null, 'another-phone').expect(200)).body;
    expect(changes.transfusions.created).toEqual([expect.objectContaining({ volume_ml: row.volume_ml, patient_weight_kg: row.patient_weight_kg })]);
    expect(changes.families.created[0].patient_weight_kg).toBe(weight);
  });
});

/**
 * A server, database or role whose DateStyle prints dates other than ISO ('SQL, DMY', 'German',
 * 'Postgres') printed every timestamptz in a form node-postgres cannot parse: it read them all as
 * null. A refresh then failed with a 500 on every phone (its token's expires_at), and a retired
 * refresh token presented again was taken for an unused one (used_at). The app's connections ask
 * for ISO dates in their start-up packet (exact-floats-client.ts).
 */
describe('database date output', () => {
  const scratch = scratchDatabases('hemoday_dates');
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    await scratch.open();
    url = await scratch.create();
    await queryOnce(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET datestyle = 'SQL, DMY'`);
    t = await createTestApp({ DATABASE_URL: url });
  });

  afterAll(async () => {
    await t?.close();
    await scratch.dropAll();
  });

  it('refresh tokens rotate, and a retired one is refused as reuse, on a database set to print SQL-style dates', async () => {
    // What any other client of that database sees: not ISO.
    expect((await queryOnce<{ d: string }>(url, `SELECT '2026-11-27 10:00:00+00'::timestamptz::text AS d`))[0].d).toMatch(/^27\/11\/2026 /);
    const user = await registerFamily(t);
    const rotated = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    await t.http().get('/api/v1/auth/me').set(bearer(rotated.body.access_token)).expect(200);
    // The retired token once its successor pair is in use: reuse, the whole sign-in ends.
    const reused = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);
    expect(reused.body.message).toMatch(/reuse detected/);
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: rotated.body.refresh_token }).expect(401);
  });
});
