import { randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, lstat, mkdir, open, opendir, rename, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LOWER_CASE_UUID_SOURCE } from '../../../common/http/uuid.js';
import { ConfigValidationError } from '../../../config/env.validation.js';
import {
  assertSafeFolder,
  assertSafeKey,
  type ByteRange,
  type FileStorage,
  isSafeSegment,
  type StorageEntry,
  type StoredObjectInfo,
  StorageObjectNotFoundError,
  StorageUnavailableError,
} from './file-storage.js';

/** The temporary file a write goes to before its rename (see `put`). */
const TEMP_NAME = new RegExp(`^\\.${LOWER_CASE_UUID_SOURCE}\\.part$`);

/**
 * Files on local disk under `root/<familyId>/<uuid>`. Writes go to a hidden
 * temporary file in the same folder, are flushed to disk, then renamed into
 * place, so a reader never sees a partial file and a failed upload leaves none.
 */
export class LocalFileStorage implements FileStorage {
  readonly driver = 'local' as const;
  private readonly root: string;
  /**
   * Per family folder, the sync of the root that made its entry there durable (or is making it): the
   * first put into a folder in this process syncs the root, and every later put into it, concurrent
   * ones included, waits for that sync before it resolves. One fsync of the root per family per
   * process; a failed one is forgotten (the next put tries again).
   */
  private readonly rootSyncs = new Map<string, Promise<void>>();

  /**
   * `minFreeBytes`: a write is refused (StorageUnavailableError: 503, a warning) while the disk under
   * the root has less free space than this (UPLOAD_MIN_FREE_BYTES; 0: never).
   */
  constructor(
    root: string,
    private readonly minFreeBytes = 0,
  ) {
    this.root = resolve(root);
  }

  /**
   * The app's start-up check (not the CLI's: its commands that touch no file must not need the folder):
   * the root exists (created if missing) and this process may write there. Without it an UPLOAD_DIR the
   * app's user cannot write (a host folder bind-mounted into the container, owned by root) passed the
   * start-up and /health, and every upload answered 500.
   */
  async assertWritable(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true, mode: 0o750 });
      await access(this.root, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigValidationError([
        `UPLOAD_DIR=${JSON.stringify(this.root)}: uploads cannot be stored there (${code}): it must be a folder this process ` +
          `(uid ${process.getuid?.() ?? '?'}) can write, e.g. chown it to that user, or set UPLOAD_DIR to one`,
      ]);
    }
  }

  async put(key: string, body: Readable): Promise<StoredObjectInfo> {
    const target = this.pathOf(key);
    // The body may fail while we check the free space or create the folder, before pipeline listens:
    // without a listener from the start that error would end the process. pipeline still reports it.
    body.on('error', () => undefined);
    await this.assertFreeSpace();
    const folder = dirname(target);
    // A family's first upload makes its folder: that entry in the root must reach the disk too, before
    // this put resolves and before any other put into the folder does. A put that found the folder made
    // by a concurrent one (mkdir answers undefined) resolved before that one's root sync had finished:
    // its committed row could outlive a power cut that took the folder, and the file, away.
    const created = await mkdir(folder, { recursive: true, mode: 0o750 });
    const rootSynced = this.rootSynced(folder, created !== undefined);
    const temp = join(folder, `.${randomUUID()}.part`);
    try {
      // flush: fsync before close, so a crash right after the DB commit cannot lose the bytes; then
      // the folder, so that the rename — the file's name — is on disk too before the row is inserted
      // (without it a power cut could leave the bytes under the .part name only: a row without a file).
      await pipeline(body, createWriteStream(temp, { flags: 'wx', mode: 0o640, flush: true }));
      await rename(temp, target);
      await syncFolder(folder);
      await rootSynced;
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    return { size: (await stat(target)).size };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    // Open first, so a missing file is an error here rather than on the stream after headers went out.
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new StorageObjectNotFoundError(key) : error;
    });
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async *list(folder?: string): AsyncIterable<StorageEntry> {
    if (folder !== undefined) assertSafeFolder(folder);
    const folders = folder !== undefined ? [folder] : await this.folders();
    for (const name of folders) {
      const dir = await opendir(join(this.root, name)).catch(ignoreMissing);
      if (!dir) continue;
      for await (const entry of dir) {
        if (!entry.isFile()) continue;
        const temporary = TEMP_NAME.test(entry.name);
        if (!temporary && !isSafeSegment(entry.name)) continue;
        // Gone meanwhile (an upload renamed its .part, a cleanup removed it): skip.
        const info = await lstat(join(this.root, name, entry.name)).catch(ignoreMissing);
        if (!info?.isFile()) continue;
        yield { key: `${name}/${entry.name}`, size: info.size, modifiedAt: info.mtime, temporary };
      }
    }
  }

  async deleteEntry(entry: StorageEntry): Promise<void> {
    if (!entry.temporary) return this.delete(entry.key);
    const [folder, name, ...rest] = entry.key.split('/');
    assertSafeFolder(folder);
    if (rest.length || !TEMP_NAME.test(name ?? '')) throw new Error(`Refusing unsafe temporary file: ${JSON.stringify(entry.key)}`);
    await unlink(join(this.root, folder, name)).catch(ignoreMissing);
  }

  /** The family folders under the root (other entries are not ours and are left alone). */
  private async folders(): Promise<string[]> {
    const dir = await opendir(this.root).catch(ignoreMissing);
    if (!dir) return [];
    const names: string[] = [];
    for await (const entry of dir) if (entry.isDirectory() && isSafeSegment(entry.name)) names.push(entry.name);
    return names.sort();
  }

  /** The root's sync for `folder` (see rootSyncs): a new one when this put made the folder, or none was made yet in this process. */
  private rootSynced(folder: string, created: boolean): Promise<void> {
    const known = this.rootSyncs.get(folder);
    if (known && !created) return known;
    const synced = syncFolder(this.root);
    this.rootSyncs.set(folder, synced);
    synced.catch(() => {
      if (this.rootSyncs.get(folder) === synced) this.rootSyncs.delete(folder);
    });
    return synced;
  }

  /**
   * The reserve left to the rest of the disk: uploads stop before they fill it, so that PostgreSQL
   * (often on the same disk: it stops when it cannot write its WAL), the logs and the system keep
   * their room, and the operator gets a warning naming the cause instead of ENOSPC 500s.
   */
  private async assertFreeSpace(): Promise<void> {
    if (this.minFreeBytes === 0) return;
    const { bavail, bsize } = await statfs(this.root);
    const free = bavail * bsize;
    if (free < this.minFreeBytes) {
      throw new StorageUnavailableError(`the disk under UPLOAD_DIR (${this.root}) has ${free} bytes free, less than UPLOAD_MIN_FREE_BYTES=${this.minFreeBytes}`);
    }
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    const path = resolve(this.root, key);
    const rel = relative(this.root, path);
    if (!rel || rel.startsWith('..') || rel.includes(`..${sep}`)) throw new Error(`Storage key escapes the upload folder: ${key}`);
    return path;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

/** fsync of a folder: makes the entries created, renamed or removed in it durable. */
async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
