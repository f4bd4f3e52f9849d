import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { FamilyContext } from '../family-scope/family-context.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

/** LISTEN/NOTIFY channel carrying `<familyId>:<version>` after every committed write. */
export const FAMILY_SYNC_CHANNEL = 'hemoday_family_sync';
/** LISTEN/NOTIFY channel carrying a user id whose family membership changed (removed, joined another). */
export const MEMBERSHIP_CHANNEL = 'hemoday_membership';

export interface VersionedWrite {
  /** The transaction to write in. */
  manager: EntityManager;
  /** The version to stamp on every row written (server_version, and server_created_version on insert). */
  version: number;
  /** The family's sync_version before this write: the newest cursor a pull can have handed out. */
  previousVersion: number;
  familyId: string;
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
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly familyContext: FamilyContext,
  ) {}

  /** Writes in the current request's family. */
  write<T>(work: (write: VersionedWrite) => Promise<T>): Promise<{ result: T; version: number }> {
    return this.writeForFamily(this.familyContext.require().familyId, work);
  }

  /**
   * Writes in an explicit family (CLI jobs, joins); callers outside a request only.
   * `after`: the new version must also exceed this (a join: above every cursor of the family left).
   */
  writeForFamily<T>(
    familyId: string,
    work: (write: VersionedWrite) => Promise<T>,
    options: { after?: number } = {},
  ): Promise<{ result: T; version: number }> {
    // PostgreSQL's default READ COMMITTED; naming it would cost a SET TRANSACTION round trip per write.
    return this.dataSource.transaction(async (manager) => {
      // One round trip: lock the family row (FOR UPDATE waits for a concurrent writer and then
      // sees its committed version), store the new version, return both (wrapped in a SELECT so
      // TypeORM returns plain rows).
      const rows: Array<{ version: string; previous: string }> = await manager.query(
        `WITH locked AS (SELECT id, sync_version FROM families WHERE id = $1 FOR UPDATE),
         bumped AS (
           UPDATE families f
              SET sync_version = greatest((extract(epoch FROM clock_timestamp()) * 1000)::bigint, locked.sync_version + 1, $2::bigint + 1)
             FROM locked
            WHERE f.id = locked.id
        RETURNING f.sync_version, locked.sync_version AS previous)
         SELECT sync_version AS version, previous FROM bumped`,
        [familyId, options.after ?? 0],
      );
      if (!rows.length) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
      const version = Number(rows[0].version);
      const result = await work({ manager, version, previousVersion: Number(rows[0].previous), familyId });
      // Delivered on commit only; real-time listeners tell the family's devices to sync.
      await manager.query('SELECT pg_notify($1, $2)', [FAMILY_SYNC_CHANNEL, `${familyId}:${version}`]);
      return { result, version };
    });
  }

  /** Inside a write: tells every instance, on commit, that this user's membership changed (open event streams end). */
  async notifyMembershipChange(manager: EntityManager, userId: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', [MEMBERSHIP_CHANNEL, userId]);
  }
}
