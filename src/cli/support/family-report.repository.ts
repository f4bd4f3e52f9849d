import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SYNC_TABLE_NAMES } from '../../modules/sync/sync-schema.js';

/** As the driver returns it: BIGINT columns (versions, millisecond times) as strings. */
export interface FamilyRow {
  id: string;
  /** NULL while the family has no members. */
  invite_code: string | null;
  patient_name: string | null;
  patient_birth_date: string | null;
  patient_weight_kg: number | null;
  patient_blood_group: string | null;
  patient_diagnosis: string | null;
  sync_version: string;
  /** Rows in the synced data tables, tombstones included (what SYNC_FAMILY_MAX_RECORDS limits). */
  record_count: string;
  created_at: string;
  /** Set on the demo families `seed` made (the only ones seed writes into or --reset deletes). */
  demo_seeded_at: Date | null;
}

export interface MemberRow {
  id: string;
  email: string;
  name: string | null;
  role: string;
  created_at: Date;
}

export interface TableCount {
  table: string;
  live: number;
  deleted: number;
}

/** Read-only queries behind `family:show` (support work across families, so not family-scoped). */
@Injectable()
export class FamilyReportRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findFamily(by: { inviteCode: string } | { familyId: string }): Promise<FamilyRow | undefined> {
    const [column, value] = 'inviteCode' in by ? ['invite_code', by.inviteCode] : ['id', by.familyId];
    const rows: FamilyRow[] = await this.dataSource.query(
      `SELECT id, invite_code, patient_name, patient_birth_date, patient_weight_kg, patient_blood_group, patient_diagnosis,
              sync_version, record_count, created_at, demo_seeded_at
         FROM families WHERE ${column} = $1`,
      [value],
    );
    return rows[0];
  }

  /** The families a user founded (`families.created_by`), oldest first: where a user in no family is likely to have been. */
  async foundedBy(userId: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query('SELECT id FROM families WHERE created_by = $1 ORDER BY created_at', [userId]);
    return rows.map((r) => r.id);
  }

  members(familyId: string): Promise<MemberRow[]> {
    return this.dataSource.query(
      `SELECT id, email, name, role, created_at FROM users WHERE family_id = $1 ORDER BY role = 'owner' DESC, created_at`,
      [familyId],
    );
  }

  /** The family's stored files (every row, until files:cleanup removes it): what UPLOAD_FAMILY_MAX_BYTES limits. */
  async files(familyId: string): Promise<{ count: number; bytes: number }> {
    const rows: Array<{ count: number; bytes: string }> = await this.dataSource.query(
      'SELECT count(*)::int AS count, coalesce(sum(size_bytes), 0)::text AS bytes FROM files WHERE family_id = $1',
      [familyId],
    );
    return { count: rows[0].count, bytes: Number(rows[0].bytes) };
  }

  /** Live and tombstoned rows of every synced table, in one query. */
  async counts(familyId: string): Promise<TableCount[]> {
    const tables = SYNC_TABLE_NAMES.filter((t) => t !== 'families');
    const sql = tables
      .map(
        (t) =>
          `SELECT '${t}' AS "table", count(*) FILTER (WHERE deleted_at IS NULL)::int AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS deleted FROM ${t} WHERE family_id = $1`,
      )
      .join(' UNION ALL ');
    return this.dataSource.query(sql, [familyId]);
  }
}
