import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FamilyContext } from '../family-scope/family-context.js';
import { stillMemberStatements, verifyMembership } from '../family-scope/membership.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { isTransientConflict, sqlStateOf } from '../postgres-errors.js';
import { syncConfig } from '../../config/configuration.js';
import { prepared, runBatch, type BatchStatement } from '../../database/statement-batch.js';

/** A write the database ended as a deadlock's victim is run again, up to this many times in all. */
const WRITE_ATTEMPTS = 3;

/** LISTEN/NOTIFY channel carrying `<familyId>:<version>` after every committed write. */
export const FAMILY_SYNC_CHANNEL = 'hemoday_family_sync';
/** LISTEN/NOTIFY channel carrying a user id whose family membership changed (removed, joined another). */
export const MEMBERSHIP_CHANNEL = 'hemoday_membership';

/**
 * What a write's callback returns when, under the lock, it finds nothing to change (a PATCH of the
 * values already stored, a push of deletions of rows already gone): the transaction is rolled back,
 * so the family keeps its version and no device is told to sync.
 */
export const NOTHING_TO_WRITE: unique symbol = Symbol('nothing to write');

export interface VersionedWrite {
  /** The transaction to write in. */
  manager: EntityManager;
  /** The version to stamp on every row written (server_version, and server_created_version on insert). */
  version: number;
  /** The family's sync_version before this write: the newest cursor a pull can have handed out. */
  previousVersion: number;
  familyId: string;
  /** The rows of `reads` (WriteOptions), one list per statement, read under the lock. */
  reads: unknown[][];
  /**
   * Counts rows this write inserted into the family's data tables. At its commit they are added to
   * `families.record_count`, or, past SYNC_FAMILY_MAX_RECORDS, the whole write is refused (413).
   */
  addRecords(inserted: number): void;
}

/**
 * Refuses a write that would take the family's rows in the synced data tables (`recordCount`
 * before it) past `max` (SYNC_FAMILY_MAX_RECORDS): 413. `adding`: the rows it inserted.
 */
export function assertRecordRoom(write: { recordCount: number }, adding: number, max: number): void {
  if (adding > 0 && write.recordCount + adding > max) {
    throw new DomainError(
      ErrorCode.RECORD_QUOTA_EXCEEDED,
      `This family would have more than ${max} records (SYNC_FAMILY_MAX_RECORDS); it has ${write.recordCount}, and this adds ${adding}`,
      { max_records: max, stored_records: write.recordCount, new_records: adding },
    );
  }
}

interface WriteOptions {
  /**
   * The family a join leaves. It is locked too (both rows in id order, so two joins in opposite
   * directions cannot deadlock) for the whole transaction: a write to it either committed before,
   * with a version below the join's, or waits until the joiner is gone, so no cursor the joiner's
   * devices got from it can reach the join's version. Settle it in `work` (`bumpLeft`).
   */
  leaving?: string | null;
  /** The version taken is above this one too (a pull raising the family past a cursor). */
  above?: number;
  /**
   * Called as COMMIT is sent, after every check (the record limit's included). A failure before it
   * is a rollback; one after it may be a commit that happened unacknowledged (a connection lost at
   * COMMIT): an upload keeps its stored bytes only then.
   */
  committing?: () => void;
  /**
   * Statements run under the lock right after the version bump, sent with it (one round trip: the
   * lock is held for as few as possible); their rows are `write.reads`.
   */
  reads?: readonly BatchStatement[];
}

export interface VersionedResult<T> {
  /** What the callback returned (NOTHING_TO_WRITE when it wrote nothing). */
  result: T;
  /** The family's version after the call: the one written, or its unchanged version when nothing was written. */
  version: number;
}

/**
 * The only way to write a family's synced data (push, REST, CLI, uploads).
 *
 * One transaction: lock the family row, take v = greatest(now_ms,
 * sync_version + 1), let the caller stamp its rows with v, store
 * sync_version = v. Writes to one family are serialized by the row lock, so
 * versions follow commit order; a pull that reads sync_version and the rows
 * from one snapshot can never miss a change. Families never wait on each other.
 */
@Injectable()
export class FamilyVersionService {
  private readonly logger = new Logger(FamilyVersionService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly familyContext: FamilyContext,
    @Inject(syncConfig.KEY) private readonly sync: Pick<ConfigType<typeof syncConfig>, 'familyMaxRecords'>,
  ) {}

  /**
   * Writes in the current request's family, as its member: under the family lock, the caller must
   * still be the member the request began as (assertStillMember), else `membershipChanged` is thrown
   * and nothing is written. `asOwner`: an owner-only write; the caller must still be the owner too
   * (the guard read the role before the lock; the ownership may have been handed on since).
   */
  write<T>(
    work: (write: VersionedWrite) => Promise<T>,
    options: { membershipChanged?: () => DomainError; asOwner?: boolean } & Pick<WriteOptions, 'committing' | 'reads'> = {},
  ): Promise<VersionedResult<T>> {
    const scope = this.familyContext.require();
    return this.writeForFamily(
      scope.familyId,
      async (write) => {
        // assertStillMember's check, its statements sent with the version bump (under the lock, FOR SHARE).
        const [member, signIn, ...reads] = write.reads;
        verifyMembership(member, scope, options.membershipChanged, { owner: options.asOwner }, signIn);
        return work({ ...write, reads });
      },
      { committing: options.committing, reads: [...stillMemberStatements(scope), ...(options.reads ?? [])] },
    );
  }

