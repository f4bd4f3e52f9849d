import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyVersionService, NOTHING_TO_WRITE } from '../../common/versioning/family-version.service.js';
import { DOCUMENT_FILE_VALIDATOR, NoFilesDocumentValidator, type DocumentFileValidator } from './document-file-validator.js';
import { SyncPushResponse } from './dto/sync.response.js';
import { SyncErrors, addId, type IdsByTable, type SyncFieldError } from './sync.errors.js';
import { SyncRepository, type ExistingRow, type WriteStamp } from './sync.repository.js';
import type { SyncTableName } from './sync-schema.js';
import { MISSING_FAMILY_ID, validatePush, type PushedRecord, type ValidatedPush } from './sync-validator.js';

export interface PushInput {
  /** The raw request body: `{ changes, lastPulledAt? }`. */
  body: unknown;
  /** From the query string; the body's `lastPulledAt` is used when absent. */
  lastPulledAt: number | null;
  deviceId: string | null;
  /**
   * The records come from a device (the HTTP endpoint): every record the server does not have yet
   * must carry the caller's family_id (WatermelonDB keeps unpushed records across a family switch).
   * Server-side writers that build records for a known family (the CLI seed) leave it unset.
   */
  fromDevice?: boolean;
}

/**
 * Push: all or nothing, in one FamilyVersionService transaction (family row
 * locked, so no other write to this family interleaves). Order of refusal:
 * invalid record (422: checked in memory first, then what needs the database —
 * a new record without the family's family_id, a result whose blood test does
 * not exist or is deleted, a file of another family) → another family's id
 * (403) → changed on the server since last_pulled_at, or a cursor this family
 * never issued (409) → apply set-based → { timestamp }.
 *
 * Under the lock, the caller's membership is read again (FOR SHARE, so a join
 * or removal waits for this push): the guard read it before the transaction,
 * and a user who has just joined another family must not write into the old
 * one. A changed membership answers 409; the client syncs again.
 *
 * A push that changes nothing (no records, or only deletions of rows that are
 * missing or already deleted) is rolled back (NOTHING_TO_WRITE): no version, no
 * notification; it answers the family's version as it was.
 *
 * A retried push whose first attempt committed meets its own rows with
 * server_version > last_pulled_at and gets a 409; the client then pulls
 * (its own rows come back as `updated`), and pushes again as upserts — so a
 * retry never duplicates and never silently overwrites someone else's edit.
 */
@Injectable()
export class SyncPushService {
  private readonly files: DocumentFileValidator;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly versions: FamilyVersionService,
    private readonly repository: SyncRepository,
    private readonly familyContext: FamilyContext,
    @Optional() @Inject(DOCUMENT_FILE_VALIDATOR) files?: DocumentFileValidator,
  ) {
    this.files = files ?? new NoFilesDocumentValidator();
  }

  async push(input: PushInput): Promise<SyncPushResponse> {
    const scope = this.familyContext.require();
    const { familyId, userId } = scope;
    const { changes, cursor } = readBody(input);
    const push = validatePush(changes, familyId, { requireFamilyId: input.fromDevice ?? false });
    if (!push.recordCount) return { timestamp: await this.currentVersion(familyId) };
    const { version } = await this.versions.write(async ({ manager, version, previousVersion }) => {
      const member = await this.repository.lockMembership(manager, userId);
      if (!member || member.familyId !== familyId || member.joinedVersion !== scope.joinedVersion) throw SyncErrors.membershipChanged();

      const existing = await this.repository.findExisting(manager, lookupIds(push));
      const byTable = indexExisting(existing);
      if (input.fromDevice) assertNewRecordsNameFamily(push, byTable);
      assertBloodTestRefs(push, byTable.get('blood_tests'), familyId);
      if (push.fileRefs.length) await this.files.assertFamilyFiles(manager, familyId, push.fileRefs);
      assertNoForeignRows(byTable, familyId);
      // A cursor above every version this family had was issued for other data (or made up):
      // its conflict check would let the push overwrite newer edits.
      if (cursor > previousVersion) throw SyncErrors.cursorAhead(cursor, previousVersion);
      assertNoConflicts(push, byTable, cursor);
      if (changesNothing(push, byTable)) return NOTHING_TO_WRITE;

      const stamp: WriteStamp = { familyId, version, userId, deviceId: input.deviceId, now: Date.now() };
      for (const table of push.tables) {
        const own = byTable.get(table.spec.name);
        const toUpdate: PushedRecord[] = [];
        const toInsert: PushedRecord[] = [];
        for (const record of table.upserts) (own?.has(record.id) ? toUpdate : toInsert).push(record);
        if (toUpdate.length) await this.repository.updateRows(manager, table.spec, toUpdate, stamp);
        if (toInsert.length) {
          const inserted = await this.repository.insertRows(manager, table.spec, toInsert, stamp);
          // Only an id inserted into another family since our check can be missing: refuse, roll back.
          if (inserted !== toInsert.length) throw SyncErrors.forbidden({ [table.spec.name]: toInsert.map((r) => r.id) });
        }
        if (table.deleted.length) await this.repository.tombstone(manager, table.spec, table.deleted, stamp);
      }
      if (push.tables.some((t) => t.spec.name === 'blood_tests' || t.spec.name === 'blood_test_results')) {
        await this.repository.tombstoneOrphanResults(manager, stamp);
      }
    });
    return { timestamp: version };
  }

  private async currentVersion(familyId: string): Promise<number> {
    const version = await this.repository.familyVersion(this.dataSource.manager, familyId);
    if (version === null) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
    return version;
  }
}

