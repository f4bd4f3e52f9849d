/**
 * The built service (`node dist/main.js`) as a child process, for tests of
 * start-up, shutdown and the embedded PostgreSQL's life cycle.
 */
import { ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type EmbeddedPostgres, SMART_SHUTDOWN } from '../../src/database/embedded-postgres.js';

/** HEMODAY_MAIN: another build to run the same tests against (e.g. the last commit's, to see them fail). */
export const MAIN = resolve(process.env.HEMODAY_MAIN ?? 'dist/main.js');

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** The output's lines parsed as JSON (a line that is not JSON fails the test that reads it). */
  lines: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Resolves when a line of output matches (rejects if the process exits first). */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

let workDir: string | undefined;

/**
 * The working directory of the processes the tests start (the built app, the CLIs), unless a test
 * gives its own: a folder of the run, without a `.env`. They read `.env` from their working
 * directory, and the checkout's is the developer's (README, Quick start: ports, or a DATABASE_URL):
 * run from the checkout, its DATABASE_URL took the apps and commands meant for a throw-away
 * PostgreSQL to the developer's database (migrations, seeded demo families), and its other values
 * changed what the tests checked. Relative defaults (UPLOAD_DIR `uploads`) land here too.
 */
export function childCwd(): string {
  workDir ??= scratchDir('hemoday-cwd-');
  return workDir;
}

/** Every child a test file started; `stopAll()` in afterAll stops what an assertion left running. */
const started: ChildProcess[] = [];
const groups = new Set<number>();

export function startProcess(command: string, args: string[], env: Record<string, string | undefined>, options: SpawnOptions = {}): Running {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.NODE_OPTIONS; // jest's VM-modules flag is not what production runs with
  const child = spawn(command, args, { env: { ...base, LOG_LEVEL: 'info', NODE_ENV: 'test', ...env }, stdio: ['pipe', 'pipe', 'pipe'], cwd: childCwd(), ...options });
  started.push(child);
  if (options.detached && child.pid) groups.add(child.pid);
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (c: Buffer) => {
    output += c;
    waiters.forEach((w) => w());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 45_000) =>
    new Promise<string>((res, rej) => {
      const check = () => {
        const line = output.split('\n').find((l) => pattern.test(l));
        if (line === undefined) return;
        done();
        res(line);
      };
      const timer = setTimeout(() => {
        done();
        rej(new Error(`no output line matched ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const onExit = () => {
        setImmediate(() => {
          check();
          if (waiters.has(check)) {
            done();
            rej(new Error(`exited before a line matched ${pattern}:\n${output}`));
          }
        });
      };
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
      };
      waiters.add(check);
      child.once('exit', onExit);
      check();
    });
  const lines = () =>
    output
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON line: ${l}\n--- whole output:\n${output}`);
        }
      });
  return { child, output: () => output, lines, exited, waitFor };
}

/** `node dist/main.js` with `env` (DATABASE_URL unset unless given: the embedded PostgreSQL). */
export function startService(env: Record<string, string | undefined>, options: SpawnOptions = {}): Running {
  return startProcess(process.execPath, [MAIN], env, options);
}

export async function waitForHealth(port: number, running: Running, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.child.exitCode !== null) throw new Error(`service exited early:\n${running.output()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: 'close' } });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service did not become healthy:\n${running.output()}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has exited
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Live PostgreSQL servers (postmasters) whose command line names `dataDir` (Linux /proc). A backend
 * the server has just forked carries the same command line until it sets its own title: it is left
 * out by its parent, a server of the same directory (it made a test see two servers, now and then).
 */
export function postgresServersFor(dataDir: string): number[] {
  const candidates = new Map<number, number>(); // pid → parent pid
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const d = args.indexOf('-D');
      if (/postgres$/.test(args[0]) && d >= 0 && resolve(args[d + 1]) === resolve(dataDir) && isAlive(Number(entry))) {
        candidates.set(Number(entry), parentOf(Number(entry)));
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return [...candidates].filter(([, parent]) => !candidates.has(parent)).map(([pid]) => pid);
}

function parentOf(pid: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** A scratch folder the `postgres` OS user can enter (the server runs as that user when we are root). */
export function scratchDir(prefix = 'hemoday-proc-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Stops every child (and process group) a test left running, and waits for them. */
export async function stopAll(): Promise<void> {
  const alive = started.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of alive) child.kill('SIGTERM');
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  await Promise.all(alive.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));
  started.length = 0;
  groups.clear();
}

/**
 * Stops an embedded server under an app that is still running: its idle pool never ends its sessions
 * by itself, so a smart shutdown would wait its 3 s, then cut them off (fast shutdown) all the same.
 * Cut off at once.
 */
export async function stopUnderTheApp(db: EmbeddedPostgres): Promise<void> {
  const smart = SMART_SHUTDOWN.ms;
  SMART_SHUTDOWN.ms = 0;
  try {
    await db.stop();
  } finally {
    SMART_SHUTDOWN.ms = smart;
  }
}

