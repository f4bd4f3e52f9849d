/**
 * The built service as the container and `npm start` run it: `node dist/main.js`
 * in its own process, on DATABASE_URL and on the embedded PostgreSQL, including
 * start-up validation, SIGTERM and recovery from a SIGKILL-ed predecessor.
 */
import { Logger } from '@nestjs/common';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { uniqueEmail } from '../factories/auth.factory.js';
import { queryOnce, scratchDatabases } from '../setup/scratch-databases.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
// isAlive is zombie-aware: a stopped orphan is reaped by init, which may take a moment under load.
import { childCwd, freePort, isAlive, startProcess, startService as start, stopAll, waitForHealth } from '../setup/service-process.js';
import { itOnEmbeddedRun } from '../setup/test-runs.js';

/** An expected start-up failure: exactly one log line at error level or above, and no stack frames in it. */
function expectOneFailureLine(app: { lines: () => Array<Record<string, unknown>> }, message: RegExp): void {
  const failures = app.lines().filter((l) => (l.level as number) >= 50);
  expect(failures.map((l) => l.msg)).toEqual([expect.stringMatching(message)]);
  expect(JSON.stringify(failures[0])).not.toMatch(/\\n\s+at /);
}

describe('node dist/main.js', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemoday-proc-'));
    chmodSync(dir, 0o755);
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await stopAll();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('serves /health and /docs on DATABASE_URL and stops cleanly on SIGTERM; PORT=0 takes a free port, which the listening line names', async () => {
    const app = start({ DATABASE_URL: process.env.TEST_DATABASE_URL, PORT: '0', JWT_SECRET: 'x'.repeat(40), DATA_DIR: tempDir() });
    // Before: "listening on http://127.0.0.1:0", naming no port anything could reach.
    const port = Number((await app.waitFor(/HemoDay API listening on http:\/\/127\.0\.0\.1:(\d+) /)).match(/127\.0\.0\.1:(\d+) /)![1]);
    expect(port).toBeGreaterThan(0);
    await waitForHealth(port, app);
    expect((await fetch(`http://127.0.0.1:${port}/docs`)).status).toBe(200);
    // The child writes its access log after the response: wait for the line to arrive.
    const deadline = Date.now() + 10_000;
    let log: string | undefined;
    while (!(log = app.output().split('\n').find((l) => l.includes('"request completed"'))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(JSON.parse(log!)).toMatchObject({ reqId: expect.any(String), status: 200 });
    // A client whose request is still arriving (headers half sent) does not hold the shutdown: it held it to
    // its 20 s cap, which exited 1 ("shutdown did not finish"), found in review.
    const stalled = connect(port, '127.0.0.1');
    stalled.on('error', () => undefined);
    await once(stalled, 'connect');
    // Handed to the kernel before the signal: the server has read them by the time its shutdown first looks (100 ms on).
    await new Promise((written) => stalled.write('GET /health HTTP/1.1\r\nHost: x\r\n', written));
    const stalledClosed = once(stalled, 'close');
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    await stalledClosed;
    expect(app.output()).not.toContain('shutdown did not finish');
  });

  itOnEmbeddedRun('reads .env by the rules the README gives, as the CLIs do: in an unquoted value only " #" starts a comment (found in review: a reset link with #token= lost its token, and the app refused the PASSWORD_RESET_URL the CLI took)', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, '.env'), 'PASSWORD_RESET_URL=https://app.example.com/reset-password#token={token}   # the fragment never reaches a server log\n');
    const port = await freePort();
    const app = start({ DATABASE_URL: process.env.TEST_DATABASE_URL, PORT: String(port), JWT_SECRET: 'x'.repeat(40), DATA_DIR: tempDir() }, { cwd });
    await waitForHealth(port, app);
    const post = (path: string, body: object) =>
      fetch(`http://127.0.0.1:${port}/api/v1/auth/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const email = uniqueEmail('dotenv');
    expect((await post('register', { email, password: 'long enough pw' })).status).toBe(201);
    expect((await post('forgot-password', { email })).status).toBe(202);
    // No SMTP_URL outside production: the email is written to the log, link included.
    const mail = JSON.parse(await app.waitFor(/email not sent/)) as { mail: { text: string } };
    expect(mail.mail.text).toMatch(/^https:\/\/app\.example\.com\/reset-password#token=[\w-]{43}$/m);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });

  itOnEmbeddedRun('object storage that cannot be reached is an outage, not the database and not a bug: 503 STORAGE_UNAVAILABLE with Retry-After, one warning with its cause (found in review)', async () => {
    // In its own process: under jest, the S3 client wraps Node's socket errors (another realm) and drops their code.
    const port = await freePort();
    const closedPort = await freePort();
    const app = start({
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      PORT: String(port),
      JWT_SECRET: 'x'.repeat(40),
      DATA_DIR: tempDir(),
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      S3_BUCKET: 'hemoday',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
    });
    await waitForHealth(port, app);
    const register = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `s3-down-${Date.now()}@example.com`, password: 'long enough', name: 'Parent' }),
    });
    const { access_token } = (await register.json()) as { access_token: string };
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('%PDF-1.4\n%%EOF\n')], { type: 'application/pdf' }), 'scan.pdf');
    const upload = await fetch(`http://127.0.0.1:${port}/api/v1/upload`, { method: 'POST', headers: { authorization: `Bearer ${access_token}` }, body: form });
    // Before 63dc74e: 503 DATABASE_UNAVAILABLE, a warning 'database unavailable' naming the S3 endpoint's refused connection.
    // Before this: a bare 500, logged as an unhandled error.
    expect({ status: upload.status, retryAfter: upload.headers.get('retry-after'), body: await upload.json() }).toEqual({
      status: 503,
      retryAfter: '30',
      body: { statusCode: 503, error: 'Service Unavailable', message: expect.any(String), details: { code: 'STORAGE_UNAVAILABLE', retryAfterSeconds: 30 } },
    });
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    // Not app.lines(): the S3 client also prints a warning of its own (the Node version) that is not JSON.
    const lines = app.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; level: number; cause?: string });
    const warnings = lines.filter((l) => l.msg === 'file storage unavailable; answered 503');
    expect(warnings).toEqual([expect.objectContaining({ level: 40, cause: expect.stringMatching(/^upload: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(3 attempts\)$/) })]);
    // The access log's line of the 503 aside (every 5xx is logged at error level there), nothing at error level: no 'unhandled error'.
    expect(lines.filter((l) => l.level >= 50 && l.msg !== 'request completed')).toEqual([]);
    expect(lines.map((l) => l.msg)).not.toContain('database unavailable; answered 503');
  });

  describe('NODE_ENV=production, as the image runs it, on a fresh database', () => {
    const scratch = scratchDatabases('hemoday_proc');
    const freshDatabase = () => scratch.create();
    const tablesOf = async (url: string): Promise<string[]> =>
      (await queryOnce<{ table_name: string }>(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).map((r) => r.table_name);

    beforeAll(() => scratch.open());
    afterAll(async () => {
      await stopAll();
      await scratch.dropAll();
    });

    it('applies every migration at start, then serves /health, /docs and the API; SIGTERM exits 0', async () => {
      const url = await freshDatabase();
      expect(await tablesOf(url)).toEqual([]);
      const port = await freePort();
      const app = start({
        NODE_ENV: 'production',
        DATABASE_URL: url,
        JWT_SECRET: 'p'.repeat(48),
        HOST: '127.0.0.1',
        PORT: String(port),
        UPLOAD_DIR: join(tempDir(), 'uploads'),
        DATA_DIR: tempDir(),
      });
      await waitForHealth(port, app);

      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const applied = (await client.query('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name);
        expect(applied).toEqual(MIGRATIONS.map((m) => new m().name));
      } finally {
        await client.end();
      }
      expect(await tablesOf(url)).toEqual(expect.arrayContaining(['families', 'users', 'transfusions', 'files', 'sync_cursors']));
      expect((await fetch(`http://127.0.0.1:${port}/docs`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/docs-json`)).status).toBe(200);
      const register = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'prod@example.com', password: 'long enough' }),
      });
      expect(register.status).toBe(201);

      // A phone's open "sync now" stream must not hold the shutdown (it did, until the 20 s
      // timeout and exit 1): the server ends it and exits 0.
      const { access_token } = (await register.json()) as { access_token: string };
      const events = await fetch(`http://127.0.0.1:${port}/api/v1/sync/events`, { headers: { authorization: `Bearer ${access_token}` } });
      const reader = events.body!.getReader();
      let received = '';
      while (!received.includes('event: sync')) received += new TextDecoder().decode((await reader.read()).value);
      app.child.kill('SIGTERM');
      expect(await app.exited).toBe(0);
      while (!(await reader.read()).done); // the server ended the stream
    });

    it('two instances starting together with a migration pending: it is applied once and both serve', async () => {
      const url = await freshDatabase();
      Logger.overrideLogger(['warn', 'error', 'fatal']); // the data source reports migration progress
      const migrate = new DataSource(buildDataSourceOptions(url, { poolSize: 1 }));
      await migrate.initialize();
      await migrate.runMigrations({ transaction: 'all' });
      await migrate.undoLastMigration({ transaction: 'all' });
      await migrate.destroy();
      // Both instances are held where TypeORM reads the applied migrations, then let go together.
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      const env = { NODE_ENV: 'production', DATABASE_URL: url, JWT_SECRET: 'p'.repeat(48), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
      const ports = [await freePort(), await freePort()];
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE migrations IN ACCESS EXCLUSIVE MODE');
        const apps = ports.map((port) => start({ ...env, PORT: String(port), UPLOAD_DIR: join(tempDir(), 'uploads'), DATA_DIR: tempDir() }));
        // Asked on connections of its own: inside the locker's transaction pg_stat_activity is a snapshot.
        const waiting = async () =>
          (await queryOnce<{ n: number }>(url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].n;
        while ((await waiting()) < 2) {
          if (apps.some((app) => app.child.exitCode !== null)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await locker.query('ROLLBACK');
        // Before: both applied it, and the later one failed to start ("relation … already exists").
        for (const [i, app] of apps.entries()) await waitForHealth(ports[i], app);
        const last = new MIGRATIONS[MIGRATIONS.length - 1]().name;
        expect(await queryOnce(url, `SELECT name FROM migrations WHERE name = '${last}'`)).toEqual([{ name: last }]);
        for (const app of apps) {
          app.child.kill('SIGTERM');
          expect(await app.exited).toBe(0);
        }
      } finally {
        await locker.end();
      }
    });

    itOnEmbeddedRun('refuses to start without JWT_SECRET, naming the variable, and leaves the database untouched', async () => {
      const url = await freshDatabase();
      const app = start({ NODE_ENV: 'production', DATABASE_URL: url, JWT_SECRET: '', HOST: '127.0.0.1', PORT: String(await freePort()) });
      expect(await app.exited).toBe(1);
      expect(app.output()).toMatch(/JWT_SECRET is required when NODE_ENV=production/);
      expect(await tablesOf(url)).toEqual([]);
    });
  });

  itOnEmbeddedRun('refuses the embedded database in production', async () => {
    const app = start({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) });
    expect(await app.exited).toBe(1);
    expect(app.output()).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
  });

  itOnEmbeddedRun('rejects a bad configuration value with a clear message', async () => {
    const app = start({ PORT: 'eighty', DATABASE_URL: process.env.TEST_DATABASE_URL });
    expect(await app.exited).toBe(1);
    expect(app.output()).toMatch(/PORT=\\?"eighty\\?"/); // as text, or inside a JSON log line
  });

  itOnEmbeddedRun('checks the configuration before it loads the application: a build whose application cannot load still names the bad value, and only a good configuration reaches the load', async () => {
    // A copy of dist/ without server.js, the application's module, beside the project's node_modules.
    const copy = tempDir();
    cpSync(resolve('dist'), join(copy, 'dist'), { recursive: true });
    rmSync(join(copy, 'dist', 'src', 'server.js'));
    symlinkSync(resolve('node_modules'), join(copy, 'node_modules'));
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ type: 'module' }));
    const run = (env: Record<string, string | undefined>) => startProcess(process.execPath, [join(copy, 'dist', 'main.js')], env, { cwd: copy });
    const bad = run({ PORT: 'eighty' });
    expect(await bad.exited).toBe(1);
    expectOneFailureLine(bad, /^HemoDay failed to start: Invalid configuration:\n {2}- PORT="eighty": PORT must be an integer number$/);
    const good = run({ PORT: '0', DATABASE_URL: process.env.TEST_DATABASE_URL, JWT_SECRET: 'x'.repeat(40) });
    expect(await good.exited).toBe(1);
    expect(good.output()).toMatch(/HemoDay failed to start: Cannot find module .*server\.js/);
  });

  itOnEmbeddedRun('a HOST that does not resolve: one line naming HOST, without a stack (it said "getaddrinfo ENOTFOUND …" with a stack)', async () => {
    const app = start({ HOST: 'no-such-host.invalid', PORT: String(await freePort()), DATABASE_URL: process.env.TEST_DATABASE_URL, JWT_SECRET: 'x'.repeat(40), DATA_DIR: tempDir() });
    expect(await app.exited).toBe(1);
    expectOneFailureLine(app, /^HemoDay failed to start: HOST=no-such-host\.invalid does not resolve to an address of this machine: set HOST$/);
  });

  itOnEmbeddedRun('a DATABASE_URL naming a database that does not exist: one line naming DATABASE_URL, without the password or a stack (found by review)', async () => {
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/hemoday_missing_${process.pid}_${Date.now()}`;
    const app = start({ DATABASE_URL: url.toString(), PORT: String(await freePort()), JWT_SECRET: 'x'.repeat(40), DATA_DIR: tempDir() });
    expect(await app.exited).toBe(1);
    // Before: 'HemoDay failed to start: database "…" does not exist', with a stack from the pg driver's files.
    expectOneFailureLine(
      app,
      new RegExp(`^HemoDay failed to start: cannot use the database of DATABASE_URL \\(${url.hostname}:${url.port}${url.pathname}\\): database "${url.pathname.slice(1)}" does not exist$`),
    );
    if (url.password) expect(app.output()).not.toContain(decodeURIComponent(url.password));
  });

  itOnEmbeddedRun('a DATABASE_URL server not accepting connections yet is waited for, each retry line naming its cause; SIGTERM ends the wait (the lines said only "Unable to connect to the database. Retrying (1)...")', async () => {
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.hostname = '127.0.0.1';
    url.port = String(await freePort()); // nothing listens there
    const app = start({ DATABASE_URL: url.toString(), PORT: String(await freePort()), JWT_SECRET: 'x'.repeat(40), DATA_DIR: tempDir() });
    await app.waitFor(/Retrying \(1\)/, 30_000);
    const retry = app.lines().find((l) => /Retrying \(1\)/.test(String(l.msg)))!;
    expect(retry.msg).toMatch(new RegExp(`^Unable to connect to the database\\. Message: connect ECONNREFUSED 127\\.0\\.0\\.1:${url.port}\\. Retrying \\(1\\)\\.\\.\\.$`));
    expect(retry.stack).toMatch(/^Error: connect ECONNREFUSED/); // Nest's error(message, stack): the stack is kept
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.output()).toMatch(/SIGTERM received during start-up/);
  });

  itOnEmbeddedRun('a JWT secret file that is too short: one line naming the file, without a stack (README: "an empty or short file there stops the start-up"; found by review)', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'jwt-secret'), 'abc');
    const app = start({ DATABASE_URL: process.env.TEST_DATABASE_URL, PORT: String(await freePort()), DATA_DIR: dataDir });
    expect(await app.exited).toBe(1);
    // Before: the same message, with the JwtSecretError's stack through Nest's injector, as for a bug.
    expectOneFailureLine(app, /^HemoDay failed to start: The JWT secret file .*jwt-secret holds only 3 characters \(at least 32 are required\)/);
  });

  itOnEmbeddedRun('a DATA_DIR that cannot be written: one line naming DATA_DIR, without a stack, and no PostgreSQL started (found by review)', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, ''); // a folder below a file cannot be made, whoever we are (root included)
    const dataDir = join(file, 'data');
    const app = start({ PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()), DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(40) });
    expect(await app.exited).toBe(1);
    // Before: "ENOTDIR: not a directory, mkdir '…'" with a stack from the embedded PostgreSQL's start.
    expectOneFailureLine(app, /^HemoDay failed to start: Invalid configuration:/);
    expect(app.lines().find((l) => l.level === 60)?.problems).toEqual([
      expect.stringMatching(new RegExp(`^DATA_DIR="${dataDir}": local state .* cannot be kept there \\(ENOTDIR\\): it must be a folder this process \\(uid \\d+\\) can write`)),
    ]);
    expect(app.output()).not.toMatch(/starting embedded PostgreSQL/);
  });

  itOnEmbeddedRun('refuses at start-up, one problem each, what used to start and fail later: a refresh TTL past any date, a 0 access TTL, an origin that is not one', async () => {
    // Before: the app started; every login answered 500 (expiry "0NaN-…"), tokens lived 1 s, CORS allowed nothing.
    const app = start({ JWT_REFRESH_TTL: '999999999d', JWT_ACCESS_TTL: '0', CORS_ORIGINS: 'notaurl', DATABASE_URL: process.env.TEST_DATABASE_URL });
    expect(await app.exited).toBe(1);
    expectOneFailureLine(app, /^HemoDay failed to start: Invalid configuration:/);
    const [failure] = app.lines().filter((l) => l.level === 60);
    expect(failure.problems).toEqual([
      'JWT_ACCESS_TTL="0": JWT_ACCESS_TTL must be at least 10s (a shorter access token expires before a client on a slow network can use it)',
      'JWT_REFRESH_TTL="999999999d": JWT_REFRESH_TTL must be at most 3650d',
      expect.stringMatching(/^CORS_ORIGINS="notaurl": CORS_ORIGINS lists "notaurl", which is not an origin: /),
    ]);
  });

  itOnEmbeddedRun('starts the embedded PostgreSQL, reuses its data, and recovers from a SIGKILL-ed run', async () => {
    const dataDir = tempDir();
    const [port, pgPort] = [await freePort(), await freePort()];
    const env = { PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), DATA_DIR: dataDir };

    const first = start(env);
    await waitForHealth(port, first);
    const register = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'proc@example.com', password: 'long enough' }),
    });
    expect(register.status).toBe(201);
    const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);

    // A killed node leaves its PostgreSQL running, holding the data directory.
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isAlive(postmaster)).toBe(true);

    const second = start(env);
    await waitForHealth(port, second);
    expect(second.output()).toMatch(/orphaned embedded PostgreSQL/);
    // Stopped by the second app; under load its last exit steps and init's reaping may trail a little.
    for (const deadline = Date.now() + 10_000; isAlive(postmaster) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(postmaster)).toBe(false);
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'proc@example.com', password: 'long enough' }),
    });
    expect(login.status).toBe(200); // same data directory, same data

    // A second `npm start` on this DATA_DIR is refused: one line, no stack trace.
    const third = start({ ...env, PORT: String(await freePort()), EMBEDDED_PG_PORT: String(await freePort()) });
    expect(await third.exited).toBe(1);
    expectOneFailureLine(third, /HemoDay failed to start: Another process \(pid \d+\) is already running the embedded PostgreSQL in .*Stop it first/);

    const secondPostmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(isAlive(secondPostmaster)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  });

  itOnEmbeddedRun('two starts at once on a fresh DATA_DIR take turns: one serves, the other is refused in one line, and the cluster is whole (found by review)', async () => {
    const dataDir = tempDir();
    const [portA, portB] = [await freePort(), await freePort()];
    const pgPort = String(await freePort());
    const apps = [start({ PORT: String(portA), EMBEDDED_PG_PORT: pgPort, DATA_DIR: dataDir }), start({ PORT: String(portB), EMBEDDED_PG_PORT: pgPort, DATA_DIR: dataDir })];
    // Whichever wins serves; the other waited for its start, then found its server.
    const outcome = await Promise.race(apps.map((app, i) => app.exited.then(() => i)));
    const [loser, winner] = outcome === 0 ? apps : [apps[1], apps[0]];
    expect(await loser.exited).toBe(1);
    expectOneFailureLine(loser, /HemoDay failed to start: Another process \(pid \d+\) is already running the embedded PostgreSQL in .*Stop it first/);
    await waitForHealth(winner === apps[0] ? portA : portB, winner);
    winner.child.kill('SIGTERM');
    expect(await winner.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres.starting'))).toBe(false);
    // The cluster both raced to create starts again, with the password file that matches it.
    const again = start({ PORT: String(portA), EMBEDDED_PG_PORT: pgPort, DATA_DIR: dataDir });
    await waitForHealth(portA, again);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  itOnEmbeddedRun('the embedded PostgreSQL\'s port in use: one line saying so, without a stack trace', async () => {
    const blocker = createServer();
    const pgPort = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as AddressInfo).port)));
    try {
      const app = start({ PORT: String(await freePort()), EMBEDDED_PG_PORT: String(pgPort), DATA_DIR: tempDir() });
      expect(await app.exited).toBe(1);
      expectOneFailureLine(app, new RegExp(`HemoDay failed to start: Embedded PostgreSQL could not listen on 127\\.0\\.0\\.1:${pgPort}: the port is in use`));
    } finally {
      blocker.close();
    }
  });

  itOnEmbeddedRun('as root, keeps the embedded cluster in a reachable folder when the checkout is private (0700)', async () => {
    if (process.getuid?.() !== 0) return; // only root runs PostgreSQL as another OS user
    const privateDir = mkdtempSync(join(tmpdir(), 'hemoday-private-')); // 0700, like `mktemp -d`
    dirs.push(privateDir);
    const [port, pgPort] = [await freePort(), await freePort()];
    const app = start({ PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), DATA_DIR: join(privateDir, 'data') });
    try {
      await waitForHealth(port, app);
      const fallback = /using (\/var\/tmp\/hemoday-[0-9a-f]+)\/postgres instead/.exec(app.output())?.[1];
      expect(fallback).toBeDefined();
      dirs.push(fallback!);
      expect(existsSync(join(fallback!, 'postgres', 'PG_VERSION'))).toBe(true);
    } finally {
      app.child.kill('SIGTERM');
      expect(await app.exited).toBe(0);
    }
  });
});

describe('the processes the tests start', () => {
  afterAll(stopAll);

  it('run away from the checkout\'s .env: a developer\'s settings (README, Quick start), a DATABASE_URL above all, must not reach them (found in review: its DATABASE_URL got the migrations of the apps the tests started)', async () => {
    const probe = "process.stdout.write(JSON.stringify({ cwd: process.cwd(), dotEnv: require('node:fs').existsSync('.env') }))";
    const run = startProcess(process.execPath, ['-e', probe], {});
    expect(await run.exited).toBe(0);
    expect(JSON.parse(run.output())).toEqual({ cwd: childCwd(), dotEnv: false });
    expect(childCwd()).not.toBe(process.cwd());
  });
});
