import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { assertDatabaseRequirements } from './database-requirements.js';

/**
 * The migration steps shared by the app's start-up (DatabaseModule), `npm run migration:*`
 * (migration-cli.ts) and the admin CLI (`migration:run`, `migration:revert`): one place decides how
 * migrations run (all in one transaction) and what is reported. A database that is not UTF8, or
 * whose session defaults would round numbers or fail concurrent writes, is refused first
 * (database-requirements.ts): the app, and every admin command, would fail on it.
 */
export async function runPendingMigrations(dataSource: DataSource): Promise<string> {
  await assertDatabaseRequirements(dataSource);
  const applied = await underMigrationLock(dataSource, (queryRunner) => {
    const executor = new MigrationExecutor(dataSource, queryRunner);
    executor.transaction = 'all';
    return executor.executePendingMigrations();
  });
  return applied.length ? `Applied: ${applied.map((m) => m.name).join(', ')}` : 'Database schema is up to date.';
}

export async function revertLastMigration(dataSource: DataSource): Promise<string> {
  return underMigrationLock(dataSource, async (queryRunner) => {
    const table = dataSource.driver.escape(migrationsTable(dataSource));
    // Checked rather than caught: a failed statement would abort the transaction the lock is held in.
    const [{ present }] = await queryRunner.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
    const [last] = present ? await queryRunner.query(`SELECT name FROM ${table} ORDER BY id DESC LIMIT 1`) : [];
    if (!last) return 'No migration has been applied; nothing to revert.';
    const executor = new MigrationExecutor(dataSource, queryRunner);
    executor.transaction = 'all';
    await executor.undoLastMigration();
    return `Reverted: ${last.name}`;
  });
}

/**
 * TypeORM reads the applied migrations, then runs the pending ones, with nothing held in between:
 * two app instances starting together on one database (or a `migration:run` beside a starting app)
 * both ran the same migrations, and the later one failed ("relation … already exists") and did not
 * start. Every run and revert holds one advisory lock, taken in the transaction the migrations run
 * in (released by its commit or rollback, or when the connection dies): the second waits, then
 * finds nothing pending.
 */
async function underMigrationLock<T>(dataSource: DataSource, work: (queryRunner: QueryRunner) => Promise<T>): Promise<T> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    await queryRunner.startTransaction();
    await queryRunner.query(`SELECT pg_advisory_xact_lock(hashtextextended('hemoday-migrations', 0))`);
    const result = await work(queryRunner);
    await queryRunner.commitTransaction();
    return result;
  } catch (error) {
    if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await queryRunner.release();
  }
}

function migrationsTable(dataSource: DataSource): string {
  return (dataSource.options as { migrationsTableName?: string }).migrationsTableName ?? 'migrations';
}
