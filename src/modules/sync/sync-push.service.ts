import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyVersionService, NOTHING_TO_WRITE } from '../../common/versioning/family-version.service.js';
import { runBatch, type BatchStatement } from '../../database/statement-batch.js';
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
import { NewInstallationLimiter } from './new-installation-limiter.js';
import { SyncRepository } from './sync.repository.js';
import type { SyncTableName } from './sync-schema.js';
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
 * not exist or is deleted) → another family's id (403) → changed on the server
 * since last_pulled_at (a pushed record, or a result a blood-test deletion
 * would take along), or a cursor this family never issued (409) → a file_url
 * that names no file of the family (422: after the conflicts, see push) →
 * apply set-based → { timestamp }; rows that would take the
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
    private readonly newInstallations: NewInstallationLimiter,
  ) {}

  async push(input: PushInput): Promise<SyncPushResponse> {
    const scope = this.familyContext.require();
    const { familyId, userId } = scope;
    const { changes, cursor } = readBody(input.body, input.lastPulledAt);
    // Every pull since the caller joined this family answers the join's version or later: a cursor
    // below it was pulled under an earlier membership (the user joined another family, or left and
    // came back, on another phone between this phone's pull and its push), and the records come from
    // what that pull left on the phone. 409, as for a membership change under the lock: the app syncs
    // again, and its pull replaces. Refused further on, they answered 403 FORBIDDEN_RECORD, which
    // tells an app that did not switch family that it has a bug (found by review). 0: never pulled.
    if (cursor > 0 && cursor < scope.joinedVersion) throw SyncErrors.membershipChanged();
    const push = validatePush(changes, familyId, { requireFamilyId: input.fromDevice ?? false });
    if (!push.recordCount) return { timestamp: await this.currentVersion(familyId) };
    const deletedTests = push.tables.find((t) => t.spec.name === 'blood_tests')?.deleted ?? [];
    // A push whose answer was lost comes again with the next sync: its records must not undo what
    // other devices wrote since (replayedRecords). Only a device can be recognized.
    // Each record with a fingerprint, under its key in the device's last push.
    const fingerprinted = push.tables.flatMap((t) =>
      t.upserts.flatMap(({ id, fingerprint }) => (fingerprint ? [{ table: t.spec.name, id, key: lastPushKey(t.spec.name, id), fingerprint }] : [])),
    );
    const lookup = this.repository.findExisting(lookupIds(push), { familyId, deletedTests });
    const lastPushLookup =
      input.deviceId && fingerprinted.length
        ? this.installations.lastPush(input.deviceId, familyId, new Map(fingerprinted.map(({ key, fingerprint }) => [key, fingerprint])))
        : null;
    // The look-ups go out with the version bump (FamilyVersionService.write): one round trip under the lock.
    const reads = [lookup, lastPushLookup].filter((r): r is BatchStatement => r !== null);
    // The write re-checks the caller's membership under the family lock (a join or a removal that
    // committed meanwhile): 409 membership_changed, as the pull answers.
    const { version } = await this.versions.write(
      async (write) => {
        const { manager, previousVersion } = write;
        const existing = this.repository.existingRows(lookup ? write.reads[0] : []);
        const lastPush: LastPush = lastPushLookup ? this.installations.lastPushRows(write.reads[reads.length - 1]) : new Map();
        const byTable = indexExisting(existing.rows);
        if (input.fromDevice) assertNewRecordsNameFamily(push, byTable);
        const testsNeverStored = checkBloodTestRefs(push, byTable.get('blood_tests'), familyId, cursor);
        const replays = replayedRecords(push, byTable, lastPush);
        assertNoForeignRows(byTable, familyId);
        // A cursor above every version this family had was issued for other data (or made up):
        // its conflict check would let the push overwrite newer edits.
        if (cursor > previousVersion) throw SyncErrors.cursorAhead(cursor, previousVersion);
        assertNoConflicts(push, byTable, cursor, existing.cascaded);
        // The files after the conflicts: a document changed since the device's pull may name the file it
        // had then, which another device replaced and the cleanup removed; the device must pull (409), not
        // "fix" the document with a new upload or file_url null over the newer scan, as a 422 tells it
        // to (found by review). A replayed document is not written, so the file it names is not checked
        // either, for the same reason (found by review).
        const replayedDocuments = replays.get('documents');
        const fileRefs = replayedDocuments ? push.fileRefs.filter((ref) => !replayedDocuments.has(ref.id)) : push.fileRefs;
        if (fileRefs.length || push.fileUrlKept.length) await this.files.assertFamilyFiles(manager, familyId, fileRefs, push.fileUrlKept);
        if (changesNothing(push, byTable)) return NOTHING_TO_WRITE;

        const stamp = writeStamp(write, userId, input.deviceId);
        // Every write of the push goes out in one batch (one round trip while the family is locked);
        // the inserts' counts are checked when it is back.
        const writes = new PushWrites();
        if (testsNeverStored.length) {
          // Their results are written and tombstoned with them (tombstoneOrphanResults).
          writes.insert(this.repository.insertBloodTestTombstones(testsNeverStored, stamp), 'blood_tests', testsNeverStored);
        }
        for (const table of push.tables) this.writeTable(writes, table, byTable.get(table.spec.name), replays.get(table.spec.name), stamp);
        if (push.tables.some((t) => t.spec.name === 'blood_tests' || t.spec.name === 'blood_test_results')) {
          writes.add(this.repository.tombstoneOrphanResults(stamp));
        }
        let lastPushAt: number | undefined;
        if (input.deviceId) {
          // A replayed record keeps the version its values were written with: a retry of this push is a replay too.
          const fingerprints = Object.fromEntries(
            fingerprinted.map(({ table, id, key, fingerprint }): [string, [string, number]] => [
              key,
              [fingerprint, replays.get(table)?.has(id) ? lastPush.get(key)![1] : stamp.version],
            ]),
          );
          lastPushAt = writes.add(this.installations.recordLastPush(input.deviceId, userId, familyId, fingerprints));
        }
        const results = await runBatch(manager, writes.statements);
        for (const { at, table, ids } of writes.inserts) {
          const inserted = this.repository.inserted(results[at]);
          // Only an id inserted into another family since our check can be missing: refuse, roll back.
          if (inserted !== ids.length) throw SyncErrors.forbidden({ [table]: ids });
          write.addRecords(inserted);
        }
        // A new installation (no last push of it by this user, no cursor of it in this family): counted
        // in this transaction, so a push rolled back gives it back; past the limit, 429 and everything
        // above rolls back. Only on this rare path: a known installation's push sends no statement more.
        if (lastPushAt !== undefined && this.installations.isNewInstallation(results[lastPushAt])) await this.newInstallations.admit(userId, manager);
      },
      { membershipChanged: SyncErrors.membershipChanged, reads },
    );
    return { timestamp: version };
  }

  /** `stored`: the table's rows this family already has; `replayed`: ids whose values are not written again. */
  private writeTable(
    writes: PushWrites,
    table: PushedTable,
    stored: ReadonlyMap<string, unknown> | undefined,
    replayed: ReadonlySet<string> | undefined,
    stamp: WriteStamp,
  ): void {
    const toUpdate: PushedRecord[] = [];
    const toInsert: PushedRecord[] = [];
    for (const record of table.upserts) if (!replayed?.has(record.id)) (stored?.has(record.id) ? toUpdate : toInsert).push(record);
    if (replayed) writes.add(this.repository.touch(table.spec, [...replayed], stamp));
    if (toUpdate.length) writes.add(this.repository.updateRows(table.spec, toUpdate, stamp));
    if (toInsert.length) writes.insert(this.repository.insertRows(table.spec, toInsert, stamp), table.spec.name, toInsert.map((r) => r.id));
    if (table.deleted.length) writes.add(this.repository.tombstone(table.spec, table.deleted, stamp));
  }

  private async currentVersion(familyId: string): Promise<number> {
    const version = await this.repository.familyVersion(this.dataSource.manager, familyId);
    if (version === null) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
    return version;
  }
}

/** A push's writes, in order, for one batch; `inserts`: which statements insert, and into which table the ids each must insert. */
class PushWrites {
  readonly statements: BatchStatement[] = [];
  readonly inserts: Array<{ at: number; table: SyncTableName; ids: string[] }> = [];

  /** Adds a statement; its index in the batch's results. */
  add(statement: BatchStatement): number {
    return this.statements.push(statement) - 1;
  }

  /** An insert whose count must come out whole (ON CONFLICT DO NOTHING: an id of another family is skipped): else 403 naming `ids`. */
  insert(statement: BatchStatement, table: SyncTableName, ids: string[]): void {
    this.inserts.push({ at: this.statements.push(statement) - 1, table, ids });
  }
}
