import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { LOWER_CASE_UUID_SOURCE } from '../../common/http/uuid.js';
import { uploadConfig } from '../../config/configuration.js';
import { MAX_GRACE_HOURS, MAX_RETENTION_DAYS, ORPHAN_MIN_AGE_HOURS } from './cleanup-limits.js';
import { FILE_URL_PREFIX } from './file-url.js';
import { FILE_STORAGE, type FileStorage, type StorageEntry, StorageUnavailableError } from './storage/file-storage.js';

export type CleanupReason = 'unreferenced' | 'document_deleted';

export interface CleanupCandidate {
  id: string;
  family_id: string;
  storage_key: string;
  size_bytes: number;
  reason: CleanupReason;
}

/** A stored object (or temporary leftover) that no `files` row names. */
export interface OrphanObject {
  key: string;
  size_bytes: number;
  /** ISO time of the object's last write. */
  modified_at: string;
  /** `object`: a complete object without a row; `temporary`: a partial write left by a crash. */
  kind: 'object' | 'temporary';
}

export interface CleanupFailure {
  family_id: string;
  /** The storage key, when one object could not be removed. */
  key?: string;
  message: string;
}

export interface CleanupReport {
  dry_run: boolean;
  grace_hours: number;
  retention_days: number;
  /** The store the run looked in: `UPLOAD_DIR <path>` or `S3 bucket <name>`. */
  store: string;
  /** Files found eligible (and, unless dry run, deleted). */
  files: CleanupCandidate[];
  unreferenced: number;
  document_deleted: number;
  /** Bytes of the files found in the store (freed, unless dry run). */
  bytes: number;
  /**
   * Eligible files whose object was not in the store: their rows are deleted all the same (unless dry
   * run), but no bytes were freed. A row's object is deleted only after the row, so this means the run
   * looks at another store than the app writes to (a job without the uploads volume, another bucket)
   * or the bytes were lost; the CLI exits 1.
   */
  missing: CleanupCandidate[];
  /** Stored objects with no row, older than the orphan cutoff (and, unless dry run, deleted). */
  orphans: OrphanObject[];
  orphan_bytes: number;
  /** What could not be deleted this time (retried on the next run). */
  failures: CleanupFailure[];
}

export interface CleanupOptions {
  dryRun: boolean;
  /** Only these families (default: all, and the whole store for orphans). */
  familyIds?: string[];
  /** Overrides for tests and one-off runs; default from configuration. */
  graceHours?: number;
  retentionDays?: number;
  /** Time reference (ms since epoch); default now. */
  nowMs?: number;
}

export { MAX_GRACE_HOURS, MAX_RETENTION_DAYS };

/** Storage keys the server makes: `<family uuid>/<file uuid>` (anything else in the store is not ours). */
const UUID = LOWER_CASE_UUID_SOURCE;
const SERVER_KEY = new RegExp(`^${UUID}/(${UUID}|\\.${UUID}\\.part)$`);

/** Entries looked up in the files table per query during the orphan sweep. */
const ORPHAN_BATCH = 500;

interface CandidateRow {
  id: string;
  family_id: string;
  storage_key: string;
  size_bytes: string;
  reason: CleanupReason;
}

/**
 * A file is eligible when it is older than the grace period and no live
 * document points at it, and either no document ever did ("unreferenced": a
 * device uploaded and never pushed) or every document that did has been
 * deleted for longer than the retention period ("document_deleted"). A file a
 * live document points at is never eligible, whatever its age.
 * `$1` = family ids or null for all, `$2` = grace cutoff (timestamptz), `$3` = retention cutoff (ms).
 */
const ELIGIBLE_SQL = `
  SELECT f.id, f.family_id, f.storage_key, f.size_bytes,
         CASE WHEN refs.n IS NULL THEN 'unreferenced' ELSE 'document_deleted' END AS reason
    FROM files f
    LEFT JOIN LATERAL (
      SELECT count(*) AS n, count(*) FILTER (WHERE d.deleted_at IS NULL) AS live, max(d.deleted_at) AS last_deleted
        FROM documents d
       WHERE d.family_id = f.family_id AND d.file_url = '${FILE_URL_PREFIX}' || f.id::text -- a constant, not input
      HAVING count(*) > 0
    ) refs ON true
   WHERE ($1::uuid[] IS NULL OR f.family_id = ANY($1::uuid[]))
     AND f.created_at < $2
     AND (refs.n IS NULL OR (refs.live = 0 AND refs.last_deleted < $3))`;

