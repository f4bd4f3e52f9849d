import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Families, users, refresh tokens and the seven synced tables.
 *
 * Wire dates (ms since epoch, as the WatermelonDB client sends them) are stored
 * verbatim as bigint: the client's value is the record, so it must round-trip
 * exactly. `server_version` / `server_created_version` / `deleted_at` and the
 * audit columns are server-only and never leave the server.
 */
export class InitialSchema1764090000000 implements MigrationInterface {
  name = 'InitialSchema1764090000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE families (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        invite_code varchar(6) NOT NULL,
        patient_name varchar(200),
        patient_birth_date bigint,
        patient_weight_kg double precision CHECK (patient_weight_kg > 0 AND patient_weight_kg < 500),
        patient_blood_group varchar(16),
        patient_diagnosis varchar(500),
        notes text,
        sync_version bigint NOT NULL DEFAULT 0,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        server_version bigint NOT NULL DEFAULT 0,
        server_created_version bigint NOT NULL DEFAULT 0,
        created_by uuid,
        updated_by uuid,
        created_by_device varchar(200)
      )`);
    await q.query(`CREATE UNIQUE INDEX families_invite_code_key ON families (invite_code)`);

    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email varchar(320) NOT NULL,
        password_hash varchar(200) NOT NULL,
        name varchar(200),
        family_id uuid REFERENCES families (id) ON DELETE SET NULL,
        role varchar(16) CHECK (role IN ('owner', 'member')),
        family_joined_version bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((family_id IS NULL) = (role IS NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`);
    await q.query(`CREATE INDEX users_family_id_idx ON users (family_id)`);

    await q.query(`
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        chain_id uuid NOT NULL,
        token_hash char(64) NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id)`);
    await q.query(`CREATE INDEX refresh_tokens_chain_id_idx ON refresh_tokens (chain_id)`);

    const synced = (name: string, columns: string) =>
      q.query(`
        CREATE TABLE ${name} (
          id uuid PRIMARY KEY,
          family_id uuid NOT NULL REFERENCES families (id) ON DELETE CASCADE,
          ${columns},
          created_at bigint NOT NULL,
          updated_at bigint NOT NULL,
          server_version bigint NOT NULL,
          server_created_version bigint NOT NULL,
          deleted_at bigint,
          created_by uuid,
          updated_by uuid,
          created_by_device varchar(200)
        )`);

    await synced(
      'transfusions',
      `date bigint NOT NULL,
       volume_ml double precision CHECK (volume_ml > 0 AND volume_ml < 5000),
       patient_weight_kg double precision CHECK (patient_weight_kg > 0 AND patient_weight_kg < 500),
       medication varchar(500),
       indicators_before jsonb,
       indicators_after jsonb,
       hospital varchar(300),
       reaction varchar(2000),
       notes text`,
    );
    await synced(
      'blood_tests',
      `date bigint NOT NULL,
       comment text,
       laboratory varchar(300)`,
    );
    await synced(
      'blood_test_results',
      `blood_test_id uuid NOT NULL REFERENCES blood_tests (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
       name varchar(100) NOT NULL,
       value double precision NOT NULL,
       unit varchar(50),
       reference_min double precision,
       reference_max double precision`,
    );
    await synced(
      'analysis_templates',
      `name varchar(200) NOT NULL,
       indicators_json jsonb NOT NULL DEFAULT '[]'`,
    );
    await synced(
      'reminders',
      `title varchar(300) NOT NULL,
       remind_at bigint NOT NULL,
       frequency varchar(16) NOT NULL CHECK (frequency IN ('once', 'daily', 'weekly', 'monthly', 'every_n_days')),
       interval_days integer CHECK (interval_days > 0 AND interval_days <= 3660),
       is_completed boolean NOT NULL DEFAULT false,
       completed_at bigint,
       notes text`,
    );
    await synced(
      'documents',
      `name varchar(300) NOT NULL,
       category varchar(32) NOT NULL CHECK (category IN ('lab_result', 'discharge_summary', 'prescription', 'imaging', 'other')),
       file_url varchar(500),
       mime_type varchar(100),
       size_bytes bigint CHECK (size_bytes >= 0),
       notes text`,
    );

    for (const table of ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents']) {
      // Pull reads "rows of this family changed since version X": one range scan.
      await q.query(`CREATE INDEX ${table}_family_version_idx ON ${table} (family_id, server_version)`);
    }
    await q.query(`CREATE INDEX blood_test_results_blood_test_id_idx ON blood_test_results (blood_test_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'documents',
      'reminders',
      'analysis_templates',
      'blood_test_results',
      'blood_tests',
      'transfusions',
      'refresh_tokens',
      'users',
      'families',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
