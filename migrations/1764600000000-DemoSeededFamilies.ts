import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Marks the families that the admin CLI's `seed` created, and when (server-only:
 * not a sync column, never sent to a device). `seed` writes demo history, and
 * `seed --reset` deletes, only in a marked family — never in a real family
 * whose account an admin happened to name. The time also anchors the demo
 * timeline, so a later run with a longer --months extends the same history.
 */
export class DemoSeededFamilies1764600000000 implements MigrationInterface {
  name = 'DemoSeededFamilies1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families ADD COLUMN demo_seeded_at timestamptz');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families DROP COLUMN demo_seeded_at');
  }
}
