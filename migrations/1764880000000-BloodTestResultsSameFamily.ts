import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A blood test result belongs to a blood test of its own family (DESIGN, synced tables), now in the
 * schema too: a foreign key on (family_id, blood_test_id) to blood_tests (family_id, id). The push
 * checks it (403 for another family's test), but nothing in the database did: the key on
 * blood_test_id alone accepted a result of family A under a test of family B, which A's pull then
 * sends without its test and B's never shows (found by review). Like the key it joins, it is
 * checked at commit (a push inserts a test and its results in one transaction, tables in any order)
 * and cascades a deletion. `blood_test_results_blood_test_id_idx` becomes (blood_test_id, family_id),
 * which serves both keys.
 *
 * Results that already break the rule cannot be kept as they are, and which family they belong to is
 * not ours to guess: the migration stops and names them, before changing anything.
 */
export class BloodTestResultsSameFamily1764880000000 implements MigrationInterface {
  name = 'BloodTestResultsSameFamily1764880000000';

  async up(q: QueryRunner): Promise<void> {
    const strays: Array<{ id: string }> = await q.query(
      `SELECT r.id FROM blood_test_results r JOIN blood_tests b ON b.id = r.blood_test_id WHERE b.family_id <> r.family_id ORDER BY r.id`,
    );
    if (strays.length) {
      throw new Error(
        `Cannot tie blood test results to their family: ${strays.length} result(s) belong to a family other than their blood test's: ` +
          `${strays.map((r) => r.id).join(', ')}. Move each to a blood test of its own family (or delete it), then run the migrations again.`,
      );
    }
    await q.query('CREATE UNIQUE INDEX blood_tests_family_id_id_key ON blood_tests (family_id, id)');
    await q.query('DROP INDEX blood_test_results_blood_test_id_idx');
    await q.query('CREATE INDEX blood_test_results_blood_test_id_idx ON blood_test_results (blood_test_id, family_id)');
    await q.query(
      `ALTER TABLE blood_test_results ADD CONSTRAINT blood_test_results_family_id_blood_test_id_fkey
         FOREIGN KEY (family_id, blood_test_id) REFERENCES blood_tests (family_id, id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE blood_test_results DROP CONSTRAINT blood_test_results_family_id_blood_test_id_fkey');
    await q.query('DROP INDEX blood_test_results_blood_test_id_idx');
    await q.query('CREATE INDEX blood_test_results_blood_test_id_idx ON blood_test_results (blood_test_id)');
    await q.query('DROP INDEX blood_tests_family_id_id_key');
  }
}
