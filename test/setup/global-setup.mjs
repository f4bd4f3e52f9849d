// Jest loads global set-up natively (no TypeScript transform, no module mapping),
// so this file is plain ESM over the compiled app in dist/ (`npm test` builds first).
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../dist/src/database/data-source-options.js';
import { EmbeddedPostgres } from '../../dist/src/database/embedded-postgres.js';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A fresh, migrated database for one test run: a new database on the server of
 * DATABASE_URL when it is set (dropped afterwards), otherwise an embedded
 * PostgreSQL in a temporary directory (started with `settings`, if given).
 */
export async function startTestDatabase({ prefix = 'hemoday_test', settings } = {}) {
  const external = process.env.DATABASE_URL;
  const name = `${prefix}_${Date.now()}_${process.pid}`;
  let url;
  let stop;
  if (external) {
    const admin = new pg.Client({ connectionString: external });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const target = new URL(external);
    target.pathname = `/${name}`;
    url = target.toString();
    stop = async () => {
      const client = new pg.Client({ connectionString: external });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'hemoday-test-'));
    await chmod(dir, 0o755); // the server runs as the postgres OS user when we are root
    const server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: await freePort(), database: name, settings });
    url = await server.start();
    stop = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const dataSource = new DataSource(buildDataSourceOptions(url, { poolSize: 1 }));
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'all' });
  await dataSource.destroy();
  return { url, stop };
}

// The data source reports migration progress through Nest's logger: keep set-up to warnings and errors.
Logger.overrideLogger(['warn', 'error', 'fatal']);

/** One database for the whole run; each test owns its data (a new family per test). */
export default async function globalSetup() {
  // Every temporary directory of the run (the tests', the apps' and processes' they start) goes
  // under one, removed by the teardown: a test filtered out by `-t` skips its afterAll, and the
  // directory its describe made would otherwise stay. 0755: the embedded server runs as the
  // postgres OS user when we are root, and must reach data directories made below it.
  const runDir = await mkdtemp(join(tmpdir(), 'hemoday-run-'));
  await chmod(runDir, 0o755);
  globalThis.__HEMODAY_RUN_DIR__ = runDir;
  process.env.TMPDIR = runDir; // os.tmpdir() here, and in the workers and processes, which inherit it
  const database = await startTestDatabase();
  globalThis.__HEMODAY_TEST_DB__ = database;
  process.env.TEST_DATABASE_URL = database.url; // inherited by the workers
  // Password hashing at OWASP's argon2id minimum instead of the production default: the suite
  // registers and logs in hundreds of users, and at 64 MiB × 3 passes × 4 lanes each hash takes
  // both cores of a CI machine for a moment. Inherited by the workers, the apps they create and the
  // processes they spawn; PasswordService's own spec still checks the default.
  for (const [name, value] of Object.entries(TEST_PASSWORD_HASH_ENV)) process.env[name] ??= value;
  // The rate-limit counters are in the run's database, one budget for every app of the run, in-process
  // or spawned: what they all send from 127.0.0.1 adds up. A test of the limits sets its own, and
  // counts from addresses of its own (X-Forwarded-For) or on a database of its own.
  process.env.AUTH_RATE_LIMIT = '100000';
  // The suite's uploads are kilobytes, but a machine running it may have less than the default 1 GiB
  // free (seen: 287 MB), which would refuse every upload: the reserve is tested with its own value.
  process.env.UPLOAD_MIN_FREE_BYTES ??= '0';
}

export const TEST_PASSWORD_HASH_ENV = { PASSWORD_HASH_MEMORY_KIB: '19456', PASSWORD_HASH_ITERATIONS: '2', PASSWORD_HASH_PARALLELISM: '1' };