/**
 * Removes files nobody needs any more (see ELIGIBLE_SQL), from the table and
 * from storage, then sweeps stored objects that have no row at all (see
 * sweepOrphans). Exposed for the `files:cleanup` CLI command.
 *
 * Per family, one transaction locks the family row, the same lock every synced
 * write takes (FamilyVersionService), so a push that starts pointing a document
 * at a file cannot interleave: the eligibility is re-checked under the lock and
 * the rows are deleted. The stored objects are deleted only after that commit:
 * a failed commit leaves every row with its bytes, and a failed object delete
 * leaves an object without a row, which the orphan sweep removes (now or on the
 * next run). No row ever points at missing bytes. Object storage that is down
 * (StorageUnavailableError) stops the run at the first object it fails on.
 */
@Injectable()
export class FileCleanupService {
  private readonly logger = new Logger(FileCleanupService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    @Inject(uploadConfig.KEY) private readonly config: ConfigType<typeof uploadConfig>,
  ) {}

  async run(options: CleanupOptions): Promise<CleanupReport> {
    const graceHours = options.graceHours ?? this.config.cleanupGraceHours;
    const retentionDays = options.retentionDays ?? this.config.documentRetentionDays;
    assertBound('grace hours', graceHours, MAX_GRACE_HOURS);
    assertBound('retention days', retentionDays, MAX_RETENTION_DAYS);
    const nowMs = options.nowMs ?? Date.now();
    const params = [new Date(nowMs - graceHours * 3_600_000), nowMs - retentionDays * 86_400_000];
    const orphanCutoff = new Date(nowMs - Math.max(graceHours, ORPHAN_MIN_AGE_HOURS) * 3_600_000);

    const scope = options.familyIds?.length ? options.familyIds : null;
    const candidates = (await this.dataSource.query<CandidateRow[]>(ELIGIBLE_SQL, [scope, ...params])).map(toCandidate);
    const report: CleanupReport = {
      dry_run: options.dryRun,
      grace_hours: graceHours,
      retention_days: retentionDays,
      store: this.storage.driver === 'local' ? `UPLOAD_DIR ${this.config.dir}` : `S3 bucket ${this.config.storage.s3.bucket}`,
      files: candidates,
      unreferenced: 0,
      document_deleted: 0,
      bytes: 0,
      missing: [],
      orphans: [],
      orphan_bytes: 0,
      failures: [],
    };
    if (options.dryRun) {
      for (const file of candidates) if (!(await this.storage.exists(file.storage_key))) this.noteMissing(file, report);
    } else {
      report.files = await this.deleteFiles(candidates, params, report);
    }
    const missing = new Set(report.missing);
    for (const file of report.files) {
      report[file.reason === 'unreferenced' ? 'unreferenced' : 'document_deleted'] += 1;
      if (!missing.has(file)) report.bytes += file.size_bytes;
    }
    // An object whose delete just failed is left to the next run's sweep: tried again now, it was
    // reported twice (two failures, or a failure and a swept orphan; found by review).
    const failedKeys = new Set(report.failures.flatMap((failure) => (failure.key ? [failure.key] : [])));
    await this.sweepOrphans(scope, orphanCutoff, report, failedKeys);
    this.logger.log(
      {
        dryRun: options.dryRun,
        files: report.files.length,
        bytes: report.bytes,
        orphans: report.orphans.length,
        orphanBytes: report.orphan_bytes,
        missing: report.missing.length,
        failures: report.failures.length,
      },
      'file cleanup finished',
    );
    return report;
  }

