import { randomUUID } from 'node:crypto';
import type { QueryRunner } from 'typeorm';
import { FamiliesRecordCount1764840000000 } from '../../migrations/1764840000000-FamiliesRecordCount.js';
import { useScratchSchema } from '../setup/scratch-schema.js';

const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/** The migration against the run's real PostgreSQL, on minimal tables in a scratch schema of its own. */
describe('migration FamiliesRecordCount1764840000000', () => {
  let q: QueryRunner;
  let schema: string;
  const migration = new FamiliesRecordCount1764840000000();
  useScratchSchema(
    'mig_count',
    async (q) => {
      await q.query('CREATE TABLE families (id uuid PRIMARY KEY)');
      for (const table of DATA_TABLES) {
        await q.query(`CREATE TABLE ${table} (id uuid PRIMARY KEY, family_id uuid NOT NULL REFERENCES families (id), deleted_at bigint)`);
      }
    },
    (runner, name) => ((q = runner), (schema = name)),
  );

  it('counts each family\'s rows in the six data tables, tombstones included; a family without any gets 0; down drops the column', async () => {
    const [busy, other, empty] = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of [busy, other, empty]) await q.query('INSERT INTO families (id) VALUES ($1)', [id]);
    const add = (table: string, familyId: string, deleted = false) =>
      q.query(`INSERT INTO ${table} (id, family_id, deleted_at) VALUES ($1, $2, $3)`, [randomUUID(), familyId, deleted ? 1 : null]);
    for (const table of DATA_TABLES) await add(table, busy);
    await add('transfusions', busy, true);
    await add('blood_test_results', busy);
    await add('reminders', other);

    await migration.up(q);
    const counts = Object.fromEntries((await q.query('SELECT id::text, record_count::int AS n FROM families')).map((r: { id: string; n: number }) => [r.id, r.n]));
    expect(counts).toEqual({ [busy]: 8, [other]: 1, [empty]: 0 });
    // A family created afterwards starts at 0.
    const later = randomUUID();
    await q.query('INSERT INTO families (id) VALUES ($1)', [later]);
    expect((await q.query('SELECT record_count::int AS n FROM families WHERE id = $1', [later]))[0].n).toBe(0);

    await migration.down(q);
    expect(await q.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'families' AND column_name = 'record_count'`, [schema])).toEqual([]);
  });
});
