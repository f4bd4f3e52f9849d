import { ORPHAN_MIN_AGE_HOURS } from '../../modules/documents/cleanup-limits.js';
import type { CleanupReport } from '../../modules/documents/file-cleanup.service.js';

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

/**
 * The text report of files:cleanup. The first line counts everything the run deleted (or would
 * delete), of every kind: files with their rows, stored objects without a row, temporary files of
 * interrupted writes; it counted only the first kind, so a run that removed orphans said "deleted
 * 0 file(s)" above the list of what it had deleted.
 */
export function formatCleanupReport(report: CleanupReport): string {
  const verb = report.dry_run ? 'would delete' : 'deleted';
  const objects = report.orphans.filter((o) => o.kind === 'object').length;
  const temporary = report.orphans.length - objects;
  const total = report.files.length + report.orphans.length;
  return [
    `files:cleanup${report.dry_run ? ' (dry run)' : ''}: ${verb} ${total} in all, ${mib(report.bytes + report.orphan_bytes)} MiB: ` +
      `${report.files.length} file(s) with their row, ${objects} stored object(s) without a row, ${temporary} temporary file(s) of interrupted writes`,
    `  unreferenced after ${report.grace_hours} h: ${report.unreferenced}`,
    `  of documents deleted over ${report.retention_days} days ago: ${report.document_deleted}`,
    ...report.files.map((f) => `  ${f.reason.padEnd(16)} family ${f.family_id}  file ${f.id}  ${f.size_bytes} B`),
    `  stored objects and temporary files without a row (older than ${Math.max(report.grace_hours, ORPHAN_MIN_AGE_HOURS)} h): ${report.orphans.length}, ${mib(report.orphan_bytes)} MiB`,
    ...report.orphans.map((o) => `  ${`orphan ${o.kind}`.padEnd(16)} ${o.key}  ${o.size_bytes} B  written ${o.modified_at}`),
    ...report.missing.map(
      (f) => `  NOT IN THE STORE family ${f.family_id}  file ${f.id}: its row ${report.dry_run ? 'would be' : 'was'} deleted, no bytes freed`,
    ),
    ...report.failures.map((f) => `  FAILED family ${f.family_id}${f.key ? ` object ${f.key}` : ''}: ${f.message}`),
  ].join('\n');
}

/**
 * Why files:cleanup exits 1, in one line, or undefined for a clean run: files it could not clean
 * (retried by the next run), and files whose object was not in the store it looked at — said apart,
 * since running again does not help when the job is looking at the wrong store.
 */
export function cleanupProblem(report: CleanupReport): string | undefined {
  const problems: string[] = [];
  if (report.missing.length) {
    problems.push(
      `${report.missing.length} file(s) to clean up ${report.dry_run ? 'are' : 'were'} not in the store (${report.store}): is it the store the app writes to?`,
    );
  }
  if (report.failures.length) {
    problems.push(`${report.failures.length} file(s) or famil${report.failures.length === 1 ? 'y' : 'ies'} could not be cleaned; retry later`);
  }
  return problems.length ? problems.join('; ') : undefined;
}
