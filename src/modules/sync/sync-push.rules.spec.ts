import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import {
  checkBloodTestRefs,
  assertNewRecordsNameFamily,
  assertNoConflicts,
  assertNoForeignRows,
  changesNothing,
  indexExisting,
  lastPushKey,
  lookupIds,
  readBody,
  replayedRecords,
} from './sync-push.rules.js';
import type { CascadedResult, ExistingRow } from './sync.repository.js';
import type { SyncTableName } from './sync-schema.js';
import { MISSING_FAMILY_ID, validatePush } from './sync-validator.js';

const family = randomUUID();
const otherFamily = randomUUID();

/** A row as the push's one look-up returns it (SyncRepository.existingRows). */
const row = (tbl: SyncTableName, id: string, values: { family?: string; version?: number; deleted?: boolean } = {}): ExistingRow => ({
  tbl,
  id,
  family_id: values.family ?? family,
  server_version: values.version ?? 100,
  deleted: values.deleted ?? false,
});
const push = (changes: Record<string, { created?: unknown[]; updated?: unknown[]; deleted?: string[] }>) => validatePush(changes, family);
/** The DomainError `work` throws (or null), as [code, details]. */
function refusal(work: () => unknown): [string, Record<string, unknown>] | null {
  try {
    work();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return [error.code, error.details as Record<string, unknown>];
  }
}