/** `{ changes, lastPulledAt? }`; a missing cursor counts as 0, so every existing record conflicts (safe). */
function readBody(input: PushInput): { changes: unknown; cursor: number } {
  const body = input.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw SyncErrors.invalidParameter('body', 'must be a JSON object { changes, lastPulledAt? }');
  }
  const { changes, lastPulledAt, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw SyncErrors.invalidParameter(unknown, 'unknown body property (expected changes, lastPulledAt)');
  if (input.lastPulledAt !== null) return { changes, cursor: input.lastPulledAt };
  if (lastPulledAt === undefined || lastPulledAt === null) return { changes, cursor: 0 };
  if (typeof lastPulledAt !== 'number' || !Number.isSafeInteger(lastPulledAt) || lastPulledAt < 0) {
    throw SyncErrors.invalidParameter('lastPulledAt', 'must be a non-negative integer');
  }
  return { changes, cursor: lastPulledAt };
}

/** Pushed ids per table, plus referenced blood tests (looked up with the pushed ones). */
function lookupIds(push: ValidatedPush): Map<SyncTableName, string[]> {
  const ids = new Map<SyncTableName, string[]>();
  for (const table of push.tables) ids.set(table.spec.name, [...table.upserts.map((r) => r.id), ...table.deleted]);
  if (push.bloodTestRefs.length) ids.set('blood_tests', [...new Set([...(ids.get('blood_tests') ?? []), ...push.bloodTestRefs])]);
  return ids;
}

type ExistingIndex = Map<SyncTableName, Map<string, ExistingRow>>;

function indexExisting(rows: ExistingRow[]): ExistingIndex {
  const index: ExistingIndex = new Map();
  for (const row of rows) {
    let table = index.get(row.tbl);
    if (!table) index.set(row.tbl, (table = new Map()));
    table.set(row.id, row);
  }
  return index;
}

function assertNoForeignRows(existing: ExistingIndex, familyId: string): void {
  const foreign: IdsByTable = {};
  for (const [table, rows] of existing) {
    for (const row of rows.values()) if (row.family_id !== familyId) addId(foreign, table, row.id);
  }
  if (Object.keys(foreign).length) throw SyncErrors.forbidden(foreign);
}

function assertNoConflicts(push: ValidatedPush, existing: ExistingIndex, cursor: number): void {
  const conflicts: IdsByTable = {};
  for (const table of push.tables) {
    const rows = existing.get(table.spec.name);
    if (!rows) continue;
    for (const id of [...table.upserts.map((r) => r.id), ...table.deleted]) {
      const row = rows.get(id);
      if (row && Number(row.server_version) > cursor) addId(conflicts, table.spec.name, id);
    }
  }
  if (Object.keys(conflicts).length) throw SyncErrors.conflict(conflicts);
}

/**
 * A result must point at a live blood test of this family: on the server already, or written in
 * this push. (Another family's blood test is left to the 403 check.) A test deleted earlier is
 * refused rather than taking the new result with it: the user would lose what they just entered
 * without a word. A test deleted in this same push takes its results along.
 */
function assertBloodTestRefs(push: ValidatedPush, bloodTests: Map<string, ExistingRow> | undefined, familyId: string): void {
  if (!push.bloodTestRefs.length) return;
  const pushed = new Set(push.tables.find((t) => t.spec.name === 'blood_tests')?.upserts.map((r) => r.id) ?? []);
  const results = push.tables.find((t) => t.spec.name === 'blood_test_results')!;
  const errors: SyncFieldError[] = [];
  for (const record of results.upserts) {
    const ref = record.doc.blood_test_id as string;
    if (pushed.has(ref)) continue;
    const test = bloodTests?.get(ref);
    if (!test) errors.push({ table: 'blood_test_results', id: record.id, field: 'blood_test_id', message: 'no such blood test in this family' });
    else if (test.family_id === familyId && test.deleted) {
      errors.push({ table: 'blood_test_results', id: record.id, field: 'blood_test_id', message: 'the blood test was deleted (pull, then move or delete this result)' });
    }
  }
  if (errors.length) throw SyncErrors.invalid(errors);
}

/** An updated record the server does not have becomes a new record: like a created one, it must name the family. */
function assertNewRecordsNameFamily(push: ValidatedPush, existing: ExistingIndex): void {
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

/** No record written and every deletion hits a row that is missing or already deleted. */
function changesNothing(push: ValidatedPush, existing: ExistingIndex): boolean {
  return push.tables.every((table) => {
    if (table.upserts.length) return false;
    const rows = existing.get(table.spec.name);
    return table.deleted.every((id) => {
      const row = rows?.get(id);
      return !row || row.deleted;
    });
  });
}
