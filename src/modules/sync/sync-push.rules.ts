/**
 * The push's rules that need no database: each takes the validated push and what the one look-up
 * found (every pushed id, and every referenced blood test, in any family), and refuses or decides.
 * SyncPushService runs them under the family's lock, in the contract's order of refusal.
 */
import { SyncErrors, addId, type IdsByTable, type SyncFieldError } from './sync.errors.js';
import type { CascadedResult, ExistingRow } from './sync.repository.js';
import type { SyncTableName } from './sync-schema.js';
import { MISSING_FAMILY_ID, type ValidatedPush } from './sync-validator.js';

/**
 * The body `{ changes, lastPulledAt? }` and the cursor: the query string's (`queryCursor`) when given,
 * else the body's; a missing cursor counts as 0, so every existing record conflicts (safe).
 */
export function readBody(body: unknown, queryCursor: number | null): { changes: unknown; cursor: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw SyncErrors.invalidParameter('body', 'must be a JSON object { changes, lastPulledAt? }');
  }
  const { changes, lastPulledAt, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw SyncErrors.invalidParameter(unknown, 'unknown body property (expected changes, lastPulledAt)');
  if (queryCursor !== null) return { changes, cursor: queryCursor };
  if (lastPulledAt === undefined || lastPulledAt === null) return { changes, cursor: 0 };
  if (typeof lastPulledAt !== 'number' || !Number.isSafeInteger(lastPulledAt) || lastPulledAt < 0) {
    throw SyncErrors.invalidParameter('lastPulledAt', 'must be a non-negative integer');
  }
  return { changes, cursor: lastPulledAt };
}

/** Pushed ids per table, plus referenced blood tests (looked up with the pushed ones). */
export function lookupIds(push: ValidatedPush): Map<SyncTableName, string[]> {
  const ids = new Map<SyncTableName, string[]>();
  for (const table of push.tables) ids.set(table.spec.name, [...table.upserts.map((r) => r.id), ...table.deleted]);
  if (push.bloodTestRefs.length) ids.set('blood_tests', [...new Set([...(ids.get('blood_tests') ?? []), ...push.bloodTestRefs])]);
  return ids;
}

export type ExistingIndex = Map<SyncTableName, Map<string, ExistingRow>>;

export function indexExisting(rows: ExistingRow[]): ExistingIndex {
  const index: ExistingIndex = new Map();
  for (const row of rows) {
    let table = index.get(row.tbl);
    if (!table) index.set(row.tbl, (table = new Map()));
    table.set(row.id, row);
  }
  return index;
}

export function assertNoForeignRows(existing: ExistingIndex, familyId: string): void {
  const foreign: IdsByTable = {};
  for (const [table, rows] of existing) {
    for (const row of rows.values()) if (row.family_id !== familyId) addId(foreign, table, row.id);
  }
  if (Object.keys(foreign).length) throw SyncErrors.forbidden(foreign);
}

/**
 * 409 listing every conflict, nothing applied. A conflict is a pushed record (created, updated or
 * deleted) whose server row changed after the cursor — and a result that a blood-test deletion of
 * this push would take along (`cascaded`: live results of the tests it deletes) that changed after
 * the cursor: a result another member added to the test (or edited) since this device's last pull.
 * The device never saw it, so deleting it with the test would lose a lab value without a word; as
 * for the test itself, the client pulls (it gets the result) and pushes the deletion again, now
 * knowing what it deletes. Results the device has seen (server_version ≤ cursor) go with the test,
 * and so do results written in this push (they are not on the server yet, or are pushed records
 * checked above). Only tests live on the server cascade: deleting a missing or deleted test does
 * nothing to its results (tombstoneOrphanResults acts on tests tombstoned by this push).
 * So is a blood test the push's results point at (`bloodTestRefs`) that was deleted after the cursor:
 * the device still shows it, and the pull deletes it there (with the results that went with it),
 * after which a result still under it is the 422 of checkBloodTestRefs, now about a test the phone
 * no longer holds. Answered 422 at once, the user was asked to move results off a test the phone
 * still showed, and a result they moved was then deleted by that pull all the same (found by review).
 */
export function assertNoConflicts(push: ValidatedPush, existing: ExistingIndex, cursor: number, cascaded: CascadedResult[] = []): void {
  const conflicts: IdsByTable = {};
  for (const table of push.tables) {
    const rows = existing.get(table.spec.name);
    if (!rows) continue;
    for (const id of [...table.upserts.map((r) => r.id), ...table.deleted]) {
      const row = rows.get(id);
      if (row && row.server_version > cursor) addId(conflicts, table.spec.name, id);
    }
  }
  const tests = existing.get('blood_tests');
  const listedTests = new Set(conflicts.blood_tests);
  for (const ref of push.bloodTestRefs) {
    const test = tests?.get(ref);
    if (!test || !test.deleted || listedTests.has(ref) || test.server_version <= cursor) continue;
    addId(conflicts, 'blood_tests', ref);
    listedTests.add(ref);
  }
  const listed = new Set(conflicts.blood_test_results);
  for (const result of cascaded) {
    const test = tests?.get(result.blood_test_id);
    if (!test || test.deleted || listed.has(result.id) || result.server_version <= cursor) continue;
    addId(conflicts, 'blood_test_results', result.id);
    listed.add(result.id);
  }
  if (Object.keys(conflicts).length) throw SyncErrors.conflict(conflicts);
}

