import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';
import { TypeOrmLogger } from './typeorm-logger.js';

export function buildDataSourceOptions(url: string, overrides: Partial<{ poolSize: number }> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'all',
    // Never TypeORM's own run at initialize(): migrations run through migration-runner.ts, under its lock.
    migrationsRun: false,
    synchronize: false,
    // gen_random_uuid() is built in since PostgreSQL 13: no extension, no superuser needed.
    installExtensions: false,
    logger: new TypeOrmLogger(),
    // A request waits at most this long for a pooled connection (every one busy, or the database not
    // answering a new one), then is answered 503 DATABASE_UNAVAILABLE instead of hanging.
    extra: { max: overrides.poolSize ?? 20, connectionTimeoutMillis: 10_000 },
  };
}
