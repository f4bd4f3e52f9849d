import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SEEDED_TABLES, type SeededTable } from './demo-history.js';

/**
 * The seeder's own reads and its development-only reset. Every write of
 * medical data goes through the sync push instead (SeederService).
 */
@Injectable()
export class SeedRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

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

  /**
   * Deletes the users with these emails and the families they belong to
   * (their synced rows and files go with the family: ON DELETE CASCADE).
   * Development and test databases only; the caller checks NODE_ENV.
   */
  async deleteSeeded(emails: string[]): Promise<{ users: number; families: number }> {
    return this.dataSource.transaction(async (manager) => {
      const lowered = emails.map((e) => e.toLowerCase());
      const users: Array<{ id: string; family_id: string | null }> = await manager.query(
        'SELECT id, family_id FROM users WHERE lower(email) = ANY($1::text[])',
        [lowered],
      );
      const familyIds = [...new Set(users.map((u) => u.family_id).filter((id): id is string => id !== null))];
      // Anyone else who joined a demo family is left without a family, like a removed member.
      await manager.query('UPDATE users SET family_id = NULL, role = NULL WHERE family_id = ANY($1::uuid[])', [familyIds]);
      await manager.query('DELETE FROM users WHERE id = ANY($1::uuid[])', [users.map((u) => u.id)]);
      await manager.query('DELETE FROM families WHERE id = ANY($1::uuid[])', [familyIds]);
      return { users: users.length, families: familyIds.length };
    });
  }
}
