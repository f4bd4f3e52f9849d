/**
 * The admin CLI as operators run it: the built `node dist/cli.js` in its own
 * process against the run's test database. (nest-commander is CommonJS and
 * require()s the ESM-only @nestjs packages, which jest on Node 20 cannot load,
 * so no test imports it.)
 *
 * On a DATABASE_URL run (CI's PostgreSQL 15 pass) only the tests of SQL the CLI
 * sends itself run again: seeding and its resets, family:show's report,
 * sync:cleanup, migrations, password resets. Those of arguments, output and the
 * terminal, and of commands that call the app's services and nothing else
 * (user:create, user:delete, family:set-owner: the HTTP tests run that SQL on
 * both servers), run on the embedded run only (test/setup/test-runs.ts).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { runPendingMigrations } from '../../src/database/migration-runner.js';
import { bearer, joinFamily, registerFamily as registerAccount, uniqueEmail } from '../factories/auth.factory.js';
import { clientLog, Device } from '../sync-client/device.js';
import { registerFamily } from '../sync-client/family.js';
import { childCwd, freePort, isAlive, postgresServersFor, removeDir, scratchDir, startProcess, startService, stopAll, waitForHealth, waitUntil, type Running } from '../setup/service-process.js';
import { useTestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun, itOnEmbeddedRun } from '../setup/test-runs.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';

const CLI = resolve('dist/cli.js');
const SEEDED = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const dataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-'));
/** A DATABASE_URL nothing listens on: a command that connects fails with "cannot reach the database". */
const DB_DOWN = { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' };
const PRODUCTION = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) };

/**
 * The admin CLI (or another built entry point, e.g. the migration CLI) with the test database unless `env` says otherwise.
 * Its standard input is a pipe carrying `input` (e.g. for --password-stdin), then closed: empty when no input is given.
 */
function cli(args: string[], env: Record<string, string | undefined> = {}, { entry = CLI, input }: { entry?: string; input?: string } = {}): Promise<Run> {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.NODE_OPTIONS; // jest's VM-modules flag is not what production runs with
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [entry, ...args],
      {
        env: { ...base, NODE_ENV: 'test', DATABASE_URL: process.env.TEST_DATABASE_URL, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
        cwd: childCwd(),
        timeout: 60_000,
      },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.on('error', () => undefined); // EPIPE: a command that exits without reading it
    child.stdin?.end(input);
  });
}

/** An expected failure: non-zero, one line on stderr, no stack trace. */
function expectOneLineFailure(run: Run, message: RegExp): void {
  expect(run.code).not.toBe(0);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(run.stderr + run.stdout).not.toMatch(/^\s+at /m);
}

function credentials(stdout: string): { email: string; password: string; inviteCode: string } {
  const field = (name: string) => new RegExp(`${name}:\\s+(\\S+)`).exec(stdout)?.[1] ?? '';
  return { email: field('email'), password: field('password'), inviteCode: field('invite code') };
}

