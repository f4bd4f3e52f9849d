import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
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
