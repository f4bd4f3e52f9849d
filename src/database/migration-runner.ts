import type { DataSource } from 'typeorm';

/**
 * The migration steps shared by `npm run migration:*` (migration-cli.ts) and
 * the admin CLI (`migration:run`, `migration:revert`): one place decides how
 * migrations run (all in one transaction) and what is reported.
 */
export async function runPendingMigrations(dataSource: DataSource): Promise<string> {
  const applied = await dataSource.runMigrations({ transaction: 'all' });
  return applied.length ? `Applied: ${applied.map((m) => m.name).join(', ')}` : 'Database schema is up to date.';
}

export async function revertLastMigration(dataSource: DataSource): Promise<string> {
  const [last] = await dataSource
    .query(`SELECT name FROM ${dataSource.driver.escape(migrationsTable(dataSource))} ORDER BY id DESC LIMIT 1`)
    .catch(() => [] as Array<{ name: string }>);
  if (!last) return 'No migration has been applied; nothing to revert.';
  await dataSource.undoLastMigration({ transaction: 'all' });
  return `Reverted: ${last.name}`;
}

function migrationsTable(dataSource: DataSource): string {
  return (dataSource.options as { migrationsTableName?: string }).migrationsTableName ?? 'migrations';
}
