import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `families.deleted_at`, as on every other synced table (server-only, ms since epoch, never on the
 * wire). It stays NULL today: a family row is never tombstoned by sync (a push deleting it is
 * refused) nor by REST. The column is there so that every synced table has the same server-only
 * columns, and a future "delete this family" can be a tombstone like any other row's.
 */
export class FamiliesDeletedAt1764750100000 implements MigrationInterface {
  name = 'FamiliesDeletedAt1764750100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families ADD COLUMN deleted_at bigint');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families DROP COLUMN deleted_at');
  }
}
