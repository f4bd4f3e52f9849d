import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `families.invite_code` becomes nullable: a family nobody is in any more has no invite code at all
 * (it used to get a new random one, which nobody knew but which a guess could still hit, opening the
 * family's medical records to a stranger). Existing families without members lose theirs now.
 */
export class FamiliesInviteCodeNullable1764750400000 implements MigrationInterface {
  name = 'FamiliesInviteCodeNullable1764750400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE families ALTER COLUMN invite_code DROP NOT NULL');
    await q.query('UPDATE families f SET invite_code = NULL WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.family_id = f.id)');
  }

  async down(q: QueryRunner): Promise<void> {
    // The column was NOT NULL: give every family without a code a random, unused one, as the app did
    // (the alphabet of invite-code.ts; gen_random_uuid() is a strong random source on PostgreSQL 13+).
    await q.query(`
      DO $$
      DECLARE
        target_id uuid;
        code text;
      BEGIN
        FOR target_id IN SELECT id FROM families WHERE invite_code IS NULL LOOP
          LOOP
            SELECT string_agg(substr('ABCDEFGHJKMNPQRSTUVWXYZ23456789', 1 + get_byte(uuid_send(gen_random_uuid()), 0) % 31, 1), '')
              INTO code FROM generate_series(1, 6);
            EXIT WHEN NOT EXISTS (SELECT 1 FROM families WHERE invite_code = code);
          END LOOP;
          UPDATE families SET invite_code = code WHERE id = target_id;
        END LOOP;
      END $$`);
    await q.query('ALTER TABLE families ALTER COLUMN invite_code SET NOT NULL');
  }
}
