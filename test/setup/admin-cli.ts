/**
 * The built admin CLI (`node dist/cli.js`) run as a process, as operators run it, for the CLI's e2e
 * files. (nest-commander is CommonJS and require()s the ESM-only @nestjs packages, which jest on
 * Node 20 cannot load, so no test imports it.)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { childCwd } from './service-process.js';

export const CLI = resolve('dist/cli.js');
/** The tables `seed` writes history into. */
export const SEEDED = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];
/** A DATABASE_URL nothing listens on: a command that connects fails with "cannot reach the database". */
export const DB_DOWN = { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' };
export const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The DATA_DIR of this file's commands (its JWT secret file); under the run's folder, which the teardown removes. */
export const cliDataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-'));

/**
 * The admin CLI (or another built entry point, e.g. the migration CLI) with the test database unless `env` says otherwise.
 * Its standard input is a pipe carrying `input` (e.g. for --password-stdin), then closed: empty when no input is given.
 */
export function cli(args: string[], env: Record<string, string | undefined> = {}, { entry = CLI, input }: { entry?: string; input?: string } = {}): Promise<Run> {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.NODE_OPTIONS; // jest's VM-modules flag is not what production runs with
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [entry, ...args],
      {
        env: { ...base, NODE_ENV: 'test', DATABASE_URL: process.env.TEST_DATABASE_URL, DATA_DIR: cliDataDir, LOG_LEVEL: 'warn', ...env },
        cwd: childCwd(),
        timeout: 60_000,
      },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.on('error', () => undefined); // EPIPE: a command that exits without reading it
    child.stdin?.end(input);
  });
}

/** An expected failure: exit 1, one line on stderr, no stack trace. */
export function expectOneLineFailure(run: Run, message: RegExp): void {
  expect(run.code).toBe(1); // README, "Admin CLI": every command exits 1 with a one-line message on failure
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(run.stderr + run.stdout).not.toMatch(/^\s+at /m);
}

/** The credentials `seed` printed. */
export function credentials(stdout: string): { email: string; password: string; inviteCode: string } {
  const field = (name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(stdout)?.[1] ?? '';
  return { email: field('email'), password: field('password'), inviteCode: field('invite code') };
}

/** The family of the account with this email (any case), read behind the API. */
export async function familyOf(db: pg.Client, email: string) {
  const { rows } = await db.query(
    'SELECT f.id, f.invite_code, f.sync_version, f.patient_name, f.demo_seeded_at FROM users u JOIN families f ON f.id = u.family_id WHERE lower(u.email) = lower($1)',
    [email],
  );
  return rows[0];
}

/** Rows per seeded table of a family. */
export async function seededCounts(db: pg.Client, familyId: string): Promise<Record<string, number>> {
  const sql = SEEDED.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t} WHERE family_id = $1`).join(' UNION ALL ');
  const rows = (await db.query(sql, [familyId])).rows as Array<{ t: string; n: number }>;
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

/**
 * A client on the run's database for a CLI file's checks behind the API: connected in a beforeAll
 * where it is called, closed in an afterAll, which also removes the file's CLI DATA_DIR.
 */
export function useCliDatabaseClient(): pg.Client {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  beforeAll(() => client.connect());
  afterAll(async () => {
    await client.end();
    rmSync(cliDataDir, { recursive: true, force: true });
  });
  return client;
}
