import type { DataSourceOptions } from 'typeorm';
import { deadlineClient } from './deadline-client.js';
import { ENTITIES } from './entities.js';
import { IsoDatesClient } from './iso-dates-client.js';
import { MIGRATIONS } from './migrations.js';
import { TypeOrmLogger } from './typeorm-logger.js';

export interface DataSourceOverrides {
  poolSize: number;
  /** What pg_stat_activity shows for these connections (default `hemoday`). */
  applicationName: string;
  /**
   * The app's limits (DB_STATEMENT_TIMEOUT_SECONDS; 0 = none): PostgreSQL cancels a statement that
   * runs longer, and ends a session left idle inside a transaction that long (its locks with it);
   * a connection whose statement got no answer at all a few seconds later is closed (deadline-client.ts).
   * Unset for migrations and the CLI: a schema change or an admin command may run long.
   */
  statementTimeoutSeconds: number;
  /** DB_PREPARED_STATEMENTS: whether runBatch may keep statements prepared on a connection (default true). */
  preparedStatements: boolean;
}

export function buildDataSourceOptions(url: string, overrides: Partial<DataSourceOverrides> = {}): DataSourceOptions {
  const logger = new TypeOrmLogger();
  return {
    type: 'postgres',
    url,
    applicationName: overrides.applicationName ?? 'hemoday',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'all',
    // Never TypeORM's own run at initialize(): migrations run through migration-runner.ts, under its lock.
    migrationsRun: false,
    synchronize: false,
    // gen_random_uuid() is built in since PostgreSQL 13: no extension, no superuser needed.
    installExtensions: false,
    logger,
    poolErrorHandler: (error: unknown) => logger.poolError(error),
    extra: {
      max: overrides.poolSize ?? 20,
      // A request waits at most this long for a pooled connection (every one busy, or the database not
      // answering a new one), then is answered 503 DATABASE_UNAVAILABLE instead of hanging.
      connectionTimeoutMillis: 10_000,
      // Dates in ISO form, the one node-postgres parses, whatever the server's DateStyle (iso-dates-client.ts).
      Client: IsoDatesClient,
      ...statementLimits(overrides.statementTimeoutSeconds),
      // Not node-postgres's (it ignores it): read by runBatch (statement-batch.ts) from these options.
      preparedStatements: overrides.preparedStatements ?? true,
    },
  };
}

function statementLimits(seconds: number | undefined) {
  if (!seconds) return {};
  const ms = seconds * 1000;
  // Sent in the start-up packet: every connection of the pool has them from its first statement.
  return { statement_timeout: ms, idle_in_transaction_session_timeout: ms, Client: deadlineClient(ms) };
}