  /** Deletes the candidates' rows family by family, then their objects; returns the files whose rows went. */
  private async deleteFiles(candidates: CleanupCandidate[], params: unknown[], report: CleanupReport): Promise<CleanupCandidate[]> {
    const { failures } = report;
    const deleted: CleanupCandidate[] = [];
    for (const familyId of new Set(candidates.map((c) => c.family_id))) {
      let rows: CleanupCandidate[];
      try {
        rows = await this.dataSource.transaction((manager) => this.deleteRowsOfFamily(manager, familyId, params));
      } catch (error) {
        this.logger.error({ err: error, familyId }, 'file cleanup failed for a family');
        failures.push({ family_id: familyId, message: messageOf(error) });
        continue;
      }
      deleted.push(...rows);
      // After the commit: a failure here leaves an object without a row, swept as an orphan.
      for (const file of rows) {
        try {
          // Deleting a missing object succeeds (S3 says nothing either way): asked first, so a run that looks at
          // an empty store (a job without the uploads volume) does not report bytes it never freed (found by review).
          if (await this.storage.exists(file.storage_key)) await this.storage.delete(file.storage_key);
          else this.noteMissing(file, report);
        } catch (error) {
          // The store is down: every other object would fail the same way, each after the full timeout. Stop
          // the run (the caller reports it in one line); this family's objects are swept as orphans next time.
          if (error instanceof StorageUnavailableError) throw error;
          this.logger.error({ err: error, familyId, key: file.storage_key }, 'could not delete a cleaned-up file; left to the orphan sweep');
          failures.push({ family_id: familyId, key: file.storage_key, message: messageOf(error) });
        }
      }
    }
    return deleted;
  }

  private noteMissing(file: CleanupCandidate, report: CleanupReport): void {
    this.logger.error(
      { familyId: file.family_id, key: file.storage_key, store: report.store },
      'a file to clean up is not in the store: is it the store the app writes to?',
    );
    report.missing.push(file);
  }

  private async deleteRowsOfFamily(manager: EntityManager, familyId: string, params: unknown[]): Promise<CleanupCandidate[]> {
    await manager.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [familyId]);
    const rows = await manager.query<CandidateRow[]>(
      // Wrapped in a SELECT so TypeORM hands back plain rows (for a bare DELETE it returns [rows, count]).
      `WITH eligible AS (${ELIGIBLE_SQL}),
            deleted AS (DELETE FROM files f USING eligible e WHERE f.id = e.id
                        RETURNING e.id, e.family_id, e.storage_key, e.size_bytes, e.reason)
       SELECT * FROM deleted`,
      [[familyId], ...params],
    );
    return rows.map(toCandidate);
  }

  /**
   * Objects in storage that no `files` row names, last written before `cutoff`:
   * what a crash between storing an upload and inserting its row leaves, the
   * temporary file of a crash mid-write, an object whose delete failed after its
   * row was removed, and the objects of families deleted from the database.
   * Only keys shaped like the server's (`<uuid>/<uuid>`) are considered. Storage
   * is read page by page, and the table is asked about ORPHAN_BATCH keys at a time.
   */
  private async sweepOrphans(familyIds: string[] | null, cutoff: Date, report: CleanupReport, skipKeys: ReadonlySet<string>): Promise<void> {
    let batch: StorageEntry[] = [];
    const settle = async () => {
      const entries = batch;
      batch = [];
      if (!entries.length) return;
      const keys = entries.filter((e) => !e.temporary).map((e) => e.key);
      const known = new Set(
        keys.length
          ? (await this.dataSource.query<Array<{ storage_key: string }>>('SELECT storage_key FROM files WHERE storage_key = ANY($1::text[])', [keys])).map(
              (r) => r.storage_key,
            )
          : [],
      );
      for (const entry of entries) {
        if (!entry.temporary && known.has(entry.key)) continue;
        if (!report.dry_run) {
          try {
            await this.storage.deleteEntry(entry);
          } catch (error) {
            if (error instanceof StorageUnavailableError) throw error;
            this.logger.error({ err: error, key: entry.key }, 'could not delete an orphaned stored object');
            report.failures.push({ family_id: entry.key.split('/')[0], key: entry.key, message: messageOf(error) });
            continue;
          }
        }
        report.orphans.push({
          key: entry.key,
          size_bytes: entry.size,
          modified_at: entry.modifiedAt.toISOString(),
          kind: entry.temporary ? 'temporary' : 'object',
        });
        report.orphan_bytes += entry.size;
      }
    };
    for (const folder of familyIds ?? [undefined]) {
      for await (const entry of this.storage.list(folder)) {
        if (entry.modifiedAt >= cutoff || !SERVER_KEY.test(entry.key) || skipKeys.has(entry.key)) continue;
        batch.push(entry);
        if (batch.length >= ORPHAN_BATCH) await settle();
      }
    }
    await settle();
  }
}

function toCandidate(row: CandidateRow): CleanupCandidate {
  return { id: row.id, family_id: row.family_id, storage_key: row.storage_key, size_bytes: Number(row.size_bytes), reason: row.reason };
}

function assertBound(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} must be a whole number from 0 to ${max} (got ${value})`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