  /**
   * Outside any write: refuses now, with the 413 its commit would answer, a write that is to add
   * `adding` records to a family that has no room left for them. A courtesy for a write that takes
   * long to get ready (an upload's file arrives for minutes); read without the family's lock, it can
   * race, so the check at the write's commit stays the one that holds.
   */
  async assertRecordRoomNow(familyId: string, adding: number): Promise<void> {
    const rows: Array<{ record_count: string }> = await this.dataSource.query('SELECT record_count FROM families WHERE id = $1', [familyId]);
    if (rows.length) assertRecordRoom({ recordCount: Number(rows[0].record_count) }, adding, this.sync.familyMaxRecords);
  }

  /**
   * Writes in a family named by the caller, not by the request's scope: membership changes (a join
   * or registration enters a family the caller is not in yet) and CLI jobs, which have no scope.
   */
  async writeForFamily<T>(
    familyId: string,
    work: (write: VersionedWrite) => Promise<T>,
    options: WriteOptions = {},
  ): Promise<VersionedResult<T>> {
    // PostgreSQL ends one transaction of a deadlock (40P01), after deadlock_timeout: that write was
    // rolled back whole, and run again it usually finds the other one committed. The callbacks only
    // read and write in the transaction they are given, so running one again is safe.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(familyId, work, options);
      } catch (error) {
        if (attempt >= WRITE_ATTEMPTS || !isTransientConflict(error)) throw error;
        this.logger.warn({ familyId, attempt, sqlState: sqlStateOf(error) }, 'versioned write ended by the database (deadlock or serialization failure); running it again');
      }
    }
  }

  private async writeOnce<T>(familyId: string, work: (write: VersionedWrite) => Promise<T>, options: WriteOptions): Promise<VersionedResult<T>> {
    // Like DataSource.transaction, which can only commit or rethrow: here the callback may also ask
    // for a rollback (NOTHING_TO_WRITE). PostgreSQL's default READ COMMITTED; naming it would cost a
    // SET TRANSACTION round trip per write.
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const manager = runner.manager;
      let after = options.above ?? 0;
      if (options.leaving && options.leaving !== familyId) {
        const locked: Array<{ id: string; sync_version: string }> = await manager.query(
          'SELECT id::text AS id, sync_version FROM families WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
          [[familyId, options.leaving]],
        );
        after = Math.max(after, Number(locked.find((row) => row.id === options.leaving)?.sync_version ?? 0));
      }
      const [bumped, ...reads] = await runBatch(manager, [bumpStatement(familyId, after), ...(options.reads ?? [])]);
      const { version, previousVersion, recordCount } = bumpedVersion(bumped);
      let inserted = 0;
      const addRecords = (n: number) => void (inserted += n);
      const result = await work({ manager, version, previousVersion, familyId, addRecords, reads });
      if (result === NOTHING_TO_WRITE) {
        // Undoes the version bump too: no new version, no notification.
        await runner.rollbackTransaction();
        return { result, version: previousVersion };
      }
      // Checked here, once for every kind of write (push, upload, seed), with the count read under the
      // lock: a refused write is rolled back whole, like any other error.
      assertRecordRoom({ recordCount }, inserted, this.sync.familyMaxRecords);
      // Delivered on commit only; real-time listeners tell the family's devices to sync. The rows
      // inserted are counted in the same round trip (a data-modifying WITH runs whether read or not).
      await runBatch(manager, [
        prepared(
          `WITH counted AS (UPDATE families SET record_count = record_count + $3 WHERE id = $4 AND $3 <> 0)
           SELECT pg_notify($1, $2)`,
          [FAMILY_SYNC_CHANNEL, `${familyId}:${version}`, inserted, familyId],
        ),
      ]);
      options.committing?.();
      await runner.commitTransaction();
      return { result, version };
    } catch (error) {
      // The original error is what matters, even if the rollback fails too (a broken connection).
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /**
   * Inside writeForFamily's transaction, for the family it locked as `leaving`: a new version for
   * that family too (the caller stamps the rows it changes with it), announced on commit.
   */
  async bumpLeft(manager: EntityManager, familyId: string): Promise<number> {
    const { text, values } = bumpStatement(familyId, 0);
    const { version } = bumpedVersion(await manager.query(text, values as unknown[]));
    await manager.query('SELECT pg_notify($1, $2)', [FAMILY_SYNC_CHANNEL, `${familyId}:${version}`]);
    return version;
  }

  /**
   * Inside a write: tells every instance, on commit, that this user's membership changed or that
   * they were signed out, so their open event streams end: all of them, or with `signInId` only
   * those opened with that sign-in's tokens (a logout of one device).
   */
  async notifyMembershipChange(manager: EntityManager, userId: string, signInId?: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', [MEMBERSHIP_CHANNEL, signInId ? `${userId}:${signInId}` : userId]);
  }
}

/**
 * One statement: lock the family row (FOR UPDATE waits for a concurrent writer and then sees its
 * committed version), store v = greatest(now_ms, sync_version + 1, after + 1), return v, the
 * version before and the family's record count (wrapped in a SELECT so TypeORM returns plain rows).
 */
function bumpStatement(familyId: string, after: number): BatchStatement {
  return prepared(
    `WITH locked AS (SELECT id, sync_version FROM families WHERE id = $1 FOR UPDATE),
         bumped AS (
           UPDATE families f
              SET sync_version = greatest((extract(epoch FROM clock_timestamp()) * 1000)::bigint, locked.sync_version + 1, $2::bigint + 1)
             FROM locked
            WHERE f.id = locked.id
        RETURNING f.sync_version, locked.sync_version AS previous, f.record_count)
         SELECT sync_version AS version, previous, record_count FROM bumped`,
    [familyId, after],
  );
}

function bumpedVersion(rows: unknown[]): { version: number; previousVersion: number; recordCount: number } {
  const row = rows[0] as { version: string; previous: string; record_count: string } | undefined;
  if (!row) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
  return { version: Number(row.version), previousVersion: Number(row.previous), recordCount: Number(row.record_count) };
}