describe('admin CLI (node dist/cli.js)', () => {
  const t = useTestApp();
  let db: pg.Client;

  beforeAll(async () => {
    db = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const familyOf = async (email: string) =>
    (
      await db.query(
        'SELECT f.id, f.invite_code, f.sync_version, f.patient_name, f.demo_seeded_at FROM users u JOIN families f ON f.id = u.family_id WHERE lower(u.email) = lower($1)',
        [email],
      )
    ).rows[0];

  async function counts(familyId: string): Promise<Record<string, number>> {
    const sql = SEEDED.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t} WHERE family_id = $1`).join(' UNION ALL ');
    const rows = (await db.query(sql, [familyId])).rows as Array<{ t: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.t, r.n]));
  }

  const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });

  describe('seed', () => {
    const email = uniqueEmail('seed');
    let first: Run;
    let familyId: string;

    beforeAll(async () => {
      first = await cli(['seed', '--email', email, '--password', 'seed-password-1', '--months', '3']);
      familyId = (await familyOf(email))?.id;
    });

    it('creates the user, the family with its patient, and the history it reports', async () => {
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(credentials(first.stdout)).toEqual({ email, password: 'seed-password-1', inviteCode: expect.stringMatching(/^[A-Z2-9]{6}$/) });
      expect(first.stdout).toMatch(/^Seeded 1 family with 3 months of history in /m);
      const family = await familyOf(email);
      expect(family.invite_code).toBe(credentials(first.stdout).inviteCode);
      expect(family.patient_name).toBe('Amira');
      expect(family.demo_seeded_at).toBeInstanceOf(Date); // marked as seed's own family

      const n = await counts(familyId);
      // The summary line names exactly what is in the database.
      for (const table of SEEDED) expect(first.stdout).toContain(`${table} ${n[table]}`);
      expect(n.transfusions).toBeGreaterThanOrEqual(3); // every 3–4 weeks over 3 months
      expect(n.transfusions).toBeLessThanOrEqual(5);
      expect(n.blood_tests).toBeGreaterThanOrEqual(2);
      expect(n.blood_test_results).toBeGreaterThanOrEqual(8 * n.blood_tests);
      expect(n.blood_test_results).toBeLessThanOrEqual(12 * n.blood_tests);
      expect(n.analysis_templates).toBe(4);
      expect(n.reminders).toBe(5);
      expect(n.documents).toBeGreaterThanOrEqual(1);
    });

    it('writes through the sync push: rows stamped with the family version, realistic values', async () => {
      const family = await familyOf(email);
      const stamps = await db.query(
        `SELECT count(DISTINCT server_version)::int AS versions, max(server_version) AS max, bool_and(created_by_device = 'hemoday-cli-seed') AS by_cli
           FROM transfusions WHERE family_id = $1`,
        [familyId],
      );
      expect(stamps.rows[0].by_cli).toBe(true);
      expect(stamps.rows[0].versions).toBe(1); // one batch for 3 months
      expect(Number(stamps.rows[0].max)).toBeLessThanOrEqual(Number(family.sync_version));

      const transfusions = (await db.query('SELECT * FROM transfusions WHERE family_id = $1 ORDER BY date', [familyId])).rows;
      for (const tr of transfusions) {
        expect(tr.volume_ml).toBeGreaterThan(150);
        expect(tr.volume_ml).toBeLessThan(600);
        expect(tr.indicators_before.hb).toBeLessThan(tr.indicators_after.hb);
        expect(tr.indicators_before).toHaveProperty('hct');
      }
      for (let i = 1; i < transfusions.length; i++) {
        const days = (Number(transfusions[i].date) - Number(transfusions[i - 1].date)) / 86_400_000;
        expect(days).toBeGreaterThanOrEqual(21);
        expect(days).toBeLessThanOrEqual(28);
      }
      const perTest = await db.query(
        `SELECT bool_or(name = 'Ferritin' AND unit = 'ng/mL') AS ferritin, bool_or(name = 'Hb' AND unit = 'g/dL') AS hb
           FROM blood_test_results WHERE family_id = $1 GROUP BY blood_test_id`,
        [familyId],
      );
      expect(perTest.rows.every((r) => r.ferritin && r.hb)).toBe(true);
      const docs = await db.query('SELECT file_url FROM documents WHERE family_id = $1', [familyId]);
      expect(docs.rows.every((d) => d.file_url === null)).toBe(true);
    });

    it('a second run adds nothing and does not bump the family version', async () => {
      const before = { n: await counts(familyId), version: (await familyOf(email)).sync_version };
      const again = await cli(['seed', '--email', email, '--password', 'seed-password-1', '--months', '3']);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/Nothing to add/);
      expect(again.stdout).toMatch(/password:\s+\(unchanged/);
      expect(await counts(familyId)).toEqual(before.n);
      expect((await familyOf(email)).sync_version).toBe(before.version);
    });

    it('the printed credentials log in over HTTP, and a first pull returns the seeded records', async () => {
      const { email: printed, password } = credentials(first.stdout);
      const session = await login(printed, password).expect(200);
      const pull = await t.http().get('/api/v1/sync').set('Authorization', `Bearer ${session.body.access_token}`).set('X-Device-Id', 'phone-1').expect(200);
      const n = await counts(familyId);
      for (const table of SEEDED) {
        expect(pull.body.changes[table].created).toHaveLength(n[table]);
        expect(pull.body.changes[table].updated).toHaveLength(0);
      }
      expect(pull.body.changes.families.created[0]).toMatchObject({ id: familyId, patient_name: 'Amira', patient_diagnosis: 'Beta-thalassemia major' });
      expect(pull.body.changes.families.created[0]).not.toHaveProperty('demo_seeded_at'); // server-only
      const transfusion = pull.body.changes.transfusions.created[0];
      expect(JSON.parse(transfusion.indicators_before)).toEqual({ hb: expect.any(Number), hct: expect.any(Number) });
      expect(transfusion.created_at).toEqual(expect.any(Number));
      expect(pull.body.timestamp).toBe(Number((await familyOf(email)).sync_version));
    });

    itOnEmbeddedRun('--reset is refused in production, with a message and nothing deleted', async () => {
      const run = await cli(['seed', '--email', email, '--months', '3', '--reset'], PRODUCTION);
      expectOneLineFailure(run, /--reset .*refused when NODE_ENV=production/);
      expect((await familyOf(email))?.id).toBe(familyId);
    });

    itOnEmbeddedRun('--reset is refused when NODE_ENV is unset (the configuration would default it to development)', async () => {
      const run = await cli(['seed', '--email', email, '--months', '3', '--reset'], { NODE_ENV: undefined });
      expectOneLineFailure(run, /--reset .*refused unless NODE_ENV is set to development or test \(it is unset\)/);
      expect((await familyOf(email))?.id).toBe(familyId);
    });

    it('--reset (test/development) deletes the seeded family and seeds it anew; a member who had joined it, and been made its owner, is removed by the app\'s rule', async () => {
      const joined = await joinFamily(t, credentials(first.stdout).inviteCode);
      // The demo account handed the family on: the reset hands it back before removing the member.
      const seedSession = await login(email, credentials(first.stdout).password).expect(200);
      await t.http().post('/api/v1/families/me/owner').set(bearer(seedSession.body.access_token)).send({ user_id: joined.user.id, password: credentials(first.stdout).password }).expect(200);
      const run = await cli(['seed', '--email', email, '--password-stdin', '--months', '1', '--reset'], {}, { input: 'seed-password-2\n' });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Reset: deleted 1 user\(s\) and 1 family\(ies\); 1 other member\(s\) removed from them and signed out\./);
      expect((await db.query('SELECT count(*)::int AS n FROM transfusions WHERE family_id = $1', [familyId])).rows[0].n).toBe(0);
      const family = await familyOf(email);
      expect(family.id).not.toBe(familyId);
      expect(credentials(run.stdout).inviteCode).toBe(family.invite_code);
      await login(email, 'seed-password-2').expect(200);
      // The member keeps their account, without a family, and is signed out like any removed member.
      const member = (await db.query('SELECT family_id, role FROM users WHERE id = $1', [joined.user.id])).rows[0];
      expect(member).toEqual({ family_id: null, role: null });
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: joined.refreshToken }).expect(401);
      await login(joined.email, joined.password).expect(200);
    });
  });

  describe('seed only ever writes into, and --reset only deletes, families seed created', () => {
    /** An account a parent registered in the app (through the API: a CLI process costs ~1.5 s of CPU to start). */
    async function realAccount(): Promise<{ email: string; family: { id: string; sync_version: string } }> {
      const { email } = await registerAccount(t, { email: uniqueEmail('real.parent'), password: 'real password' });
      return { email, family: await familyOf(email) };
    }

    async function expectUntouched(account: { email: string; family: { id: string; sync_version: string } }): Promise<void> {
      const now = await familyOf(account.email);
      expect(now).toMatchObject({ id: account.family.id, sync_version: account.family.sync_version, patient_name: null, demo_seeded_at: null });
      expect(Object.values(await counts(account.family.id)).every((n) => n === 0)).toBe(true);
    }

    it.each([
      ['development', {}],
      ['production', PRODUCTION],
    ])('seed --email <a real account> is refused (NODE_ENV=%s): one line, no demo record written', async (_, env) => {
      const real = await realAccount();
      const run = await cli(['seed', '--email', real.email, '--password', 'another password', '--months', '2'], env);
      expectOneLineFailure(run, new RegExp(`${real.email.replace(/[.+]/g, '\\$&')} is an existing account that seed did not create`));
      await expectUntouched(real);
    });

    it('seed --reset --email <a real account> is refused and deletes nothing', async () => {
      const real = await realAccount();
      expectOneLineFailure(await cli(['seed', '--email', real.email, '--reset']), /--reset: .* is not an account seed created \(nothing was deleted\)/);
      await expectUntouched(real);
      await login(real.email, 'real password').expect(200);
    });

    it('--reset over several emails is all or nothing: one real account among them and no demo family is deleted either', async () => {
      const base = uniqueEmail('mixed');
      const [local, domain] = base.split('@');
      const second = `${local}+2@${domain}`;
      expect((await cli(['seed', '--email', base, '--months', '1'])).code).toBe(0);
      const demo = await familyOf(base);
      await registerAccount(t, { email: second, password: 'real password' });
      const real = { email: second, family: await familyOf(second) };

      expectOneLineFailure(await cli(['seed', '--email', base, '--families', '2', '--reset']), new RegExp(`--reset: ${second.replace(/[.+]/g, '\\$&')} is not an account seed created`));
      expect((await familyOf(base)).id).toBe(demo.id);
      await expectUntouched(real);
    });
  });

  /** A migrated database of its own for `work` (its CLI environment, a client on it), dropped afterwards. */
  async function withOwnDatabase(work: (env: Record<string, string>, own: pg.Client) => Promise<void>): Promise<void> {
    const name = `hemoday_cli_seed_${process.pid}_${Date.now()}`;
    await db.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const own = new pg.Client({ connectionString: url.toString() });
    try {
      // Migrated in-process: the CLI's migration:run has a test of its own (the last one below).
      const migrate = new DataSource(buildDataSourceOptions(url.toString(), { poolSize: 1 }));
      await migrate.initialize();
      try {
        await runPendingMigrations(migrate);
      } finally {
        await migrate.destroy();
      }
      await own.connect();
      await work({ DATABASE_URL: url.toString() }, own);
    } finally {
      await own.end().catch(() => undefined);
      await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }

  // Found by review: the account was committed first and its family marked as seed's in a second
  // statement, so a run stopped between the two (Ctrl-C, the database going away) left an account
  // every later seed — and --reset — refused as "not created by seed". On a database of its own,
  // whose trigger makes the marking fail.
  it('a seed that fails as its new family is marked leaves no account behind: the next run creates it', async () => {
    await withOwnDatabase(async (env, own) => {
      await own.query(`CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'marking refused by the test'; END $$`);
      await own.query('CREATE TRIGGER refuse_mark BEFORE UPDATE OF demo_seeded_at ON families FOR EACH ROW EXECUTE FUNCTION refuse_mark()');
      const email = 'interrupted.seed@example.com';
      expectOneLineFailure(await cli(['seed', '--email', email, '--password', 'seed-password-3', '--months', '1'], env), /marking refused by the test/);
      expect((await own.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(0);

      await own.query('DROP TRIGGER refuse_mark ON families');
      const again = await cli(['seed', '--email', email, '--password', 'seed-password-3', '--months', '1'], env);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(credentials(again.stdout)).toMatchObject({ email, password: 'seed-password-3' });
    });
  });

  // Found by review: a run that failed after making its account (here the database refuses its
  // reminders) printed only the error, and the re-run that finished the account's history printed
  // "(unchanged: the account already existed)": with a password piped from `openssl rand`, as the
  // README does on a real server, nobody ever saw the demo account's password.
  it('a seed that fails after making its account prints that account and its password, which the re-run keeps', async () => {
    await withOwnDatabase(async (env, own) => {
      await own.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% refused by the test', TG_TABLE_NAME; END $$`);
      // Right after the account's commit: its sign-in tokens (the registration issues them, as over HTTP).
      await own.query('CREATE TRIGGER refuse BEFORE INSERT ON refresh_tokens FOR EACH ROW EXECUTE FUNCTION refuse()');
      const tokensRefused = await cli(['seed', '--email', 'no.tokens@example.com', '--password-stdin', '--months', '1'], env, { input: 'random-password-0\n' });
      expectOneLineFailure(tokensRefused, /refresh_tokens refused by the test/);
      expect(credentials(tokensRefused.stdout)).toMatchObject({ email: 'no.tokens@example.com', password: 'random-password-0' });
      await own.query('DROP TRIGGER refuse ON refresh_tokens');

      // Later: the history.
      await own.query('CREATE TRIGGER refuse BEFORE INSERT ON reminders FOR EACH ROW EXECUTE FUNCTION refuse()');
      const email = 'half.seeded@example.com';
      const failed = await cli(['seed', '--email', email, '--password-stdin', '--months', '1'], env, { input: 'random-password-1\n' });
      expectOneLineFailure(failed, /reminders refused by the test/);
      expect(failed.stdout).toMatch(/^Seed stopped on an error; 1 demo account was created before it, with this password/m);
      expect(credentials(failed.stdout)).toMatchObject({ email, password: 'random-password-1' });

      await own.query('DROP TRIGGER refuse ON reminders');
      const again = await cli(['seed', '--email', email, '--password-stdin', '--months', '1'], env, { input: 'random-password-2\n' });
      expect([again.code, again.stderr]).toEqual([0, '']);
      expect(again.stdout).toMatch(/password:\s+\(unchanged/);
      const { rows } = await own.query('SELECT count(*)::int AS n FROM reminders r JOIN users u ON u.family_id = r.family_id WHERE u.email = $1', [email]);
      expect(rows[0].n).toBe(5);
    });
  });

  // Found by review: both computed the same missing records and pushed them, and the second push
  // failed with the sync protocol's "pull and push again" (exit 1). Both are held at the family's
  // lock, which the push takes, so that they push one after the other.
  it('two seeds of one demo family at once both succeed, writing its missing history once between them', async () => {
    const email = uniqueEmail('twice');
    expect((await cli(['seed', '--email', email, '--months', '1'])).code).toBe(0);
    const { id } = await familyOf(email);
    const total = async () => Object.values(await counts(id)).reduce((a, b) => a + b, 0);
    const before = await total();
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [id]);
      const { pid } = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0];
      const runs = Promise.all([cli(['seed', '--email', email, '--months', '6']), cli(['seed', '--email', email, '--months', '6'])]);
      // Watched from another session: pg_stat_activity stays as first read within the holder's transaction.
      await until(async () => (await sessionsWaitingBehind(db, pid)) >= 2, 'both seeds waiting to push', 30_000);
      await holder.query('COMMIT');
      const done = await runs;
      expect(done.map((r) => [r.code, r.stderr])).toEqual([
        [0, ''],
        [0, ''],
      ]);
      const written = done.map((r) => Number(/: (\d+) new records?$/m.exec(r.stdout)?.[1]));
      expect(written.sort((a, b) => a - b)[0]).toBe(0);
      expect(written[0] + written[1]).toBe((await total()) - before);
      expect(written[1]).toBeGreaterThan(0);
    } finally {
      await holder.end();
    }
  });

  itOnEmbeddedRun('seed --families N: numbered accounts, one family each', async () => {
    const email = uniqueEmail('load');
    const run = await cli(['seed', '--email', email, '--families', '3', '--months', '1']);
    expect(run.code).toBe(0);
    const [local, domain] = email.split('@');
    const emails = [email, `${local}+2@${domain}`, `${local}+3@${domain}`];
    const families = await Promise.all(emails.map(familyOf));
    expect(new Set(families.map((f) => f.id)).size).toBe(3);
    for (const f of families) expect((await counts(f.id)).analysis_templates).toBe(4);
    // Not a terminal: plain progress lines, no carriage returns; in the families' order (seeded side by
    // side, a family's line waits for the ones before it), so `seed 2/3` names the second account.
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout.match(/^seed \d\/3: \S+/gm)).toEqual(emails.map((e, i) => `seed ${i + 1}/3: ${e}:`));
    expect(run.stdout).toMatch(/^Seeded 3 families with 1 month of history in /m);
  });

  // The admin and migration CLIs share this (src/database/command-exit.ts). A second Ctrl-C used to
  // take Node's default action in the admin CLI and kill it midway, leaving its PostgreSQL running.
  itOnEmbeddedRun('Ctrl-C (twice) during a seed on its own embedded PostgreSQL: exit 130 after the database has stopped', async () => {
    const ownDataDir = scratchDir('hemoday-cli-int-');
    try {
      const run = startProcess(process.execPath, [CLI, 'seed', '--email', uniqueEmail('ctrlc'), '--families', '200', '--months', '24'], {
        DATA_DIR: ownDataDir,
        EMBEDDED_PG_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
      });
      await run.waitFor(/^seed 1\/200: /, 90_000);
      const postmaster = Number(readFileSync(join(ownDataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
      run.child.kill('SIGINT');
      await run.waitFor(/^interrupted \(SIGINT\)$/);
      run.child.kill('SIGINT'); // an impatient second Ctrl-C, while the database stops
      expect(await run.exited).toBe(130);
      expect(run.output()).not.toMatch(/^seed 200\/200: /m);
      expect(postgresServersFor(ownDataDir)).toEqual([]);
      expect(isAlive(postmaster)).toBe(false);
    } finally {
      // A failed run must not leave its server behind (the CLI started it in a process group of its own).
      for (const pid of postgresServersFor(ownDataDir)) process.kill(pid, 'SIGTERM');
      await waitUntil(() => postgresServersFor(ownDataDir).length === 0, 10_000);
      removeDir(ownDataDir);
    }
  });

  it('a later run with a longer --months extends the same timeline: dates count back from the seeding, not from today', async () => {
    const email = uniqueEmail('anchor');
    expect((await cli(['seed', '--email', email, '--months', '2'])).code).toBe(0);
    const { id } = await familyOf(email);
    // As if that seed had run 10 days ago: its records and its marker move back together.
    await db.query('UPDATE transfusions SET date = date - $2 WHERE family_id = $1', [id, 10 * 86_400_000]);
    await db.query("UPDATE families SET demo_seeded_at = demo_seeded_at - interval '10 days' WHERE id = $1", [id]);
    const before = (await db.query('SELECT id, date FROM transfusions WHERE family_id = $1', [id])).rows;

    expect((await cli(['seed', '--email', email, '--months', '6'])).code).toBe(0);
    const after = (await db.query('SELECT id, date FROM transfusions WHERE family_id = $1 ORDER BY date', [id])).rows;
    expect(after.length).toBeGreaterThan(before.length + 2);
    expect(after).toEqual(expect.arrayContaining(before));
    for (let i = 1; i < after.length; i++) {
      const days = (Number(after[i].date) - Number(after[i - 1].date)) / 86_400_000;
      expect([i, days >= 21 && days <= 28]).toEqual([i, true]);
    }
  });

  const hasScript = existsSync('/usr/bin/script');
  (hasScript ? itOnEmbeddedRun : it.skip)('on a terminal (util-linux script gives it one): a progress bar redrawn in place', async () => {
    const email = uniqueEmail('tty');
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, CLI, 'seed', '--email', email, '--families', '2', '--months', '1'].map(quote).join(' ');
    const base: Record<string, string | undefined> = { ...process.env };
    delete base.NODE_OPTIONS;
    const out = await new Promise<{ code: number; stdout: string }>((done) =>
      execFile(
        '/usr/bin/script',
        ['-qec', command, '/dev/null'],
        { env: { ...base, NODE_ENV: 'test', DATABASE_URL: process.env.TEST_DATABASE_URL, DATA_DIR: dataDir, LOG_LEVEL: 'warn', COLUMNS: '120' }, cwd: childCwd(), timeout: 60_000 },
        (error, stdout) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }),
      ),
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/\r\x1b\[2Kseed \[#{15}-{15}\] 1\/2 /);
    expect(out.stdout).toMatch(/\r\x1b\[2Kseed \[#{30}\] 2\/2 /);
    expect(out.stdout).not.toMatch(/^seed \d\/2: /m); // not the plain lines of a pipe
  });

  describeOnEmbeddedRun('failures exit non-zero with one line', () => {
    it.concurrent.each([
      [['nope'], /unknown command 'nope'/],
      [['seed', '--bogus'], /unknown option '--bogus'/],
      [['seed', '--famlies', '2'], /unknown option '--famlies' \(Did you mean --families\?\)$/],
      [['sed'], /unknown command 'sed' \(Did you mean seed\?\)$/],
      [['seed', '--months', 'lots'], /--months must be an integer/],
      [['seed', '--families', '0'], /--families must be an integer/],
      [['seed', 'extra'], /seed takes no arguments/],
      [['user:create', '--email', 'a@b.example'], /required option '--password/],
      [['user:create', '--email', 'not-an-email', '--password', 'long enough'], /--email: must be an email/],
      [['user:create', '--email', 'short@b.example', '--password', 'short'], /--password: must be longer than or equal to 8/],
      [['family:show'], /missing required argument/],
      [['family:show', 'QQQQQQ'], /No family with invite code QQQQQQ/],
      [['user:reset-password', '--email', 'nobody@nowhere.example', '--password', 'long enough'], /No user with email nobody@nowhere.example/],
      [['user:delete'], /required option '--email/],
      [['family:set-owner', '--email', 'nobody@nowhere.example'], /No user with email nobody@nowhere.example/],
      [['user:delete', '--email', 'nobody@nowhere.example'], /No user with email nobody@nowhere.example/],
    ])('%j', async (args, message) => {
      expectOneLineFailure(await cli(args), message);
    });

    it('no command: the help, exit non-zero', async () => {
      const run = await cli([]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/Commands:[\s\S]*seed[\s\S]*user:create[\s\S]*family:show[\s\S]*migration:run/);
    });

    it('database down (DATABASE_URL on a closed port)', async () => {
      expectOneLineFailure(await cli(['seed', '--months', '1'], DB_DOWN), /cannot reach the database \(connection refused/);
    });

    // Each would otherwise have connected (and, with --reset, deleted) before the bad option was noticed.
    it.concurrent.each([
      [['seed', '--email', 'not-an-email', '--reset'], {}, /--email: must be an email/],
      [['seed', '--email', 'ok@example.test', '--password', 'short', '--reset'], {}, /--password: must be longer than or equal to 8/],
      [['seed', '--email', `${'x'.repeat(60)}@example.test`, '--families', '1000'], {}, /--email: must be an email/], // demo+1000@ is too long
      [['seed', '--reset'], PRODUCTION, /--reset .*refused when NODE_ENV=production/],
      // It names --password-stdin too: the way the README gives for a real server (a production run once said --password only).
      [['seed'], PRODUCTION, /--password or --password-stdin is required when NODE_ENV=production/],
      [['seed', '--password', 'hemoday-demo'], PRODUCTION, /--password or --password-stdin is required when NODE_ENV=production, and not the documented demo password/],
      [['user:reset-password', '--email', 'a@b.example', '--password', 'long enough', '--password-stdin'], {}, /^error: --password and --password-stdin cannot be used together/],
      // The demo patient is 8, transfused since age 1: a longer history failed the push (0 ml transfusions) after making the account.
      [['seed', '--months', '240'], {}, /--months must be an integer from 1 to 84 \(got "240"\)/],
    ])('a bad option is reported as such with the database down: %j', async (args, env, message) => {
      expectOneLineFailure(await cli(args, { ...DB_DOWN, ...env }), message);
    });

    it('a bad configuration value', async () => {
      expectOneLineFailure(await cli(['seed'], { EMBEDDED_PG_PORT: 'high' }), /invalid configuration: EMBEDDED_PG_PORT="high"/);
    });

    // Found by the operator review: the secret is read as the CLI's modules start, and Nest logged that
    // failure with its stack (ExceptionHandler) and exited on its own, past the one-line report.
    it('a JWT secret file in DATA_DIR that holds no secret (JWT_SECRET unset): one line, no stack', async () => {
      const ownDataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-secret-'));
      try {
        writeFileSync(join(ownDataDir, 'jwt-secret'), '');
        expectOneLineFailure(
          await cli(['family:show', 'ABCDEF'], { JWT_SECRET: undefined, DATA_DIR: ownDataDir }),
          /^error: The JWT secret file .*jwt-secret holds no secret/,
        );
      } finally {
        rmSync(ownDataDir, { recursive: true, force: true });
      }
    });

    it('--help needs no database', async () => {
      const run = await cli(['seed', '--help'], { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/none' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/--families <n>[\s\S]*--months <m>[\s\S]*--reset/);
    });
  });

  describe('sync:cleanup', () => {
    const cursorsOf = async (phone: Device) =>
      (await db.query<{ version: string }>('SELECT version FROM sync_cursors WHERE device_id = $1 ORDER BY version', [phone.deviceId])).rows.map((r) => Number(r.version));
    const age = (phone: Device, days: number) =>
      db.query(`UPDATE sync_cursors SET recorded_at = now() - make_interval(days => $2) WHERE device_id = $1`, [phone.deviceId, days]);

    it('trims installations idle past --idle-days to their newest cursor; such a phone, back, pulls incrementally and gets what it missed', async () => {
      const [a, b] = await registerFamily(t, 1);
      const phoneOf = (m: typeof a) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });
      const [idle, busy] = [phoneOf(a), phoneOf(b)];
      for (let i = 0; i < 3; i++) {
        await idle.create('transfusions', { date: i, volume_ml: 250 + i });
        await idle.sync();
      }
      await busy.sync();
      await age(idle, 40);
      await age(busy, 40);
      await busy.create('reminders', { title: 'recent', remind_at: 1, frequency: 'daily', is_completed: false });
      await busy.sync(); // a new answer: busy is no longer idle
      const [idleBefore, busyBefore] = [await cursorsOf(idle), await cursorsOf(busy)];
      expect(idleBefore.length).toBeGreaterThan(2);

      const dry = await cli(['sync:cleanup', '--dry-run', '--json', '--idle-days', '30']);
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout)).toEqual({ dry_run: true, idle_days: 30, installations: 1, cursors: idleBefore.length - 1 });
      expect(await cursorsOf(idle)).toEqual(idleBefore);

      const run = await cli(['sync:cleanup']);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(`Trimmed ${idleBefore.length - 1} old cursor(s) of 1 installation(s) idle for over 30 day(s), keeping each one's newest`);
      expect({ idle: await cursorsOf(idle), busy: await cursorsOf(busy) }).toEqual({ idle: idleBefore.slice(-1), busy: busyBefore });

      const logFrom = clientLog.length;
      await idle.sync();
      expect(idle.lastPull?.experimentalStrategy).toBeUndefined();
      expect(await idle.snapshot()).toEqual(await busy.snapshot());
      expect(clientLog.slice(logFrom)).toEqual([]);
    });

    itOnEmbeddedRun('--idle-days out of range: a one-line message before connecting', async () => {
      expectOneLineFailure(await cli(['sync:cleanup', '--idle-days', '0'], DB_DOWN), /--idle-days must be a whole number from 1 to 36500 \(got "0"\)/);
    });
  });

  describe('support commands', () => {
    itOnEmbeddedRun('user:create makes an owner who can log in; --invite-code joins that family as member', async () => {
      const owner = uniqueEmail('owner');
      const created = await cli(['user:create', '--email', `  ${owner.toUpperCase()} `, '--password', 'owner password', '--name', 'Leila']);
      expect(created.code).toBe(0);
      const code = /invite code ([A-Z2-9]{6})/.exec(created.stdout)![1];
      const session = await login(owner, 'owner password').expect(200);
      expect(session.body.user).toMatchObject({ role: 'owner', name: 'Leila' });

      const member = uniqueEmail('member');
      // --password-stdin with a Windows line ending (a file made there): the "\r\n" is not part of the password.
      const joined = await cli(['user:create', '--email', member, '--password-stdin', '--invite-code', code.toLowerCase()], {}, { input: 'member password\r\n' });
      expect(joined.code).toBe(0);
      expect(joined.stdout).toMatch(/as member of family/);
      expect((await login(member, 'member password').expect(200)).body.user.family_id).toBe(session.body.user.family_id);

      expectOneLineFailure(await cli(['user:create', '--email', owner, '--password', 'another one']), /already exists/);
    });

    it('user:reset-password changes the password (read from stdin) and signs the user out everywhere', async () => {
      const email = uniqueEmail('reset');
      await registerAccount(t, { email, password: 'old password' });
      const session = await login(email, 'old password').expect(200);

      // As support staff run it (--password would show the password to every local user in ps): piped in, as echo ends it.
      const run = await cli(['user:reset-password', '--email', email, '--password-stdin'], {}, { input: ' new password \n' });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Password changed/);
      await login(email, 'old password').expect(401);
      // Exactly what was piped, less the final newline: its spaces are part of it (login does not trim).
      await login(email, ' new password ').expect(200);
      await login(email, 'new password').expect(401);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: session.body.refresh_token }).expect(401);
    });

    itOnEmbeddedRun('user:delete deletes an account: sign-ins end, the family keeps its records; an owner with members is refused', async () => {
      const owner = uniqueEmail('delete-owner');
      await registerAccount(t, { email: owner, password: 'owner password' });
      const ownerSession = await login(owner, 'owner password').expect(200);
      const { invite_code: code } = (await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200)).body;
      const member = uniqueEmail('delete-member');
      await registerAccount(t, { email: member, password: 'member password', invite_code: code });
      const session = await login(member, 'member password').expect(200);
      const familyId: string = session.body.user.family_id;

      // The service's message names the app's route; support is told the command (found by review).
      expectOneLineFailure(
        await cli(['user:delete', '--email', owner]),
        new RegExp(`^error: ${owner.replace(/[.+]/g, '\\$&')} owns a family with other members and cannot leave it: make another member the owner first \\(family:set-owner --email <member>\\), then delete$`),
      );
      await login(owner, 'owner password').expect(200);

      const run = await cli(['user:delete', '--email', member.toUpperCase()]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Deleted ${member} (user ${session.body.user.id}): every sign-in has ended; family ${familyId} keeps the records they entered.`);
      await login(member, 'member password').expect(401);
      await t.http().post('/api/v1/auth/refresh').send({ refresh_token: session.body.refresh_token }).expect(401);
      const family = await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200);
      expect(family.body.members.map((m: { email: string }) => m.email)).toEqual([owner]);
      expect(family.body.invite_code).not.toBe(code);
      expectOneLineFailure(await cli(['user:delete', '--email', member]), /No user with email/);
    });

    itOnEmbeddedRun('family:set-owner makes a member the owner (a family whose owner is gone); the former owner is a member', async () => {
      const owner = uniqueEmail('set-owner');
      await registerAccount(t, { email: owner, password: 'owner password' });
      const ownerSession = await login(owner, 'owner password').expect(200);
      const { invite_code: code } = (await t.http().get('/api/v1/families/me').set(bearer(ownerSession.body.access_token)).expect(200)).body;
      const member = uniqueEmail('set-owner-member');
      await registerAccount(t, { email: member, password: 'member password', invite_code: code });
      const memberSession = await login(member, 'member password').expect(200);

      const run = await cli(['family:set-owner', '--email', member]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`${member} is now the owner of family ${memberSession.body.user.family_id}`);
      const family = await t.http().get('/api/v1/families/me').set(bearer(memberSession.body.access_token)).expect(200);
      expect(Object.fromEntries(family.body.members.map((m: { email: string; role: string }) => [m.email, m.role]))).toEqual({ [owner]: 'member', [member]: 'owner' });
      // The new owner manages the family from their next request.
      await t.http().post('/api/v1/families/me/invite-code').set(bearer(memberSession.body.access_token)).expect(200);
      expect((await cli(['family:set-owner', '--email', member])).stdout).toMatch(/is the owner of family .* already/);
    });

    it('family:show by family id, and family:invite-code reopening a family nobody is in: its former owner joins back as owner', async () => {
      const email = uniqueEmail('reopen');
      await registerAccount(t, { email, password: 'owner password' });
      const session = await login(email, 'owner password').expect(200);
      const token: string = session.body.access_token;
      const familyId: string = session.body.user.family_id;
      await t.http().patch('/api/v1/families/me').set(bearer(token)).send({ patient_name: 'Amira' }).expect(200);
      await t.http().post('/api/v1/families/me/leave').set(bearer(token)).expect(204);

      // Support finds the family from the email, then by its id.
      expectOneLineFailure(await cli(['family:show', email]), new RegExp(`belongs to no family \\(families they founded: ${familyId}\\)`));
      const shown = await cli(['family:show', familyId.toUpperCase()]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/invite code:\s+\(none: the family has no members\)/);
      expect(shown.stdout).toMatch(/patient:\s+Amira/);

      const run = await cli(['family:invite-code', familyId]);
      expect(run.code).toBe(0);
      const code = /: ([A-HJKMNP-Z2-9]{6}) \(it had none/.exec(run.stdout)?.[1];
      expect(code).toBeDefined();
      const back = await t.http().post('/api/v1/auth/join-family').set(bearer(token)).send({ invite_code: code }).expect(200);
      expect(back.body.user).toMatchObject({ family_id: familyId, role: 'owner' });
      expect((await t.http().get('/api/v1/families/me').set(bearer(token)).expect(200)).body.patient_name).toBe('Amira');

      // A family with a code: the old one stops working.
      const again = await cli(['family:invite-code', code!]);
      expect(again.stdout).toContain(`(${code} no longer works)`);
      expectOneLineFailure(await cli(['family:invite-code', randomUUID()]), /No family with id/);
    });

    it('family:show by invite code or member email: family, patient, members, counts, sync_version', async () => {
      const email = uniqueEmail('show');
      const seeded = await cli(['seed', '--email', email, '--months', '1']);
      const { inviteCode } = credentials(seeded.stdout);
      const family = await familyOf(email);
      const n = await counts(family.id);
      // Two uploaded files (rows only: the report reads the database), 3 MiB in all.
      for (const size of [1024 * 1024, 2 * 1024 * 1024]) {
        const id = randomUUID();
        await db.query(`INSERT INTO files (id, family_id, storage_key, mime_type, size_bytes, sha256) VALUES ($1, $2, $3, 'application/pdf', $4, repeat('0', 64))`, [
          id,
          family.id,
          `${family.id}/${id}`,
          size,
        ]);
      }

      const text = await cli(['family:show', inviteCode.toLowerCase()]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`Family ${family.id}`);
      expect(text.stdout).toContain(`sync_version: ${family.sync_version}`);
      expect(text.stdout).toMatch(/patient:\s+Amira, born \d{4}-\d\d-\d\d, [\d.]+ kg, A\+, Beta-thalassemia major/);
      expect(text.stdout).toMatch(new RegExp(`owner\\s+${email.replace(/[.+]/g, '\\$&')} \\(Demo Parent\\)`));
      expect(text.stdout).toMatch(new RegExp(`blood_test_results\\s+${n.blood_test_results} / 0`));
      const total = Object.values(n).reduce((a, b) => a + b, 0); // seed deletes nothing
      expect(text.stdout).toContain(`    in all: ${total} of the 1000000 limit (SYNC_FAMILY_MAX_RECORDS)\n`);
      expect(text.stdout).toContain('files:        2, 3.0 MiB of the 10240.0 MiB limit (UPLOAD_FAMILY_MAX_BYTES)');

      const json = await cli(['family:show', email, '--json']);
      const report = JSON.parse(json.stdout);
      // Versions are numbers, times ISO 8601 (BIGINT milliseconds and timestamptz columns alike).
      const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(report.family).toMatchObject({
        id: family.id,
        invite_code: inviteCode,
        sync_version: Number(family.sync_version),
        created_at: iso,
        demo_seeded_at: iso,
        patient_birth_date: iso,
        patient_weight_kg: expect.any(Number),
      });
      expect(report.members).toEqual([expect.objectContaining({ email, role: 'owner', created_at: iso })]);
      expect(Object.fromEntries(report.counts.map((c: { table: string; live: number }) => [c.table, c.live]))).toEqual(n);
      expect(report.records).toEqual({ stored_records: total, max_records: 1_000_000 });
      expect(report.files).toEqual({ count: 2, stored_bytes: 3 * 1024 * 1024, max_bytes: 10 * 1024 ** 3 });
    });

    itOnEmbeddedRun('family:show prints what members wrote with its control characters escaped: a name cannot forge a line, an email cannot command the terminal', async () => {
      const owner = await registerAccount(t, { name: 'Real Owner' });
      // A name or patient field may hold any character but NUL. An email's quoted local part could hold control
      // characters until emails refused them: an account stored before that is written here by hand.
      const forgedLine = '\r\x1b[2K    owner  someone.else@example.test (Real Owner)  user 00000000-0000-4000-8000-000000000000';
      const mallory = await joinFamily(t, owner.inviteCode, { name: `Mallory${forgedLine}` });
      const legacyEmail = `"\x1b]0;pwned\x07${randomUUID()}"@example.test`;
      await t.db.query('UPDATE users SET email = $1 WHERE id = $2', [legacyEmail, mallory.user.id]);
      // And an invisible character, which emails refuse now too: support must see it is not the real address.
      const lookAlike = await joinFamily(t, owner.inviteCode);
      const invisibleEmail = `look\u200balike-${randomUUID()}@example.test`;
      await t.db.query('UPDATE users SET email = $1 WHERE id = $2', [invisibleEmail, lookAlike.user.id]);
      await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_name: 'Amira\nmembers (0):', patient_diagnosis: '\x9b2J' }).expect(200);

      const shown = await cli(['family:show', owner.inviteCode]);
      expect(shown.code).toBe(0);
      // Nothing a terminal acts on (C0 but the format's own newlines, DEL, C1); each member on its one line.
      expect(shown.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      const lines = shown.stdout.split('\n');
      expect(lines.filter((l) => /^\s+owner\s/.test(l))).toEqual([expect.stringContaining(`${owner.email} (Real Owner)`)]);
      expect(lines.filter((l) => /^\s+member\s/.test(l))).toEqual([
        expect.stringContaining('"\\u001b]0;pwned\\u0007'),
        expect.stringContaining(invisibleEmail.replace('\u200b', '\\u200b')),
      ]);
      expect(shown.stdout).toContain('(Mallory\\r\\u001b[2K    owner  someone.else@example.test');
      expect(shown.stdout).toMatch(/patient:\s+Amira\\nmembers \(0\):, \\u009b2J\n/);

      // Such an account can no longer sign in; support removes it by its email as stored, and the answer shows it escaped.
      const deleted = await cli(['user:delete', '--email', legacyEmail]);
      expect({ code: deleted.code, stderr: deleted.stderr }).toEqual({ code: 0, stderr: '' });
      expect(deleted.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(deleted.stdout).toContain(`Deleted "\\u001b]0;pwned\\u0007`);
      expect(await t.db.query('SELECT 1 FROM users WHERE id = $1', [mallory.user.id])).toEqual([]);
    });
  });

  describeOnEmbeddedRun('beside a running `npm start` on the embedded PostgreSQL (same DATA_DIR)', () => {
    // Made in beforeAll, not here: a skipped describe (the DATABASE_URL run) still runs this body but
    // never its afterAll, and left the directory behind.
    let appDataDir: string;
    let app: Running;
    /** No DATABASE_URL: the CLIs find the app's embedded server (another EMBEDDED_PG_PORT on purpose). */
    let besideApp: Record<string, string | undefined>;

    beforeAll(async () => {
      appDataDir = scratchDir('hemoday-cli-app-');
      const port = await freePort();
      app = startService({ PORT: String(port), EMBEDDED_PG_PORT: String(await freePort()), DATA_DIR: appDataDir });
      await waitForHealth(port, app);
      besideApp = { DATABASE_URL: undefined, DATA_DIR: appDataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    }, 120_000);
    afterAll(async () => {
      await stopAll();
      if (appDataDir) removeDir(appDataDir);
    });

    /** The attach warning went to stderr, without colours (not a terminal); stdout is the result alone. */
    const expectWarningOnStderr = (run: Run) => {
      expect(run.stderr).toMatch(/WARN \[EmbeddedPostgres\] using the embedded PostgreSQL of the running app \(pid \d+\)/);
      expect(run.stderr).not.toContain('\x1b[');
      expect(run.stdout).not.toMatch(/EmbeddedPostgres|WARN/);
    };

    it('--json prints only JSON on stdout while the CLI logs a warning (family:show, files:cleanup)', async () => {
      const email = uniqueEmail('beside');
      const created = await cli(['user:create', '--email', email, '--password', 'long enough'], besideApp);
      expect(created.code).toBe(0);
      expectWarningOnStderr(created);
      expect(created.stdout).toMatch(/^Created /);

      const shown = await cli(['family:show', email, '--json'], besideApp);
      expect(shown.code).toBe(0);
      expectWarningOnStderr(shown);
      expect(JSON.parse(shown.stdout).members).toEqual([expect.objectContaining({ email, role: 'owner' })]);

      const cleanup = await cli(['files:cleanup', '--dry-run', '--json'], besideApp);
      expect(cleanup.code).toBe(0);
      expectWarningOnStderr(cleanup);
      expect(JSON.parse(cleanup.stdout)).toMatchObject({ dry_run: true, failures: [] });
    });

    it('npm run migration:* uses the running app\'s server too, as `node dist/cli.js migration:run` does, and leaves it serving', async () => {
      const migrationCli = (args: string[]) => cli(args, besideApp, { entry: resolve('dist/src/database/migration-cli.js') });
      for (const command of [['show'], ['run']]) {
        const run = await migrationCli(command);
        expect({ code: run.code, stdout: run.stdout }).toEqual({
          code: 0,
          stdout: expect.stringMatching(command[0] === 'show' ? /^No pending migrations \(\d+ applied, the last: \w+\)\.\n$/ : /^Database schema is up to date\.\n$/),
        });
        expectWarningOnStderr(run);
      }
      expect(app.child.exitCode).toBeNull();
      expect((await cli(['migration:run'], besideApp)).stdout).toMatch(/^Database schema is up to date\./);
    });
  });

  it('migration:run and migration:revert through the CLI, on a database of their own', async () => {
    const name = `hemoday_cli_mig_${process.pid}_${Date.now()}`;
    await db.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString() };
    try {
      const applied = await cli(['migration:run'], env);
      expect(applied.code).toBe(0);
      expect(applied.stdout).toMatch(/^Applied: InitialSchema\d+, /);
      expect((await cli(['migration:run'], env)).stdout).toMatch(/up to date/);
      const reverted = await cli(['migration:revert'], env);
      expect(reverted.code).toBe(0);
      expect(reverted.stdout).toMatch(/^Reverted: \w+\d+/);
      expect((await cli(['migration:run'], env)).stdout).toMatch(/^Applied: /);
    } finally {
      await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
