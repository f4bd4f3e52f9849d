import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { platform } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { EmbeddedPostgresError } from './embedded-postgres-error.js';

/*
 * Who runs the embedded PostgreSQL of a data directory: the owner file written before the server
 * starts, and what start-up does with a server it finds already running there (a killed app's
 * orphan to stop, a stale postmaster.pid to drop, or a live app's server to refuse or attach to).
 */

/** In the data directory: which node process runs the server (see stopOrphanedServer). */
const OWNER_FILE = 'hemoday-owner.json';

export interface Owner {
  pid: number;
  /** The owner's start time as the OS reports it: tells the owner from a later process that reuses its pid. */
  startTime?: string;
  /**
   * false: the owner is an admin command (it attaches to a running app's server itself) and stops
   * its server when the command ends, so nothing may attach to it. Absent (an app, or a record
   * written by an older release): an app, serving until it is stopped.
   */
  attachable?: boolean;
}

export interface OrphanOptions {
  /** Use the server of a running app instead of refusing (see EmbeddedPostgresOptions.attachToRunning). */
  attachToRunning?: boolean;
  warn?: (message: string) => void;
}

/**
 * A node process killed with SIGKILL leaves its postmaster running with the
 * data directory locked. `postmaster.pid` names the server; OWNER_FILE names
 * the node process that started it. The recorded pid is only acted on when it
 * really is a PostgreSQL server for this data directory (the pid of a crashed
 * server may since belong to any process). Then, if its owner is alive and is
 * still its parent, another process is using this data directory: refuse.
 * Otherwise the server is orphaned (its parent is init or a subreaper such as
 * `systemd --user`): stop it.
 */
export async function stopOrphanedServer(dataDir: string, options: OrphanOptions = {}): Promise<{ port: number; ownerPid: number } | undefined> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pidLines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(pidLines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // PostgreSQL replaces a pid file whose process is gone
  const args = processArgs(pid);
  if (!args) {
    throw new EmbeddedPostgresError(
      `${pidFile} names pid ${pid}, which cannot be inspected. If no PostgreSQL server runs on ${dataDir}, delete that file.`,
    );
  }
  if (!isPostgresFor(args, dataDir)) {
    // The crashed server's pid now belongs to an unrelated process. PostgreSQL would refuse to start
    // ("lock file already exists") and that process is none of ours: leave it alone, drop the stale file.
    options.warn?.(`removing stale ${pidFile}: pid ${pid} is not a PostgreSQL server for this data directory`);
    await rm(pidFile, { force: true });
    return;
  }
  const owner = await readOwner(dataDir);
  if (owner && isRunningOwner(owner, pid)) {
    // Line 4 of postmaster.pid is the server's port.
    const port = Number(pidLines[3]);
    if (options.attachToRunning && owner.attachable === false) {
      // Attached, this command would lose its database mid-way when the other one ends and stops it
      // (found by review: a second `seed` died with "the database system is shutting down").
      throw new EmbeddedPostgresError(
        `Another admin command (pid ${owner.pid}) is using the embedded PostgreSQL in ${dataDir} and stops it when it ends: ` +
          'run this one after it, or start the app (npm start), whose server admin commands share.',
      );
    }
    if (options.attachToRunning && Number.isInteger(port) && port > 0) return { port, ownerPid: owner.pid };
    throw new EmbeddedPostgresError(
      `Another process (pid ${owner.pid}) is already running the embedded PostgreSQL in ${dataDir}. Stop it first, or set another DATA_DIR.`,
    );
  }
  options.warn?.(`stopping orphaned embedded PostgreSQL (pid ${pid}) left by a killed process`);
  process.kill(pid, 'SIGINT');
  // Not our child: wait for it to exit (a zombie left for a parent that does not reap counts as gone).
  if (!(await waitForExit(pid, 20_000))) {
    process.kill(pid, 'SIGQUIT');
    if (!(await waitForExit(pid, 10_000))) throw new EmbeddedPostgresError(`The orphaned embedded PostgreSQL (pid ${pid}) did not stop.`);
  }
}

