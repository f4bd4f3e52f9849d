import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sync_devices.snapshot_version` (server-only): the `timestamp` of the full snapshot (first
 * sync or replacement) a device was sent. The device holds that family's data only once its
 * cursor has reached it: a replacement response lost on the way (the phone kept its old cursor)
 * no longer counts as applied. Rows written before this column existed get the family's current
 * version, so a device whose cursor is older gets a replacement pull (always safe) rather than
 * an incremental one against data it may never have received.
 */
export class SyncDeviceSnapshots1764700000000 implements MigrationInterface {
  name = 'SyncDeviceSnapshots1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE sync_devices ADD COLUMN snapshot_version bigint');
    await q.query('UPDATE sync_devices d SET snapshot_version = f.sync_version FROM families f WHERE f.id = d.family_id');
    await q.query('ALTER TABLE sync_devices ALTER COLUMN snapshot_version SET NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE sync_devices DROP COLUMN snapshot_version');
  }
}