describe('push rules', () => {
  describe('readBody', () => {
    it('the cursor: the query string first, then the body, else 0 (every existing record conflicts)', () => {
      expect(readBody({ changes: {}, lastPulledAt: 5 }, 7)).toEqual({ changes: {}, cursor: 7 });
      expect(readBody({ changes: {}, lastPulledAt: 5 }, null)).toEqual({ changes: {}, cursor: 5 });
      expect(readBody({ changes: {}, lastPulledAt: null }, null).cursor).toBe(0);
      expect(readBody({ changes: {} }, null).cursor).toBe(0);
    });

    it('refuses a body that is not an object, an unknown property and a bad cursor, naming them', () => {
      for (const body of [null, [], 'x', 3]) expect(refusal(() => readBody(body, null))).toEqual([ErrorCode.VALIDATION_FAILED, { field: 'body' }]);
      expect(refusal(() => readBody({ changes: {}, extra: 1 }, null))).toEqual([ErrorCode.VALIDATION_FAILED, { field: 'extra' }]);
      for (const lastPulledAt of [-1, 1.5, '5', Number.MAX_SAFE_INTEGER + 2]) {
        expect(refusal(() => readBody({ changes: {}, lastPulledAt }, null))).toEqual([ErrorCode.VALIDATION_FAILED, { field: 'lastPulledAt' }]);
      }
    });
  });

  describe('lookupIds', () => {
    it('every pushed id of each table, plus the referenced blood tests (once each) with the pushed ones', () => {
      const [test, pushedTest, deletedTest, result] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const ids = lookupIds(
        push({
          blood_tests: { created: [{ id: pushedTest, date: 1 }], deleted: [deletedTest] },
          blood_test_results: { created: [{ id: result, blood_test_id: test, name: 'Hb', value: 9 }, { id: randomUUID(), blood_test_id: pushedTest, name: 'Hb', value: 9 }] },
        }),
      );
      expect(ids.get('blood_tests')!.sort()).toEqual([test, pushedTest, deletedTest].sort());
      expect(ids.get('blood_test_results')).toHaveLength(2);
    });
  });

  describe('assertNoConflicts', () => {
    const [kept, changed, deleted] = [randomUUID(), randomUUID(), randomUUID()];
    const pushed = push({ blood_tests: { updated: [{ id: kept, date: 1 }, { id: changed, date: 1 }, { id: randomUUID(), date: 1 }], deleted: [deleted] } });
    const existing = indexExisting([
      row('blood_tests', kept, { version: 500 }),
      row('blood_tests', changed, { version: 501 }),
      row('blood_tests', deleted, { version: 900, deleted: true }),
    ]);

    it('a row changed on the server after the cursor conflicts, updated or deleted (409 listing them)', () => {
      expect(refusal(() => assertNoConflicts(pushed, existing, 500))).toEqual([ErrorCode.SYNC_CONFLICT, { conflicts: { blood_tests: [changed, deleted] } }]);
    });

    it('a row at or below the cursor, or one the server does not have, does not', () => {
      expect(refusal(() => assertNoConflicts(pushed, existing, 900))).toBeNull();
    });

    describe('results a blood-test deletion takes along', () => {
      const [test, seen, unseen, edited] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const cascaded = (id: string, version: number, bloodTestId = test): CascadedResult => ({ id, blood_test_id: bloodTestId, server_version: version });
      const tests = indexExisting([row('blood_tests', test, { version: 400 })]);

      it('a live result changed after the cursor (added or edited by another member; the device never saw it) conflicts: 409 listing it, the test not', () => {
        const [code, details] = refusal(() =>
          assertNoConflicts(push({ blood_tests: { deleted: [test] } }), tests, 500, [cascaded(seen, 450), cascaded(unseen, 600), cascaded(edited, 501)]),
        )!;
        expect([code, details]).toEqual([ErrorCode.SYNC_CONFLICT, { conflicts: { blood_test_results: [unseen, edited] } }]);
      });

      it('results the device has seen (at or below the cursor) go with the test', () => {
        expect(refusal(() => assertNoConflicts(push({ blood_tests: { deleted: [test] } }), tests, 500, [cascaded(seen, 500), cascaded(randomUUID(), 1)]))).toBeNull();
      });

      it('listed together with the pushed records that conflict, each id once (a pushed result of the test already conflicts)', () => {
        const existing = indexExisting([row('blood_tests', test, { version: 700 }), row('blood_test_results', unseen, { version: 600 })]);
        const changes = push({ blood_tests: { deleted: [test] }, blood_test_results: { deleted: [unseen] } });
        expect(refusal(() => assertNoConflicts(changes, existing, 500, [cascaded(unseen, 600), cascaded(edited, 501)]))).toEqual([
          ErrorCode.SYNC_CONFLICT,
          { conflicts: { blood_tests: [test], blood_test_results: [unseen, edited] } },
        ]);
      });

      it('a test that is missing or already deleted on the server cascades nothing, so its results do not conflict', () => {
        const gone = randomUUID();
        const existing = indexExisting([row('blood_tests', gone, { version: 100, deleted: true })]);
        const changes = push({ blood_tests: { deleted: [gone, randomUUID()] } });
        expect(refusal(() => assertNoConflicts(changes, existing, 500, [cascaded(unseen, 600, gone)]))).toBeNull();
      });
    });
  });

  describe('assertNoForeignRows', () => {
    it("any looked-up row of another family refuses the whole push (403 listing them by table)", () => {
      const [mine, theirs, theirTest] = [randomUUID(), randomUUID(), randomUUID()];
      const existing = indexExisting([
        row('transfusions', mine),
        row('transfusions', theirs, { family: otherFamily }),
        row('blood_tests', theirTest, { family: otherFamily, deleted: true }),
      ]);
      expect(refusal(() => assertNoForeignRows(existing, family))).toEqual([
        ErrorCode.FORBIDDEN_RECORD,
        { ids: { transfusions: [theirs], blood_tests: [theirTest] } },
      ]);
      expect(refusal(() => assertNoForeignRows(indexExisting([row('transfusions', mine)]), family))).toBeNull();
    });
  });

  describe('changesNothing', () => {
    const [gone, live] = [randomUUID(), randomUUID()];

    it('only deletions of rows that are missing or already deleted: nothing to write', () => {
      const deletions = push({ reminders: { deleted: [gone, randomUUID()] } });
      expect(changesNothing(deletions, indexExisting([row('reminders', gone, { deleted: true })]))).toBe(true);
    });

    it('a deletion of a live row, or any created or updated record, is a change', () => {
      expect(changesNothing(push({ reminders: { deleted: [gone, live] } }), indexExisting([row('reminders', live)]))).toBe(false);
      // Even a record identical to the server's: the push does not compare values.
      expect(changesNothing(push({ blood_tests: { updated: [{ id: live, date: 1 }] } }), indexExisting([row('blood_tests', live)]))).toBe(false);
    });
  });

  describe('checkBloodTestRefs', () => {
    const result = (bloodTestId: string, id = randomUUID()) => ({ id, blood_test_id: bloodTestId, name: 'Hb', value: 9.5 });

    it('a result may point at a live blood test of the family, or at one written in the same push', () => {
      const [live, pushed] = [randomUUID(), randomUUID()];
      const changes = push({ blood_tests: { created: [{ id: pushed, date: 1 }] }, blood_test_results: { created: [result(live), result(pushed)] } });
      expect(refusal(() => checkBloodTestRefs(changes, indexExisting([row('blood_tests', live)]).get('blood_tests'), family, 500))).toBeNull();
    });

    it('a missing blood test, or one deleted earlier (at or before the cursor), is a 422 naming the result', () => {
      const [missing, deleted] = [randomUUID(), randomUUID()];
      const [first, second] = [randomUUID(), randomUUID()];
      const changes = push({ blood_test_results: { created: [result(missing, first)], updated: [result(deleted, second)] } });
      const [code, details] = refusal(() => checkBloodTestRefs(changes, indexExisting([row('blood_tests', deleted, { deleted: true, version: 500 })]).get('blood_tests'), family, 500))!;
      expect(code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(details.errors).toEqual([
        { table: 'blood_test_results', id: first, field: 'blood_test_id', message: 'no such blood test in this family' },
        { table: 'blood_test_results', id: second, field: 'blood_test_id', message: expect.stringMatching(/^the blood test was deleted/) },
      ]);
    });

    it("another family's blood test is left to the 403 check (nothing said about it here)", () => {
      const theirs = randomUUID();
      const changes = push({ blood_test_results: { created: [result(theirs)] } });
      const existing = indexExisting([row('blood_tests', theirs, { family: otherFamily, deleted: true })]);
      expect(refusal(() => checkBloodTestRefs(changes, existing.get('blood_tests'), family, 500))).toBeNull();
      expect(refusal(() => assertNoForeignRows(existing, family))?.[0]).toBe(ErrorCode.FORBIDDEN_RECORD);
    });

    it('a test deleted in the same push takes its results along; one the server never had is returned, once, to be recorded as a tombstone', () => {
      const [neverSynced, deletedEarlier, live] = [randomUUID(), randomUUID(), randomUUID()];
      const changes = push({
        blood_tests: { deleted: [neverSynced, deletedEarlier, live] },
        blood_test_results: { created: [result(neverSynced), result(neverSynced), result(deletedEarlier), result(live)] },
      });
      const tests = indexExisting([row('blood_tests', deletedEarlier, { deleted: true }), row('blood_tests', live)]).get('blood_tests');
      // The two the server holds are there for the cascade; the third needs a tombstone for its results to be written under.
      expect(checkBloodTestRefs(changes, tests, family, 500)).toEqual([neverSynced]);
    });

    it('a blood test deleted after the cursor is no 422 here but a 409 naming the test: the device pulls the deletion first (found by review)', () => {
      const [deletedSince, deletedBefore, live] = [randomUUID(), randomUUID(), randomUUID()];
      const changes = push({ blood_test_results: { created: [result(deletedSince), result(deletedSince), result(live)] } });
      const existing = indexExisting([row('blood_tests', deletedSince, { deleted: true, version: 501 }), row('blood_tests', live, { version: 600 })]);
      expect(refusal(() => checkBloodTestRefs(changes, existing.get('blood_tests'), family, 500))).toBeNull();
      expect(refusal(() => assertNoConflicts(changes, existing, 500))).toEqual([ErrorCode.SYNC_CONFLICT, { conflicts: { blood_tests: [deletedSince] } }]);
      // Once pulled, the same push is the 422 (checkBloodTestRefs above); a live test changed since is no conflict.
      expect(refusal(() => assertNoConflicts(changes, existing, 501))).toBeNull();
      const before = indexExisting([row('blood_tests', deletedBefore, { deleted: true, version: 400 })]);
      expect(refusal(() => checkBloodTestRefs(push({ blood_test_results: { created: [result(deletedBefore)] } }), before.get('blood_tests'), family, 500))?.[0]).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('assertNewRecordsNameFamily', () => {
    it('an updated record the server does not have becomes a new one: it must name the family', () => {
      const [known, unknown, named] = [randomUUID(), randomUUID(), randomUUID()];
      const changes = push({
        blood_tests: { updated: [{ id: known, date: 1 }, { id: unknown, date: 1 }, { id: named, date: 1, family_id: family }] },
        families: { updated: [{ id: family, patient_name: 'Amira' }] },
      });
      const [code, details] = refusal(() => assertNewRecordsNameFamily(changes, indexExisting([row('blood_tests', known)])))!;
      expect(code).toBe(ErrorCode.VALIDATION_FAILED);
      // The family row is never new to the server: it is not asked to name itself.
      expect(details.errors).toEqual([{ table: 'blood_tests', id: unknown, field: 'family_id', message: MISSING_FAMILY_ID }]);
    });
  });
  describe('replayedRecords', () => {
    const id = randomUUID();
    const record = (notes: string, changed = 'notes,updated_at') => ({ id, family_id: family, date: 1, notes, hospital: 'City', updated_at: 5, _status: 'updated', _changed: changed });
    const pushed = (notes: string, changed?: string) => push({ transfusions: { updated: [record(notes, changed)] } });
    const last = (notes: string, version: number) => new Map([[lastPushKey('transfusions', id), [pushed(notes).tables[0].upserts[0].fingerprint!, version] as [string, number]]]);
    const replays = (p: ReturnType<typeof push>, rowVersion: number, lastPush: Map<string, [string, number]>, deleted = false) =>
      [...(replayedRecords(p, indexExisting([row('transfusions', id, { version: rowVersion, deleted })]), lastPush).get('transfusions') ?? [])];

    it("the device's last push repeated unchanged, on a row written since: a replay", () => {
      expect(replays(pushed('a1'), 200, last('a1', 100))).toEqual([id]);
    });

    it('not a replay: the row unchanged since, another value or set of changed columns, a tombstone (a revival), no _changed', () => {
      expect(replays(pushed('a1'), 100, last('a1', 100))).toEqual([]);
      expect(replays(pushed('a2'), 200, last('a1', 100))).toEqual([]);
      expect(replays(pushed('a1', 'notes,updated_at,hospital'), 200, last('a1', 100))).toEqual([]);
      expect(replays(pushed('a1'), 200, last('a1', 100), true)).toEqual([]);
      const withoutChanged = push({ transfusions: { updated: [{ id, family_id: family, date: 1, notes: 'a1' }] } });
      expect(withoutChanged.tables[0].upserts[0].fingerprint).toBeNull();
      expect(replays(withoutChanged, 200, last('a1', 100))).toEqual([]);
    });

    it('no fingerprint without updated_at among the changed columns: the same values may be a new edit setting a column back', () => {
      expect(pushed('a1', 'notes').tables[0].upserts[0].fingerprint).toBeNull();
      expect(pushed('a1', '').tables[0].upserts[0].fingerprint).toBeNull(); // created, not edited since
      expect(pushed('a1', 'notes,updated_at').tables[0].upserts[0].fingerprint).not.toBeNull();
    });

    it('columns the record carries unchanged (merged from the server) are not part of the fingerprint', () => {
      const merged = push({ transfusions: { updated: [{ ...record('a1'), hospital: 'North', medication: 'm1' }] } });
      expect(replays(merged, 200, last('a1', 100))).toEqual([id]);
    });
  });
});
