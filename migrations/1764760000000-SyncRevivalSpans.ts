import type { MigrationInterface, QueryRunner } from 'typeorm';

const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/**
 * Every earlier live span of a revived record, not only the latest one. `prev_spans` (jsonb, NULL
 * for a record never revived) is an array, oldest first, of
 * `{c, d, cd, cu, dd, du}`: the versions that created and deleted that life, the device and user
 * that created it, and the device and user that deleted it (absent: unknown). With only the latest
 * span kept, a phone offline across two delete-and-revive cycles got the record as `created`
 * although it held it, and a deletion it had made meanwhile was lost.
 *
 * The previous single span (`prev_created_version`, `prev_deleted_version`,
 * `prev_created_by_device`) is carried over as a one-element array. What it did not record is left
 * out: users (a span without one matches by device alone, as before), and its deleting device when
 * the record has been deleted again since (`deleted_by_device` then names the newer deletion).
 */
export class SyncRevivalSpans1764760000000 implements MigrationInterface {
  name = 'SyncRevivalSpans1764760000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of DATA_TABLES) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN prev_spans jsonb`);
      await q.query(
        `UPDATE ${table}
            SET prev_spans = jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                  'c', prev_created_version, 'd', prev_deleted_version, 'cd', prev_created_by_device,
                  'dd', CASE WHEN deleted_at IS NULL THEN deleted_by_device END))),
                deleted_by_device = CASE WHEN deleted_at IS NULL THEN NULL ELSE deleted_by_device END
          WHERE prev_created_version IS NOT NULL`,
      );
      await q.query(`ALTER TABLE ${table} DROP COLUMN prev_created_version, DROP COLUMN prev_deleted_version, DROP COLUMN prev_created_by_device`);
    }
  }

  /** Back to one span: the latest. */
  async down(q: QueryRunner): Promise<void> {
    for (const table of DATA_TABLES) {
      await q.query(
        `ALTER TABLE ${table}
           ADD COLUMN prev_created_version bigint,
           ADD COLUMN prev_deleted_version bigint,
           ADD COLUMN prev_created_by_device varchar(200)`,
      );
      await q.query(
        `UPDATE ${table}
            SET prev_created_version = (prev_spans -> -1 ->> 'c')::bigint,
                prev_deleted_version = (prev_spans -> -1 ->> 'd')::bigint,
                prev_created_by_device = prev_spans -> -1 ->> 'cd',
                deleted_by_device = CASE WHEN deleted_at IS NULL THEN prev_spans -> -1 ->> 'dd' ELSE deleted_by_device END
          WHERE prev_spans IS NOT NULL`,
      );
      await q.query(`ALTER TABLE ${table} DROP COLUMN prev_spans`);
    }
  }
}
