/**
 * The TypeORM data source used by the migration CLI (`npm run migration:run`,
 * `migration:revert`, `migration:generate`). Same entities, migrations and
 * database resolution as the app: DATABASE_URL, or the embedded PostgreSQL.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from './src/config/configuration.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';
import { resolveDatabaseUrl } from './src/database/database-url.js';

export async function createCliDataSource(): Promise<DataSource> {
  const url = await resolveDatabaseUrl(databaseConfig());
  return new DataSource(buildDataSourceOptions(url, { poolSize: 2 }));
}
