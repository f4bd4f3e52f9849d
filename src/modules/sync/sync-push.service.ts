import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyVersionService, NOTHING_TO_WRITE } from '../../common/versioning/family-version.service.js';
import { DocumentFileUrlValidator } from '../documents/document-file-url.validator.js';
import { SyncPushResponse } from './dto/sync.response.js';
import { SyncErrors } from './sync.errors.js';
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
  type LastPush,
} from './sync-push.rules.js';
import { SyncInstallationsRepository } from './sync-installations.repository.js';
import { SyncRepository } from './sync.repository.js';
import { validatePush, type PushedRecord, type PushedTable } from './sync-validator.js';
import { writeStamp, type WriteStamp } from './write-stamp.js';

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
 * (403) → changed on the server since last_pulled_at (a pushed record, or a
 * result a blood-test deletion would take along), or a cursor this family
 * never issued (409) → apply set-based → { timestamp }; rows that would take the
 * family past SYNC_FAMILY_MAX_RECORDS refuse the whole push at its commit (413).
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
 * retry never duplicates. Records it repeats unchanged from the device's last
 * committed push, on rows another write changed since, are not written again
 * (they would undo that write): replayedRecords.
 */
@Injectable()
export class SyncPushService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly versions: FamilyVersionService,
    private readonly repository: SyncRepository,
    private readonly installations: SyncInstallationsRepository,
    private readonly familyContext: FamilyContext,
    private readonly files: DocumentFileUrlValidator,
  ) {}

  async push(input: PushInput): Promise<SyncPushResponse> {
    const scope = this.familyContext.require();
    const { familyId, userId } = scope;
    const { changes, cursor } = readBody(input.body, input.lastPulledAt);
    const push = validatePush(changes, familyId, { requireFamilyId: input.fromDevice ?? false });
    if (!push.recordCount) return { timestamp: await this.currentVersion(familyId) };
    // The write re-checks the caller's membership under the family lock (a join or a removal that
    // committed meanwhile): 409 membership_changed, as the pull answers.
    const { version } = await this.versions.write(async (write) => {
      const { manager, previousVersion } = write;
      const deletedTests = push.tables.find((t) => t.spec.name === 'blood_tests')?.deleted ?? [];
      const existing = await this.repository.findExisting(manager, lookupIds(push), { familyId, deletedTests });
      const byTable = indexExisting(existing.rows);
      if (input.fromDevice) assertNewRecordsNameFamily(push, byTable);
      const testsNeverStored = checkBloodTestRefs(push, byTable.get('blood_tests'), familyId);
      // A push whose answer was lost comes again with the next sync: its records must not undo what
      // other devices wrote since (replayedRecords). Only a device can be recognized.
      const fingerprinted = push.tables.flatMap((t) => t.upserts.filter((r) => r.fingerprint).map((r) => ({ table: t.spec.name, record: r })));
      const keys = fingerprinted.map(({ table, record }) => lastPushKey(table, record.id));
      const lastPush =
        input.deviceId && keys.length
          ? await this.installations.lastPush(manager, input.deviceId, familyId, new Map(fingerprinted.map(({ record }, i) => [keys[i], record.fingerprint!])))
          : (new Map() as LastPush);
      const replays = replayedRecords(push, byTable, lastPush);
      // A replayed document is not written, so the file it names is not checked: it may be gone (another
      // device replaced it, the cleanup removed it), and a 422 would make the device "fix" the document
      // over the newer one (found by review).
      const replayedDocuments = replays.get('documents');
      const fileRefs = replayedDocuments ? push.fileRefs.filter((ref) => !replayedDocuments.has(ref.id)) : push.fileRefs;
      if (fileRefs.length || push.fileUrlKept.length) await this.files.assertFamilyFiles(manager, familyId, fileRefs, push.fileUrlKept);
      assertNoForeignRows(byTable, familyId);
      // A cursor above every version this family had was issued for other data (or made up):
      // its conflict check would let the push overwrite newer edits.
      if (cursor > previousVersion) throw SyncErrors.cursorAhead(cursor, previousVersion);
      assertNoConflicts(push, byTable, cursor, existing.cascaded);
      if (changesNothing(push, byTable)) return NOTHING_TO_WRITE;

      const stamp = writeStamp(write, userId, input.deviceId);
      if (testsNeverStored.length) {
        // Their results are written and tombstoned with them (tombstoneOrphanResults); a short count: an id taken by another family since our check.
        const recorded = await this.repository.insertBloodTestTombstones(manager, testsNeverStored, stamp);
        if (recorded !== testsNeverStored.length) throw SyncErrors.forbidden({ blood_tests: testsNeverStored });
        write.addRecords(recorded);
      }
      for (const table of push.tables) {
        write.addRecords(await this.writeTable(manager, table, byTable.get(table.spec.name), replays.get(table.spec.name), stamp));
      }
      if (push.tables.some((t) => t.spec.name === 'blood_tests' || t.spec.name === 'blood_test_results')) {
        await this.repository.tombstoneOrphanResults(manager, stamp);
      }
      if (input.deviceId) {
        // A replayed record keeps the version its values were written with: a retry of this push is a replay too.
        const fingerprints = Object.fromEntries(
          fingerprinted.map(({ table, record }, i): [string, [string, number]] => [
            keys[i],
            [record.fingerprint!, replays.get(table)?.has(record.id) ? lastPush.get(keys[i])![1] : stamp.version],
          ]),
        );
        await this.installations.recordLastPush(manager, input.deviceId, userId, familyId, fingerprints);
      }
    }, { membershipChanged: SyncErrors.membershipChanged });
    return { timestamp: version };
  }

  /** `stored`: the table's rows this family already has; `replayed`: ids whose values are not written again. Returns the rows inserted. */
  private async writeTable(
    manager: EntityManager,
    table: PushedTable,
    stored: ReadonlyMap<string, unknown> | undefined,
    replayed: ReadonlySet<string> | undefined,
    stamp: WriteStamp,
  ): Promise<number> {
    const toUpdate: PushedRecord[] = [];
    const toInsert: PushedRecord[] = [];
    for (const record of table.upserts) if (!replayed?.has(record.id)) (stored?.has(record.id) ? toUpdate : toInsert).push(record);
    if (replayed) await this.repository.touch(manager, table.spec, [...replayed], stamp);
    if (toUpdate.length) await this.repository.updateRows(manager, table.spec, toUpdate, stamp);
    if (toInsert.length) {
      const inserted = await this.repository.insertRows(manager, table.spec, toInsert, stamp);
      // Only an id inserted into another family since our check can be missing: refuse, roll back.
      if (inserted !== toInsert.length) throw SyncErrors.forbidden({ [table.spec.name]: toInsert.map((r) => r.id) });
    }
    if (table.deleted.length) await this.repository.tombstone(manager, table.spec, table.deleted, stamp);
    return toInsert.length;
  }

  private async currentVersion(familyId: string): Promise<number> {
    const version = await this.repository.familyVersion(this.dataSource.manager, familyId);
    if (version === null) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
    return version;
  }
}

