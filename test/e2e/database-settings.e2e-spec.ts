import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { bearer, registerFamily } from '../factories/auth.factory.js';
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
 * Session defaults that a server, database or role may set, and that the app cannot work with, stop
 * the start-up naming the setting and its fix, before any migration: `extra_float_digits = 0`
 * printed float8 to 15 significant digits, so a pull sent back other numbers than the phone pushed
 * (0.1 + 0.2 came back 0.3); under REPEATABLE READ or SERIALIZABLE concurrent pushes to one family
 * failed with 500s on the family row they wait for (both found by review).
 */
describe('database session defaults', () => {
  const scratch = scratchDatabases('hemoday_defaults');
  beforeAll(() => scratch.open());
  afterAll(() => scratch.dropAll());

  it.each([
    ['extra_float_digits = 0', /prints numbers with extra_float_digits = 0, rounded to 15 digits; .* SET extra_float_digits = 1/],
    ["default_transaction_isolation = 'repeatable read'", /starts transactions at REPEATABLE READ; HemoDay's writes need READ COMMITTED/],
    ["default_transaction_isolation = 'serializable'", /starts transactions at SERIALIZABLE; /],
  ])('a database with %s stops the start-up, naming the setting and its fix, before any migration runs on it', async (setting, message) => {
    const url = await scratch.create();
    // What any other client of that database gets: the setting is in force.
    await queryOnce(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET ${setting}`);
    const outcome = await createTestApp({ DATABASE_URL: url }).then(
      async (app) => {
        await app.close();
        return 'started';
      },
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(outcome).toMatch(message);
    expect(await queryOnce<{ n: number }>(url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual([{ n: 0 }]);
  });
});

/**
 * A server, database or role whose DateStyle prints dates other than ISO ('SQL, DMY', 'German',
 * 'Postgres') printed every timestamptz in a form node-postgres cannot parse: it read them all as
 * null. A refresh then failed with a 500 on every phone (its token's expires_at), and a retired
 * refresh token presented again was taken for an unused one (used_at). The app's connections ask
 * for ISO dates in their start-up packet (iso-dates-client.ts).
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
