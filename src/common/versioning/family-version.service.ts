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
      // UPDATE … RETURNING (wrapped so TypeORM returns plain rows) takes the row lock (as SELECT … FOR UPDATE would) and
      // stores the new version in the same round trip.
      const rows: Array<{ version: string }> = await manager.query(
        `WITH bumped AS (
           UPDATE families
              SET sync_version = greatest((extract(epoch FROM clock_timestamp()) * 1000)::bigint, sync_version + 1, $2::bigint + 1)
            WHERE id = $1
        RETURNING sync_version)
         SELECT sync_version AS version FROM bumped`,
        [familyId, options.after ?? 0],
      );
      if (!rows.length) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
      const version = Number(rows[0].version);
      const result = await work({ manager, version, familyId });
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
