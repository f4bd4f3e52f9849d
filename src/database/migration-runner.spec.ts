import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { scratchDatabases } from '../../test/setup/scratch-databases.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { MIGRATIONS } from './migrations.js';
import { revertLastMigration, runPendingMigrations } from './migration-runner.js';

/** What `migration:run` and `migration:revert` (both CLIs) and the app's start-up report, on an empty database of their own. */
describe('runPendingMigrations and revertLastMigration', () => {
  const databases = scratchDatabases('hemoday_migration_runner');
  let dataSource: DataSource;
  beforeAll(async () => {
    await databases.open();
    dataSource = await new DataSource(buildDataSourceOptions(await databases.create(), { poolSize: 1 })).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await databases.dropAll();
  });

  // Found by mutation testing: nothing ran a revert on a database without the migrations table, where
  // reading it would fail the command ('relation "migrations" does not exist') instead of saying so.
  it('a revert before any migration says there is nothing to revert; a run applies every migration, then none; a revert undoes the last one only', async () => {
    const names = MIGRATIONS.map((m) => new m().name);
    expect(await revertLastMigration(dataSource)).toBe('No migration has been applied; nothing to revert.');
    expect(await runPendingMigrations(dataSource)).toBe(`Applied: ${names.join(', ')}`);
    expect(await runPendingMigrations(dataSource)).toBe('Database schema is up to date.');
    expect(await revertLastMigration(dataSource)).toBe(`Reverted: ${names.at(-1)}`);
    expect(await runPendingMigrations(dataSource)).toBe(`Applied: ${names.at(-1)}`);
  });
});
