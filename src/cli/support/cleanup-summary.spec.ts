import type { CleanupReport } from '../../modules/documents/file-cleanup.service.js';
import { cleanupProblem, formatCleanupReport } from './cleanup-summary.js';

const FAMILY = '0b6f1c2e-8d1a-4c57-9f53-2a4b1e0c9d11';
const MiB = 1024 * 1024;

function report(overrides: Partial<CleanupReport>): CleanupReport {
  return {
    dry_run: false,
    grace_hours: 24,
    retention_days: 30,
    store: 'UPLOAD_DIR /data/uploads',
    files: [],
    unreferenced: 0,
    document_deleted: 0,
    bytes: 0,
    missing: [],
    orphans: [],
    orphan_bytes: 0,
    failures: [],
    ...overrides,
  };
}

const orphan = (kind: 'object' | 'temporary', name: string, size: number) => ({
  key: `${FAMILY}/${name}`,
  size_bytes: size,
  modified_at: '2026-11-25T10:00:00.000Z',
  kind,
});

describe('files:cleanup text report', () => {
  it('the first line counts what was deleted without a row too (it said "deleted 0 file(s), 0.00 MiB" above them)', () => {
    const text = formatCleanupReport(
      report({
        orphans: [orphan('temporary', '.5a0f6a3c-41cf-4b8e-a8f4-3e9a3c1d2b7e.part', MiB), orphan('object', '5a0f6a3c-41cf-4b8e-a8f4-3e9a3c1d2b7f', MiB)],
        orphan_bytes: 2 * MiB,
      }),
    );
    expect(text.split('\n')[0]).toBe(
      'files:cleanup: deleted 2 in all, 2.00 MiB: 0 file(s) with their row, 1 stored object(s) without a row, 1 temporary file(s) of interrupted writes',
    );
    expect(text).toContain('stored objects and temporary files without a row (older than 24 h): 2, 2.00 MiB');
  });

  it('adds files with rows and orphans, bytes included; a dry run says "would delete"', () => {
    const text = formatCleanupReport(
      report({
        dry_run: true,
        files: [
          { id: 'a', family_id: FAMILY, storage_key: `${FAMILY}/a`, size_bytes: MiB, reason: 'unreferenced' },
          { id: 'b', family_id: FAMILY, storage_key: `${FAMILY}/b`, size_bytes: MiB / 2, reason: 'document_deleted' },
        ],
        unreferenced: 1,
        document_deleted: 1,
        bytes: 1.5 * MiB,
        orphans: [orphan('object', 'c', MiB)],
        orphan_bytes: MiB,
      }),
    );
    expect(text.split('\n')[0]).toBe(
      'files:cleanup (dry run): would delete 3 in all, 2.50 MiB: 2 file(s) with their row, 1 stored object(s) without a row, 0 temporary file(s) of interrupted writes',
    );
  });

  it('files whose object was not in the store: listed, not counted in the bytes, and the exit line asks whether it is the right store', () => {
    const gone = { id: 'a', family_id: FAMILY, storage_key: `${FAMILY}/a`, size_bytes: MiB, reason: 'unreferenced' as const };
    const run = report({ files: [gone], unreferenced: 1, missing: [gone] });
    const text = formatCleanupReport(run);
    expect(text.split('\n')[0]).toBe(
      'files:cleanup: deleted 1 in all, 0.00 MiB: 1 file(s) with their row, 0 stored object(s) without a row, 0 temporary file(s) of interrupted writes',
    );
    expect(text).toContain(`  NOT IN THE STORE family ${FAMILY}  file a: its row was deleted, no bytes freed`);
    expect(cleanupProblem(run)).toBe('1 file(s) to clean up were not in the store (UPLOAD_DIR /data/uploads): is it the store the app writes to?');
    expect(formatCleanupReport({ ...run, dry_run: true })).toContain('its row would be deleted, no bytes freed');
    expect(cleanupProblem({ ...run, dry_run: true })).toBe(
      '1 file(s) to clean up are not in the store (UPLOAD_DIR /data/uploads): is it the store the app writes to?',
    );
    const failure = { family_id: FAMILY, key: `${FAMILY}/b`, message: 'EPERM' };
    expect(cleanupProblem({ ...run, failures: [failure] })).toBe(
      '1 file(s) to clean up were not in the store (UPLOAD_DIR /data/uploads): is it the store the app writes to?; 1 file(s) or family could not be cleaned; retry later',
    );
    expect(cleanupProblem(report({ failures: [failure, failure] }))).toBe('2 file(s) or families could not be cleaned; retry later');
    expect(cleanupProblem(report({}))).toBeUndefined();
  });

  // Found by mutation testing: the orphans' age said the grace period even below the hour orphans always get,
  // and a failure's line without the object it failed on, passed.
  it('orphans are never younger than ORPHAN_MIN_AGE_HOURS, whatever the grace period says; a failure names its object', () => {
    expect(formatCleanupReport(report({ grace_hours: 0 }))).toContain('stored objects and temporary files without a row (older than 1 h): 0, 0.00 MiB');
    const text = formatCleanupReport(report({ failures: [{ family_id: FAMILY, key: `${FAMILY}/b`, message: 'EPERM' }, { family_id: FAMILY, message: 'timeout' }] }));
    expect(text.split('\n').slice(-2)).toEqual([`  FAILED family ${FAMILY} object ${FAMILY}/b: EPERM`, `  FAILED family ${FAMILY}: timeout`]);
  });

  it('an empty run', () => {
    expect(formatCleanupReport(report({})).split('\n')[0]).toBe(
      'files:cleanup: deleted 0 in all, 0.00 MiB: 0 file(s) with their row, 0 stored object(s) without a row, 0 temporary file(s) of interrupted writes',
    );
  });
});
