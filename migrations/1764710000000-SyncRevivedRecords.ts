import type { MigrationInterface, QueryRunner } from 'typeorm';

const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/**
 * What a pull needs to classify a record that was deleted and then written again (revived) —
 * server-only columns, never sent to a device:
 *
 * - `prev_created_version`, `prev_deleted_version`, `prev_created_by_device`: the live span the
 *   record had before its deletion, kept when it is revived. A device whose cursor lies in that
 *   span never pulled the deletion and still holds the record: it gets `updated`; every other
 *   device gets `created` (the revival also resets server_created_version / created_by_device).
 * - `deleted_by_device`: the device that pushed the deletion. It no longer holds the record,
 *   although its cursor may lie in that span (a device never pulls its own deletion).
 */
export class SyncRevivedRecords1764710000000 implements MigrationInterface {
  name = 'SyncRevivedRecords1764710000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of DATA_TABLES) {
      await q.query(
        `ALTER TABLE ${table}
           ADD COLUMN prev_created_version bigint,
           ADD COLUMN prev_deleted_version bigint,
           ADD COLUMN prev_created_by_device varchar(200),
           ADD COLUMN deleted_by_device varchar(200)`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of DATA_TABLES) {
      await q.query(
        `ALTER TABLE ${table} DROP COLUMN prev_created_version, DROP COLUMN prev_deleted_version,
           DROP COLUMN prev_created_by_device, DROP COLUMN deleted_by_device`,
      );
    }
  }
}
