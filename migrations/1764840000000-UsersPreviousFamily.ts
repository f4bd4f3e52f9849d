import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `users.previous_family_id` and `previous_family_joined_version`: the family a user was a member
 * of before their current membership (or before being in none) and the version they had joined it
 * at, written when they leave it (FamilyMembersRepository.detach, FamilyMembershipService.moveMember).
 * A replacement pull for a cursor from before the caller's join asks whether that cursor lies in
 * their previous membership of this very family (removed and added back, or left and back): their
 * phone then still holds this family, and a record it deleted offline must not come back as
 * `created` (SyncRepository.pullState, planPull). One membership back only; null: none known (users
 * who left a family before this migration). No foreign key: families are never deleted, and the
 * value is only compared.
 */
export class UsersPreviousFamily1764840000000 implements MigrationInterface {
  name = 'UsersPreviousFamily1764840000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE users ADD COLUMN previous_family_id uuid, ADD COLUMN previous_family_joined_version bigint');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE users DROP COLUMN previous_family_id, DROP COLUMN previous_family_joined_version');
  }
}
