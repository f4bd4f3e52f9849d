import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which family's data each device of a user last received in full (a first sync
 * or a replacement). Lets a pull tell "rejoined the family this device already
 * holds" (incremental pull) from "switched to another family" (replacement).
 */
export class SyncDevices1764400000000 implements MigrationInterface {
  name = 'SyncDevices1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sync_devices (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        device_id varchar(200) NOT NULL,
        family_id uuid NOT NULL REFERENCES families (id) ON DELETE CASCADE,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, device_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE sync_devices');
  }
}
