import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import type { DataSource, QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { openScratchSchema, scratchDataSource, type ScratchSchema } from '../setup/scratch-schema.js';

/**
 * Every migration's down() gives back the schema its up() found (`migration:revert`), against the
 * run's real PostgreSQL, in a scratch schema of its own. Column order is left out: a column dropped
 * and added again comes back last, which changes nothing a query names.
 */
describe('migrations: down() restores the schema up() found', () => {
  let dataSource: DataSource;
  // One schema for the whole file, not one per test (useScratchSchema): each migration runs on what the earlier ones built.
  let scratch: ScratchSchema | undefined;
  let q: QueryRunner;

  beforeAll(async () => {
    dataSource = await scratchDataSource();
    scratch = await openScratchSchema(dataSource, 'mig_round');
    q = scratch.q;
  });
  afterAll(async () => {
    await scratch?.drop();
    await dataSource?.destroy();
  });

  /** Columns, constraints, indexes and functions of the scratch schema, by name. */
  async function schemaObjects(): Promise<string[]> {
    const rows: Array<{ object: string }> = await q.query(`
      SELECT format('column %s.%s %s(%s) null=%s default=%s', table_name, column_name, udt_name, character_maximum_length, is_nullable, column_default) AS object
        FROM information_schema.columns WHERE table_schema = current_schema()
      UNION ALL
      SELECT format('constraint %s.%s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
        FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
      UNION ALL
      SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = current_schema()
      UNION ALL
      SELECT format('function %s', pg_get_functiondef(oid)) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
      ORDER BY 1`);
    return rows.map((r) => r.object);
  }

  it.each(MIGRATIONS.map((m) => [new m().name, m] as const))('%s', async (_name, Migration) => {
    // Runs in order (it.each keeps it): each test starts from the schema the earlier ones built.
    const migration = new Migration();
    const before = await schemaObjects();
    await migration.up(q);
    await migration.down(q);
    expect(await schemaObjects()).toEqual(before);
    await migration.up(q);
  });
});

/**
 * A migration file left out of the explicit list never runs, and nothing else says so: a schema
 * change of a synced table (no entity) would reach no database, and `migration:show` would report
 * it up to date (found by mutation testing: leaving FoldDottedIInEmails out of the list failed no test).
 */
describe('migrations: the list holds every file of migrations/, in order', () => {
  it('one class per file, named <Name><timestamp> after its file <timestamp>-<Name>.ts, ordered by timestamp', () => {
    const files = readdirSync('migrations').filter((f) => f.endsWith('.ts')).sort();
    const fromFiles = files.map((f) => f.replace(/^(\d+)-(\w+)\.ts$/, '$2$1'));
    expect(MIGRATIONS.map((m) => new m().name)).toEqual(fromFiles);
    expect(MIGRATIONS.map((m) => m.name)).toEqual(fromFiles);
  });
});
