import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import { scratchDataSource } from '../setup/scratch-schema.js';

/**
 * Deleting or re-keying a referenced row makes PostgreSQL look up its referencing rows (CASCADE,
 * SET NULL, or the check that none is left): without an index that starts with the foreign key's
 * columns, that look-up reads the whole referencing table, in the deleting transaction. On the
 * run's database, migrated by the global set-up.
 */
describe('schema: every foreign key has an index that starts with its columns', () => {
  let dataSource: DataSource;
  beforeAll(async () => {
    dataSource = await scratchDataSource();
  });
  afterAll(() => dataSource?.destroy());

  it('no foreign key of the migrated schema is left without one', async () => {
    const unindexed: Array<{ constraint: string }> = await dataSource.query(`
      SELECT format('%s.%s (%s)', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS constraint
        FROM pg_constraint c
       WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
         AND NOT EXISTS (
               SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid AND i.indpred IS NULL AND i.indisvalid
                  AND (SELECT array_agg(k ORDER BY k) FROM unnest((i.indkey::int2[])[0:cardinality(c.conkey) - 1]) k)
                    = (SELECT array_agg(k ORDER BY k) FROM unnest(c.conkey) k))
       ORDER BY 1`);
    // Found by review: deleting an account (DELETE /auth/me, user:delete, seed --reset) set
    // files.created_by to NULL by reading every family's file rows, under the family's lock.
    expect(unindexed.map((r) => r.constraint)).toEqual([]);
  });
});
