import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { BloodTestResultsSameFamily1764880000000 } from '../../migrations/1764880000000-BloodTestResultsSameFamily.js';
import { scratchDataSource, useScratchSchema } from '../setup/scratch-schema.js';

/**
 * DESIGN: a result's blood_test_id is "a blood test of the same family". The push checks it; the
 * schema did not (the foreign key was on blood_test_id alone), so any other writer — a support fix in
 * SQL, a future REST route, a bug — could file family A's result under family B's test (found by review).
 */
describe('schema: a blood test result belongs to a blood test of its own family', () => {
  let dataSource: DataSource;
  beforeAll(async () => {
    dataSource = await scratchDataSource();
  });
  afterAll(() => dataSource?.destroy());

  it('the migrated schema refuses a result filed under another family\'s blood test, and takes one under its own', async () => {
    const q = dataSource.createQueryRunner();
    const [a, b, testOfB] = [randomUUID(), randomUUID(), randomUUID()];
    const attempt = async (resultFamily: string): Promise<unknown> => {
      await q.startTransaction();
      try {
        for (const id of [a, b]) await q.query('INSERT INTO families (id, created_at, updated_at) VALUES ($1, 1, 1)', [id]);
        await q.query(
          'INSERT INTO blood_tests (id, family_id, date, created_at, updated_at, server_version, server_created_version) VALUES ($1, $2, 1, 1, 1, 1, 1)',
          [testOfB, b],
        );
        await q.query(
          `INSERT INTO blood_test_results (id, family_id, blood_test_id, name, value, created_at, updated_at, server_version, server_created_version)
           VALUES ($1, $2, $3, 'Hb', 9.5, 1, 1, 1, 1)`,
          [randomUUID(), resultFamily, testOfB],
        );
        // The key is checked at commit (a push writes a test and its results in any order): ask now.
        await q.query('SET CONSTRAINTS ALL IMMEDIATE');
        return undefined;
      } catch (error) {
        return error;
      } finally {
        await q.rollbackTransaction(); // leaves the run's database as it was
      }
    };
    try {
      expect(await attempt(a)).toMatchObject({ driverError: { code: '23503' } });
      expect(await attempt(b)).toBeUndefined();
    } finally {
      await q.release();
    }
  });
});

/** The migration on minimal tables, in a scratch schema of its own. */
describe('migration BloodTestResultsSameFamily1764880000000', () => {
  let q: QueryRunner;
  const migration = new BloodTestResultsSameFamily1764880000000();
  useScratchSchema(
    'mig_results',
    async (q) => {
      await q.query('CREATE TABLE families (id uuid PRIMARY KEY)');
      await q.query('CREATE TABLE blood_tests (id uuid PRIMARY KEY, family_id uuid NOT NULL REFERENCES families (id) ON DELETE CASCADE)');
      await q.query(`
        CREATE TABLE blood_test_results (
          id uuid PRIMARY KEY,
          family_id uuid NOT NULL REFERENCES families (id) ON DELETE CASCADE,
          blood_test_id uuid NOT NULL REFERENCES blood_tests (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
        )`);
      await q.query('CREATE INDEX blood_test_results_blood_test_id_idx ON blood_test_results (blood_test_id)');
    },
    (runner) => (q = runner),
  );

  const family = async (): Promise<string> => (await q.query('INSERT INTO families (id) VALUES (gen_random_uuid()) RETURNING id'))[0].id;
  const test = async (familyId: string): Promise<string> => (await q.query('INSERT INTO blood_tests (id, family_id) VALUES (gen_random_uuid(), $1) RETURNING id', [familyId]))[0].id;
  const result = async (familyId: string, testId: string): Promise<string> =>
    (await q.query('INSERT INTO blood_test_results (id, family_id, blood_test_id) VALUES (gen_random_uuid(), $1, $2) RETURNING id', [familyId, testId]))[0].id;

  it('stops, naming the results filed under another family\'s test, and changes nothing', async () => {
    const [a, b] = [await family(), await family()];
    const own = await result(a, await test(a));
    const stray = await result(a, await test(b));
    const constraints = async () => (await q.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'blood_test_results'::regclass ORDER BY 1`)).map((r: { conname: string }) => r.conname);
    const before = await constraints();
    let error: Error | undefined;
    try {
      await migration.up(q);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(/Cannot tie blood test results to their family: 1 result\(s\)/);
    expect(error?.message).toContain(stray);
    expect(error?.message).not.toContain(own);
    expect(await constraints()).toEqual(before);
  });

  it('ties results to their family\'s tests; deleting a test still takes its results; down gives the single-column key its index back', async () => {
    const a = await family();
    const testOfA = await test(a);
    await result(a, testOfA);
    await migration.up(q);
    // Checked at commit, as the key on blood_test_id alone: a push may write a result before its test.
    const [early, later] = [randomUUID(), randomUUID()];
    await q.startTransaction();
    await q.query('INSERT INTO blood_test_results (id, family_id, blood_test_id) VALUES ($1, $2, $3)', [early, a, later]);
    await q.query('INSERT INTO blood_tests (id, family_id) VALUES ($1, $2)', [later, a]);
    await q.commitTransaction();
    expect(await q.query('SELECT blood_test_id FROM blood_test_results WHERE id = $1', [early])).toEqual([{ blood_test_id: later }]);
    await q.query('DELETE FROM blood_tests WHERE id = $1', [testOfA]);
    expect(await q.query('SELECT id FROM blood_test_results WHERE blood_test_id = $1', [testOfA])).toEqual([]);
    await migration.down(q);
    expect((await q.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'blood_test_results_blood_test_id_idx' AND schemaname = current_schema()`))[0].indexdef).toMatch(/\(blood_test_id\)$/);
  });
});