/**
 * A result must point at a live blood test of this family: on the server already, or written in
 * this push. (Another family's blood test is left to the 403 check.) A test deleted earlier (at or
 * before the `cursor`: the device has pulled the deletion) is refused rather than taking the new
 * result with it: the user would lose what they just entered without a word. One deleted after the
 * cursor is left to assertNoConflicts (409): the device pulls the deletion first. A test deleted in this same push takes its results along, through the cascade
 * (tombstoneOrphanResults): one the server holds (live or deleted), and one it never had — created
 * and deleted on the phone before it synced; the push no longer fails on its results with a 422 the
 * user cannot fix. Those tests are returned: the service records them as tombstones, so that the
 * results are written and tombstoned with them, and the phone, which keeps the results (it pushed
 * them) and marks them synced, pulls their deletion. Not storing them at all left them on that
 * phone only, for good (found by the convergence test).
 */
export function checkBloodTestRefs(push: ValidatedPush, bloodTests: Map<string, ExistingRow> | undefined, familyId: string, cursor: number): string[] {
  if (!push.bloodTestRefs.length) return [];
  const pushed = new Set(push.tables.find((t) => t.spec.name === 'blood_tests')?.upserts.map((r) => r.id) ?? []);
  const deletedHere = new Set(push.tables.find((t) => t.spec.name === 'blood_tests')?.deleted ?? []);
  const results = push.tables.find((t) => t.spec.name === 'blood_test_results')!;
  const errors: SyncFieldError[] = [];
  const neverStored = new Set<string>();
  for (const record of results.upserts) {
    const ref = record.doc.blood_test_id as string;
    if (pushed.has(ref)) continue;
    const test = bloodTests?.get(ref);
    if (!test) {
      if (deletedHere.has(ref)) neverStored.add(ref);
      else errors.push({ table: 'blood_test_results', id: record.id, field: 'blood_test_id', message: 'no such blood test in this family' });
    } else if (test.family_id === familyId && test.deleted && !deletedHere.has(ref) && test.server_version <= cursor) {
      errors.push({ table: 'blood_test_results', id: record.id, field: 'blood_test_id', message: 'the blood test was deleted (pull, then move or delete this result)' });
    }
  }
  if (errors.length) throw SyncErrors.invalid(errors);
  return [...neverStored];
}

/** An updated record the server does not have becomes a new record: like a created one, it must name the family. */
export function assertNewRecordsNameFamily(push: ValidatedPush, existing: ExistingIndex): void {
  const errors: SyncFieldError[] = [];
  for (const table of push.tables) {
    if (table.spec.isFamilyRow) continue;
    const rows = existing.get(table.spec.name);
    for (const record of table.upserts) {
      if (!record.namesFamily && !rows?.has(record.id)) errors.push({ table: table.spec.name, id: record.id, field: 'family_id', message: MISSING_FAMILY_ID });
    }
  }
  if (errors.length) throw SyncErrors.invalid(errors);
}

/** What a device's last committed push wrote: `<table>:<id>` → [fingerprint, version its values were written with]. */
export type LastPush = Map<string, [string, number]>;

export const lastPushKey = (table: SyncTableName, id: string) => `${table}:${id}`;

/**
 * Records this push repeats from the device's last committed push (the same fingerprint: the same
 * locally changed columns with the same values, so no local edit since) on live rows that another
 * write changed after that push. The push's answer was lost: WatermelonDB still holds the edit as
 * unpushed, its next sync pulls the other device's edit, keeps its own columns on top and pushes
 * them again — written, they would undo the later edit without a word (found by review). They are
 * not written; the service gives the row a new version instead, so the device pulls it as it is
 * (the push marks its stale copy as synced). A tombstone is never a replay: pushing it is a revival.
 */
export function replayedRecords(push: ValidatedPush, existing: ExistingIndex, lastPush: LastPush): Map<SyncTableName, Set<string>> {
  const replays = new Map<SyncTableName, Set<string>>();
  if (!lastPush.size) return replays;
  for (const table of push.tables) {
    const rows = existing.get(table.spec.name);
    for (const record of table.upserts) {
      const previous = lastPush.get(lastPushKey(table.spec.name, record.id));
      const row = rows?.get(record.id);
      if (!previous || !row || row.deleted || previous[0] !== record.fingerprint || row.server_version <= previous[1]) continue;
      let ids = replays.get(table.spec.name);
      if (!ids) replays.set(table.spec.name, (ids = new Set()));
      ids.add(record.id);
    }
  }
  return replays;
}

/** No record written and every deletion hits a row that is missing or already deleted. */
export function changesNothing(push: ValidatedPush, existing: ExistingIndex): boolean {
  return push.tables.every((table) => {
    if (table.upserts.length) return false;
    const rows = existing.get(table.spec.name);
    return table.deleted.every((id) => {
      const row = rows?.get(id);
      return !row || row.deleted;
    });
  });
}
