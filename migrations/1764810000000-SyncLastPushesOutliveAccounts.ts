import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sync_last_pushes` loses its foreign key to `users` (ON DELETE CASCADE). A last push is looked up by
 * installation and family, whoever pushes: on a tablet shared by a family, the next member's sync
 * repeats the previous member's push whose answer was lost, and the record is what keeps that repeat
 * from undoing another device's later edit. With the cascade, a member deleting their account
 * (DELETE /auth/me) took it along, and the repeat overwrote the later edit (found by review). The
 * row holds the family's data (fingerprints of its records' columns) and a user id, as the records'
 * own `created_by` does after such a deletion; a deleted user never pushes again, so it stays as it is.
 */
export class SyncLastPushesOutliveAccounts1764810000000 implements MigrationInterface {
  name = 'SyncLastPushesOutliveAccounts1764810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE sync_last_pushes DROP CONSTRAINT sync_last_pushes_user_id_fkey');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DELETE FROM sync_last_pushes p WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p.user_id)');
    await q.query('ALTER TABLE sync_last_pushes ADD CONSTRAINT sync_last_pushes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE');
  }
}
