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
 * A fresh, migrated database from the test set-up's code: embedded, with
 * pg_stat_statements preloaded so statements can be counted server-side; or a new
 * database on the DATABASE_URL server, where counting works only if that server
 * preloads pg_stat_statements.
 */
export async function startDatabase() {
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
  } catch {
    statementCounting = false; // not preloaded on an external server: scenario 4 reports n/a
  }
  const version = await withClient(url, async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  return { url, stop, statementCounting, version, embedded: !process.env.DATABASE_URL };
}

export async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `node dist/main.js` on a free port; resolves once /health answers. */
export async function startApp(databaseUrl, { cpuProfDir } = {}) {
  const port = await freePort();
  const work = await mkdtemp(join(tmpdir(), 'hemoday-bench-app-'));
  const args = [];
  if (cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`);
  args.push(join(ROOT, 'dist', 'main.js'));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      AUTH_RATE_LIMIT: '100000000',
      JWT_SECRET: randomBytes(32).toString('hex'),
      JWT_ACCESS_TTL: '2h',
      DATA_DIR: join(work, 'data'),
      UPLOAD_DIR: join(work, 'uploads'),
    },
  });
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
