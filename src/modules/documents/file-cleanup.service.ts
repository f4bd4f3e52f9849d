import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { uploadConfig } from '../../config/configuration.js';
import { FILE_STORAGE, type FileStorage } from './storage/file-storage.js';

export type CleanupReason = 'unreferenced' | 'document_deleted';

export interface CleanupCandidate {
  id: string;
  family_id: string;
  storage_key: string;
  size_bytes: number;
  reason: CleanupReason;
}

export interface CleanupFailure {
  family_id: string;
  message: string;
}

export interface CleanupReport {
  dry_run: boolean;
  grace_hours: number;
  retention_days: number;
  /** Files found eligible (and, unless dry run, deleted). */
  files: CleanupCandidate[];
  unreferenced: number;
  document_deleted: number;
  bytes: number;
  /** Families whose files could not be deleted this time (retried on the next run). */
  failures: CleanupFailure[];
}

export interface CleanupOptions {
  dryRun: boolean;
  /** Only these families (default: all). */
  familyIds?: string[];
  /** Overrides for tests and one-off runs; default from configuration. */
  graceHours?: number;
  retentionDays?: number;
  /** Time reference (ms since epoch); default now. */
  nowMs?: number;
}

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
 * deleted for longer than the retention period ("document_deleted").
 * `$1` = family ids or null for all, `$2` = grace cutoff (timestamptz), `$3` = retention cutoff (ms).
 */
const ELIGIBLE_SQL = `
  SELECT f.id, f.family_id, f.storage_key, f.size_bytes,
         CASE WHEN refs.n IS NULL THEN 'unreferenced' ELSE 'document_deleted' END AS reason
    FROM files f
    LEFT JOIN LATERAL (
      SELECT count(*) AS n, count(*) FILTER (WHERE d.deleted_at IS NULL) AS live, max(d.deleted_at) AS last_deleted
        FROM documents d
       WHERE d.family_id = f.family_id AND d.file_url = '/api/v1/files/' || f.id::text
      HAVING count(*) > 0
    ) refs ON true
   WHERE ($1::uuid[] IS NULL OR f.family_id = ANY($1::uuid[]))
     AND f.created_at < $2
     AND (refs.n IS NULL OR (refs.live = 0 AND refs.last_deleted < $3))`;

/**
 * Removes files nobody needs any more (see ELIGIBLE_SQL), from storage and from
 * the table. Exposed for the `files:cleanup` CLI command.
 *
 * Per family, one transaction locks the family row, the same lock every synced
 * write takes (FamilyVersionService), so a push that starts pointing a document
 * at a file cannot interleave: the eligibility is re-checked under the lock,
 * the rows are deleted, then the stored objects; a storage failure rolls the
 * rows back and the next run tries again (no row ever points at missing bytes).
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
    const nowMs = options.nowMs ?? Date.now();
    const params = [new Date(nowMs - graceHours * 3_600_000), nowMs - retentionDays * 86_400_000];

    const scope = options.familyIds?.length ? options.familyIds : null;
    const candidates = (await this.dataSource.query<CandidateRow[]>(ELIGIBLE_SQL, [scope, ...params])).map(toCandidate);
    const report: CleanupReport = {
      dry_run: options.dryRun,
      grace_hours: graceHours,
      retention_days: retentionDays,
      files: candidates,
      unreferenced: 0,
      document_deleted: 0,
      bytes: 0,
      failures: [],
    };
    if (!options.dryRun) {
      const families = [...new Set(candidates.map((c) => c.family_id))];
      const deleted: CleanupCandidate[] = [];
      for (const familyId of families) {
        try {
          deleted.push(...(await this.dataSource.transaction((manager) => this.deleteForFamily(manager, familyId, params))));
        } catch (error) {
          this.logger.error({ err: error, familyId }, 'file cleanup failed for a family');
          report.failures.push({ family_id: familyId, message: error instanceof Error ? error.message : String(error) });
        }
      }
      report.files = deleted;
    }
    for (const file of report.files) {
      report[file.reason === 'unreferenced' ? 'unreferenced' : 'document_deleted'] += 1;
      report.bytes += file.size_bytes;
    }
    this.logger.log(
      { dryRun: options.dryRun, files: report.files.length, bytes: report.bytes, failures: report.failures.length },
      'file cleanup finished',
    );
    return report;
  }

  private async deleteForFamily(manager: EntityManager, familyId: string, params: unknown[]): Promise<CleanupCandidate[]> {
    await manager.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [familyId]);
    const rows = await manager.query<CandidateRow[]>(
      // Wrapped in a SELECT so TypeORM hands back plain rows (for a bare DELETE it returns [rows, count]).
      `WITH eligible AS (${ELIGIBLE_SQL}),
            deleted AS (DELETE FROM files f USING eligible e WHERE f.id = e.id
                        RETURNING e.id, e.family_id, e.storage_key, e.size_bytes, e.reason)
       SELECT * FROM deleted`,
      [[familyId], ...params],
    );
    const files = rows.map(toCandidate);
    for (const file of files) await this.storage.delete(file.storage_key);
    return files;
  }
}

function toCandidate(row: CandidateRow): CleanupCandidate {
  return { id: row.id, family_id: row.family_id, storage_key: row.storage_key, size_bytes: Number(row.size_bytes), reason: row.reason };
}