/** The owner recorded in `dataDir`, if any (a missing or unreadable file is none). */
async function readOwner(dataDir: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(join(dataDir, OWNER_FILE), 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && owner.pid > 0 ? owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records this process as the owner of the server it is about to start in `dataDir`; `attachable`:
 * false for an admin command, whose server stops when the command ends (see Owner.attachable).
 */
export async function writeOwner(dataDir: string, options: { attachable: boolean }): Promise<void> {
  const owner: Owner = { pid: process.pid, startTime: processStartTime(process.pid), ...(!options.attachable && { attachable: false }) };
  await writeFile(join(dataDir, OWNER_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o644 });
}

/** Removes the owner file, only when this process is the recorded owner (a refused start must not clear the owner's). */
export async function clearOwner(dataDir: string): Promise<void> {
  if ((await readOwner(dataDir))?.pid === process.pid) await rm(join(dataDir, OWNER_FILE), { force: true }).catch(() => undefined);
}

/** An empty or unreadable start lock older than this was left by a process killed as it wrote it. */
const HALF_WRITTEN_LOCK_MS = 5_000;

/**
 * Runs `work` — from the cluster check to a server ready to serve — holding `<dataDir>.starting`,
 * so that two processes starting on one data directory at once (two `npm start`, an app and the
 * admin CLI) take turns (found by review: both saw no cluster and ran initdb, one started a server
 * on the other's half-built cluster, or one overwrote the other's owner record and then deleted it).
 * The second waits, then finds the first's server: refused, or attached to (stopOrphanedServer). A
 * lock whose holder is gone (killed; a reused pid has another start time) is taken over.
 */
export async function withStartLock<T>(dataDir: string, timeoutMs: number, work: () => Promise<T>, stopping: () => void): Promise<T> {
  const lock = `${dataDir}.starting`;
  const me: Owner = { pid: process.pid, startTime: processStartTime(process.pid) };
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await writeFile(lock, `${JSON.stringify(me)}\n`, { flag: 'wx', mode: 0o644 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(lock);
    const stale = holder ? !isLiveProcess(holder) : await olderThan(lock, HALF_WRITTEN_LOCK_MS);
    if (stale && (await removeStaleLock(lock))) continue;
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `Another process (pid ${holder?.pid ?? 'unknown'}) has been starting the embedded PostgreSQL in ${dataDir} for over ${timeoutMs / 1000}s. ` +
          `If no HemoDay process is starting, delete ${lock}.`,
      );
    }
    stopping();
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await work();
  } finally {
    if ((await readHolder(lock))?.pid === process.pid) await rm(lock, { force: true }).catch(() => undefined);
  }
}

/**
 * Removes a start lock whose holder is gone, after checking it again under `<lock>.takeover`
 * (created exclusively, held for a moment). Without it, two starts that found the same stale lock
 * both removed it, the second removing the lock the first had just taken, and both went on (found
 * in review: two of three processes inside at once in 4 of 8 tries). False when another start is
 * taking it over, or took it.
 */
async function removeStaleLock(lock: string): Promise<boolean> {
  const takeover = `${lock}.takeover`;
  try {
    await writeFile(takeover, '', { flag: 'wx', mode: 0o644 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Held for milliseconds: one this old was left by a process killed while it held it.
    if (await olderThan(takeover, HALF_WRITTEN_LOCK_MS)) await rm(takeover, { force: true });
    return false;
  }
  try {
    // Only its holder removes a live lock, and only the holder of the takeover a stale one: what is
    // stale now stays so until it is removed here.
    const holder = await readHolder(lock);
    const stale = holder ? !isLiveProcess(holder) : existsSync(lock) && (await olderThan(lock, HALF_WRITTEN_LOCK_MS));
    if (stale) await rm(lock, { force: true });
    return stale;
  } finally {
    await rm(takeover, { force: true });
  }
}

async function readHolder(lock: string): Promise<Owner | undefined> {
  try {
    const holder = JSON.parse(await readFile(lock, 'utf8')) as Owner;
    return Number.isInteger(holder.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    return undefined;
  }
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return true; // gone already
  }
}

/** The process is running and is the one recorded (not a later process that reuses its pid). */
function isLiveProcess(owner: Owner): boolean {
  return isRunning(owner.pid) && (owner.startTime === undefined || processStartTime(owner.pid) === owner.startTime);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Fields of /proc/<pid>/stat after the command name (field 3, the state, is index 0). */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function ps(pid: number, field: string): string | undefined {
  try {
    return execFileSync('ps', ['-ww', '-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function parentPid(pid: number): number | undefined {
  const ppid = Number(platform() === 'linux' ? procStat(pid)?.[1] : ps(pid, 'ppid'));
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/** A process's command line (`ps` splits it at spaces where /proc is missing). */
function processArgs(pid: number): string[] | undefined {
  if (platform() === 'linux') {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      return undefined;
    }
  }
  return ps(pid, 'args')?.split(/\s+/);
}

function processStartTime(pid: number): string | undefined {
  return platform() === 'linux' ? procStat(pid)?.[19] : ps(pid, 'lstart');
}

/** Alive and not a zombie (an exited process whose parent has not reaped it). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  return platform() === 'linux' ? procStat(pid)?.[0] !== 'Z' : ps(pid, 'state')?.[0] !== 'Z';
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Exited. Give its new parent (init, a subreaper) a moment to reap it; one that never does is no reason to wait.
  const reaped = Date.now() + 1_000;
  while (isAlive(pid) && Date.now() < reaped) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** `postgres -D <dataDir> …`, as spawnServer starts it (pg_ctl starts it the same way). */
function isPostgresFor(args: string[], dataDir: string): boolean {
  if (!['postgres', 'postmaster'].includes(baseName(args[0] ?? ''))) return false;
  const index = args.indexOf('-D');
  return index >= 0 && index + 1 < args.length && resolve(args[index + 1]) === dataDir;
}

/** The recorded owner is alive (the same process, not a reuse of its pid), is node, and is the server's parent. */
function isRunningOwner(owner: Owner, postmasterPid: number): boolean {
  if (!isRunning(owner.pid) || parentPid(postmasterPid) !== owner.pid) return false;
  if (owner.startTime !== undefined && processStartTime(owner.pid) !== owner.startTime) return false;
  return /^node/.test(baseName(processArgs(owner.pid)?.[0] ?? '')) || processArgs(owner.pid)?.[0] === process.execPath;
}

export function baseName(path: string): string {
  return path.split(sep).pop() ?? path;
}
