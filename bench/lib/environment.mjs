// The benchmark's world: a fresh database (embedded PostgreSQL in a temp dir, or a
// new database on the DATABASE_URL server) and the BUILT app as a child process,
// exactly as production runs it (`node dist/main.js`).
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort, startTestDatabase } from '../../test/setup/global-setup.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A fresh, migrated database from the test set-up's code: embedded, started once
 * with pg_stat_statements preloaded (the statement counts are cross-checked with
 * it); or a new database on the DATABASE_URL server, where the cross-check runs
 * only if that server preloads pg_stat_statements. Statements are counted on the
 * wire either way (lib/pg-counter.mjs).
 */
export async function startDatabase() {
  const embedded = !process.env.DATABASE_URL;
  const { url, stop } = await startTestDatabase({
    prefix: 'hemoday_bench',
    // Embedded only (an external server keeps its own settings).
    settings: { shared_preload_libraries: 'pg_stat_statements' },
  });
  let statementCounting = false;
  try {
    await withClient(url, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    await withClient(url, (c) => c.query('SELECT count(*) FROM pg_stat_statements'));
    statementCounting = true;
  } catch (error) {
    if (embedded) {
      await stop().catch(() => undefined);
      throw new Error(`pg_stat_statements is not available on the embedded PostgreSQL, which the bench starts with it preloaded: ${error.message}`);
    }
  }
  const version = await withClient(url, async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  return { url, stop, statementCounting, version, embedded };
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Every setting the app reads that changes what the benchmark measures, pinned to
 * the documented defaults (README "Configuration"). The app gets ONLY these (plus
 * PATH/HOME and the locale), runs in an empty temp directory (so no developer
 * `.env` is loaded) and never sees the bench's own environment.
 */
const APP_SETTINGS = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  DB_POOL_SIZE: '20',
  DB_STATEMENT_TIMEOUT_SECONDS: '60',
  BODY_LIMIT_BYTES: String(1024 * 1024),
  SYNC_BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
  UPLOAD_MAX_BYTES: String(20 * 1024 * 1024),
  STORAGE_DRIVER: 'local',
  CORS_ORIGINS: '*',
  TRUST_PROXY: 'false',
  JWT_ACCESS_TTL: '2h',
  JWT_REFRESH_TTL: '60d',
  // Benchmarks log in and register far more often than a person: the per-account limit would answer 429.
  AUTH_RATE_LIMIT: '100000000',
  AUTH_RATE_WINDOW_SECONDS: '60',
};

/** `node dist/main.js` on a free port; resolves once /health answers. */
export async function startApp(databaseUrl, { cpuProfDir, settings = {} } = {}) {
  const port = await freePort();
  const work = await mkdtemp(join(tmpdir(), 'hemoday-bench-app-'));
  const args = [];
  if (cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`);
  args.push(join(ROOT, 'dist', 'main.js'));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    LANG: 'C.UTF-8',
    ...APP_SETTINGS,
    ...settings,
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: join(work, 'data'),
    UPLOAD_DIR: join(work, 'uploads'),
  };
  const child = spawn(process.execPath, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`The app exited during start-up (code ${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/health`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The app did not answer /health within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    pid: child.pid,
    settings: Object.fromEntries(Object.entries(env).filter(([k]) => k in APP_SETTINGS)),
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** Resident-set figures of a process from /proc (Linux), in MiB. */
export async function memoryOf(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, peakMiB: NaN };
  }
}

/** Resets the kernel's peak-RSS mark (VmHWM) of a process, so the next reading is the peak of what follows. */
export async function resetPeakMemory(pid) {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * The PostgreSQL server processes serving the app (every backend of the bench
 * database but the caller's), when the server runs on this machine and /proc
 * lets us read them; [] otherwise.
 */
export async function postgresBackendPids(client) {
  const { rows } = await client.query(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
  );
  const pids = [];
  for (const { pid } of rows) {
    try {
      await readFile(`/proc/${pid}/status`, 'utf8');
      pids.push(pid);
    } catch {
      // another machine or container, or not ours to read
    }
  }
  return pids;
}
