import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The synced tables whose rows a family creates (its own `families` row is not counted). */
const COUNTED = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/**
 * `families.record_count`: the rows the family has in the six data tables, tombstones included (what
 * it occupies in the database). Kept by the writes that insert them, under the family lock
 * (FamilyVersionService), and checked against SYNC_FAMILY_MAX_RECORDS by a push or an upload that
 * would add rows: without a limit one family, or whoever holds one stolen token, could fill the
 * database every family shares. Counted here once for the families that exist.
 */
export class FamiliesRecordCount1764840000000 implements MigrationInterface {
  name = 'FamiliesRecordCount1764840000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families ADD COLUMN record_count bigint NOT NULL DEFAULT 0');
    const counts = COUNTED.map((table) => `SELECT family_id, count(*) AS n FROM ${table} GROUP BY family_id`).join(' UNION ALL ');
    await q.query(
      `UPDATE families f SET record_count = c.n
         FROM (SELECT family_id, sum(n)::bigint AS n FROM (${counts}) per_table GROUP BY family_id) c
        WHERE f.id = c.family_id`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families DROP COLUMN record_count');
  }
}
