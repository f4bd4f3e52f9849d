import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sync_last_pushes`: per installation and user, the last push that committed: for each record it
 * carried, a fingerprint of the columns the phone had changed locally (WatermelonDB's `_changed`)
 * with their values, and the version those values were written with. A phone whose push answer was lost pushes the same
 * records again at its next sync; when another device has written such a record since, the values
 * are an echo of an edit already applied, not a new one, and writing them again would undo the
 * other device's later edit (SyncPushService, `replayedRecords`).
 */
export class SyncLastPushes1764790000000 implements MigrationInterface {
  name = 'SyncLastPushes1764790000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sync_last_pushes (
        device_id varchar(200) NOT NULL,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        -- No foreign key to families, as in sync_cursors: the push holds the family row FOR UPDATE
        -- already, and a last push names its family only to be compared with the caller's.
        family_id uuid NOT NULL,
        -- "<table>:<id>" → [fingerprint of the record's locally changed columns, version they were written with].
        fingerprints jsonb NOT NULL,
        PRIMARY KEY (device_id, user_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sync_last_pushes');
  }
}
