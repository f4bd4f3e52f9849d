import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';

/**
 * For a migration's test: before each test, a schema of its own on the run's real PostgreSQL (a
 * name starting with `prefix`), a query runner whose search_path is that schema, and the tables
 * `create` makes there, as the earlier migrations left them; `use` receives the runner and the
 * schema's name. After each test the schema is dropped.
 */
export function useScratchSchema(prefix: string, create: (q: QueryRunner) => Promise<void>, use: (q: QueryRunner, schema: string) => void): void {
  let dataSource: DataSource;
  let q: QueryRunner;
  let schema: string;

  beforeAll(async () => {
    dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1 }));
    await dataSource.initialize();
  });
  afterAll(() => dataSource?.destroy());

  beforeEach(async () => {
    schema = `${prefix}_${randomBytes(4).toString('hex')}`;
    q = dataSource.createQueryRunner();
    await q.query(`CREATE SCHEMA ${schema}`);
    await q.query(`SET search_path TO ${schema}`);
    await create(q);
    use(q, schema);
  });
  afterEach(async () => {
    await q.query(`DROP SCHEMA ${schema} CASCADE`);
    await q.query('RESET search_path');
    await q.release();
  });
}
