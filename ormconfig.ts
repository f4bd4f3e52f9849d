/**
 * The TypeORM data source used by the migration CLI (`npm run migration:run`,
 * `migration:revert`, `migration:show`, `migration:generate`). Same
 * configuration as the app: `.env`, then the environment (validated), then
 * DATABASE_URL or the embedded PostgreSQL; same entities and migrations.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from './src/config/configuration.js';
import { loadDotEnv } from './src/config/dotenv.js';
import { validateEnv } from './src/config/env.validation.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';
import { resolveDatabaseUrl } from './src/database/database-url.js';

export async function createCliDataSource(options: { attachToRunning?: boolean } = {}): Promise<DataSource> {
  loadDotEnv();
  validateEnv(process.env); // one line per bad variable, before a database is started
  const url = await resolveDatabaseUrl(databaseConfig(), options);
  return new DataSource(buildDataSourceOptions(url, { poolSize: 2 }));
}
