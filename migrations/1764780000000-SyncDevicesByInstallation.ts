import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The pull asks which family's data an installation (`X-Device-Id`) last received in full, whoever
 * was signed in: another user signing in on the same phone finds the previous user's family there.
 * `sync_devices` is keyed by (user, device); this index serves "the latest row of a device".
 */
export class SyncDevicesByInstallation1764780000000 implements MigrationInterface {
  name = 'SyncDevicesByInstallation1764780000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX sync_devices_device_latest_idx ON sync_devices (device_id, updated_at DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX sync_devices_device_latest_idx');
  }
}
