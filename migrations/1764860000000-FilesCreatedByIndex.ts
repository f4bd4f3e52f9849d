import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An index on `files.created_by` for its foreign key to `users` (ON DELETE SET NULL): deleting an
 * account (DELETE /auth/me, user:delete, seed --reset) made PostgreSQL find the account's files by
 * reading every family's file rows, in the deleting transaction, which holds the family's lock
 * (26 ms at 81,000 files, growing with the table for good; found by review).
 */
export class FilesCreatedByIndex1764860000000 implements MigrationInterface {
  name = 'FilesCreatedByIndex1764860000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX files_created_by_idx ON files (created_by)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX files_created_by_idx');
  }
}
