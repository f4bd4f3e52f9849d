// The many-devices scenario's expected database state: what the server must hold after a
// family's acknowledged pushes, computed from the pushes alone (never read back from the server).
import { SYNC_TABLES, writableColumns } from '../../dist/src/modules/sync/sync-schema.js';
import { DATA_TABLES } from './records.mjs';

/** Each synced table's column spec, by name. */
export const SPEC = new Map(SYNC_TABLES.map((s) => [s.name, s]));
export const TABLES = ['families', ...DATA_TABLES];
/** The columns a push writes: id and every column that is not read-only. */
export const pushedColumns = (table) => ['id', ...writableColumns(SPEC.get(table)).map((c) => c.name)];

/**
 * The family's expected database state: every acknowledged push ({ version, userId, deviceId,
 * changes }) replayed in version order (the server's commit order, not the order the answers came
 * back in). table → id → row with the pushed columns, the server's stamps and `deleted`.
 */
export function replay(acks) {
  const rows = Object.fromEntries(TABLES.map((t) => [t, new Map()]));
  for (const ack of [...acks].sort((a, b) => a.version - b.version)) {
    const { version: v, userId, deviceId, changes } = ack;
    for (const [table, c] of Object.entries(changes)) {
      for (const rec of [...c.created, ...c.updated]) {
        const old = rows[table].get(rec.id);
        const values = Object.fromEntries(pushedColumns(table).map((col) => [col, rec[col] ?? null]));
        if (old) rows[table].set(rec.id, { ...old, ...values, server_version: v, updated_by: userId, deleted: false });
        else rows[table].set(rec.id, { ...values, server_version: v, server_created_version: v, created_by: userId, updated_by: userId, created_by_device: deviceId, deleted: false });
      }
      for (const id of c.deleted) {
        const old = rows[table].get(id);
        if (old && !old.deleted) rows[table].set(id, { ...old, server_version: v, updated_by: userId, deleted: true });
      }
    }
    // The server deletes the results of a deleted blood test (written in this push, or of a test deleted now).
    if (changes.blood_tests || changes.blood_test_results) {
      for (const [id, r] of rows.blood_test_results) {
        const test = rows.blood_tests.get(r.blood_test_id);
        if (!r.deleted && test?.deleted && (r.server_version === v || test.server_version === v)) {
          rows.blood_test_results.set(id, { ...r, server_version: v, updated_by: userId, deleted: true });
        }
      }
    }
  }
  return rows;
}
