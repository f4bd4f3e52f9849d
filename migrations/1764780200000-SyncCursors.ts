import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sync_cursors`: every timestamp a pull answered an installation (`X-Device-Id`) with, and whose
 * family's data that answer carried. A phone's cursor is the timestamp of the last answer it
 * applied, so the next pull looks its cursor up and knows what the phone holds: this family up to
 * the cursor (an old cursor is exact), or another family's records (replace), whoever is signed in
 * now, however many phones share the id. It replaces `sync_devices`, which kept only the last full
 * snapshot per (user, device) and had to guess: two reviews found sequences (another user signing in
 * on the phone, a lost answer, two phones restored from one backup) where the guess mixed families.
 * Its rows carry over as the cursors of those snapshots.
 */
export class SyncCursors1764780200000 implements MigrationInterface {
  name = 'SyncCursors1764780200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sync_cursors (
        device_id varchar(200) NOT NULL,
        version bigint NOT NULL,
        -- No foreign key: its FOR KEY SHARE on the family row made every pull that records a
        -- cursor wait for the family's push in flight (which holds the row FOR UPDATE). Families
        -- are never deleted; a cursor names one only to be compared with it.
        family_id uuid NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (device_id, version, family_id)
      )`);
    await q.query(`INSERT INTO sync_cursors (device_id, version, family_id) SELECT device_id, snapshot_version, family_id FROM sync_devices ON CONFLICT DO NOTHING`);
    await q.query('DROP TABLE sync_devices');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sync_devices (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        device_id varchar(200) NOT NULL,
        -- As SyncDevices made it: the foreign key that sync_cursors goes without was sync_devices'.
        family_id uuid NOT NULL REFERENCES families (id) ON DELETE CASCADE,
        updated_at timestamptz NOT NULL DEFAULT now(),
        snapshot_version bigint NOT NULL,
        PRIMARY KEY (user_id, device_id)
      )`);
    await q.query('DROP TABLE sync_cursors');
  }
}
