import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { normalizeEmail } from '../../modules/auth/email.js';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import { SEEDED_TABLES, type SeededTable } from './demo-history.js';
import { lockSignIns } from '../../modules/auth/refresh-token-revocation.js';

/** An account as the seeder sees it: is it the one `seed` created for a family `seed` created? */
export interface SeedAccount {
  id: string;
  email: string;
  familyId: string | null;
  role: FamilyRole | null;
  familyJoinedVersion: number;
  /** families.demo_seeded_at in ms, or null: not a family `seed` created. */
  seededAt: number | null;
  /** The account that created the family (its first owner). */
  familyCreatedBy: string | null;
}

export type SeedOwnedAccount = SeedAccount & { familyId: string; role: FamilyRole; seededAt: number };

/** Seed's own account: it created its family, and `seed` marked that family at creation. */
export function isSeedAccount(account: SeedAccount): account is SeedOwnedAccount {
  return account.familyId !== null && account.role !== null && account.seededAt !== null && account.familyCreatedBy === account.id;
}

/**
 * The seeder's own reads, its marker on the families it creates, and the
 * last step of a development reset. Every write of medical data goes through
 * the sync push instead (SeederService), and members are removed by
 * FamiliesService.removeMember (SeedResetService).
 */
@Injectable()
export class SeedRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async accounts(emails: string[]): Promise<SeedAccount[]> {
    const rows: Array<{
      id: string;
      email: string;
      family_id: string | null;
      role: FamilyRole | null;
      family_joined_version: string;
      seeded_at: string | null;
      created_by: string | null;
    }> = await this.dataSource.query(
      `SELECT u.id, u.email, u.family_id, u.role, u.family_joined_version,
              round(extract(epoch FROM f.demo_seeded_at) * 1000)::bigint AS seeded_at, f.created_by
         FROM users u LEFT JOIN families f ON f.id = u.family_id
        WHERE u.email = ANY($1::text[])
        ORDER BY u.email`,
      // Stored normalized, so compared by equality in the same form (as AuthService.findByEmail does).
      [emails.map(normalizeEmail)],
    );
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      familyId: r.family_id,
      role: r.role,
      familyJoinedVersion: Number(r.family_joined_version),
      seededAt: r.seeded_at === null ? null : Number(r.seeded_at),
      familyCreatedBy: r.created_by,
    }));
  }

  /**
   * Marks a family `seed` is creating, in the transaction that creates it with its account
   * (AuthService.register's onFamilyCreated): committed apart, a run interrupted or failing between
   * the two left an account seed no longer recognised as its own — every later seed and --reset
   * with that email refused it (found by review). `at` (ms) anchors its demo timeline.
   */
  async markSeeded(manager: EntityManager, familyId: string, at: number): Promise<void> {
    await manager.query('UPDATE families SET demo_seeded_at = to_timestamp($2::double precision / 1000) WHERE id = $1', [familyId, at]);
  }

  /**
   * Which of these ids exist already, live or tombstoned (a record deleted on
   * a device must not come back on the next seed). One query for all tables;
   * table names come from our own constant list, never from input.
   */
  async existingIds(ids: Map<SeededTable, string[]>): Promise<Set<string>> {
    const tables = SEEDED_TABLES.filter((t) => ids.get(t)?.length);
    if (!tables.length) return new Set();
    const sql = tables.map((t, i) => `SELECT id::text AS id FROM ${t} WHERE id = ANY($${i + 1}::uuid[])`).join(' UNION ALL ');
    const rows: Array<{ id: string }> = await this.dataSource.query(sql, tables.map((t) => ids.get(t)));
    return new Set(rows.map((r) => r.id));
  }

  /** Members of the family other than `exceptUserId`. */
  async otherMembers(familyId: string, exceptUserId: string, manager: EntityManager = this.dataSource.manager): Promise<string[]> {
    const rows: Array<{ id: string }> = await manager.query('SELECT id FROM users WHERE family_id = $1 AND id <> $2 ORDER BY created_at', [
      familyId,
      exceptUserId,
    ]);
    return rows.map((r) => r.id);
  }

  /**
   * Inside the family's write lock: deletes seed's account and its (marked)
   * family. Its synced rows, file rows, devices and refresh tokens go with
   * them (ON DELETE CASCADE); its installations' cursors and last pushes,
   * which have no foreign key to families (a sync holds the family row, not a
   * key share of it), are deleted here. Returns the storage keys of the
   * family's files, for the caller to delete once this has committed.
   */
  async deleteSeededFamily(manager: EntityManager, userId: string, familyId: string): Promise<string[]> {
    const files: Array<{ storage_key: string }> = await manager.query('SELECT storage_key FROM files WHERE family_id = $1', [familyId]);
    // Deleting the user ends their sign-ins (their refresh tokens go with the row): in the order a
    // password reset takes, the user's row, then their sign-in lock, so a refresh in flight
    // finishes first instead of deadlocking with the cascade (found by review).
    await manager.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
    await lockSignIns(manager, userId);
    await manager.query('DELETE FROM users WHERE id = $1 AND family_id = $2', [userId, familyId]);
    const deleted: unknown[] = await manager.query(
      'WITH gone AS (DELETE FROM families WHERE id = $1 AND demo_seeded_at IS NOT NULL RETURNING id) SELECT id FROM gone',
      [familyId],
    );
    // The caller checked the marker; a family that lost it since must not go.
    if (deleted.length !== 1) throw new Error(`family ${familyId} is not a seeded family`);
    // Before, they stayed: a member's phone's rows named a family that no longer existed, kept for
    // ever by sync:cleanup (which keeps each installation's newest cursor per family).
    await manager.query('DELETE FROM sync_cursors WHERE family_id = $1', [familyId]);
    await manager.query('DELETE FROM sync_last_pushes WHERE family_id = $1', [familyId]);
    return files.map((f) => f.storage_key);
  }
}
