import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';

/** A schema of its own on the run's real PostgreSQL and the one connection that uses it. */
export interface ScratchSchema {
  /** A query runner whose search_path is the schema. */
  q: QueryRunner;
  schema: string;
  /** Drops the schema and hands the connection back. */
  drop(): Promise<void>;
}

/** A data source of one connection on the run's real PostgreSQL, for scratch schemas. */
export async function scratchDataSource(): Promise<DataSource> {
  const dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1 }));
  await dataSource.initialize();
  return dataSource;
}

/** Creates a schema named `prefix` and a random suffix, and a query runner whose search_path is it. */
export async function openScratchSchema(dataSource: DataSource, prefix: string): Promise<ScratchSchema> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const q = dataSource.createQueryRunner();
  await q.query(`CREATE SCHEMA ${schema}`);
  await q.query(`SET search_path TO ${schema}`);
  return {
    q,
    schema,
    async drop() {
      await q.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await q.query('RESET search_path');
      await q.release();
    },
  };
}

/**
 * For a migration's test: before each test, a schema of its own on the run's real PostgreSQL (a
 * name starting with `prefix`), a query runner whose search_path is that schema, and the tables
 * `create` makes there, as the earlier migrations left them; `use` receives the runner and the
 * schema's name. After each test the schema is dropped.
 */
export function useScratchSchema(prefix: string, create: (q: QueryRunner) => Promise<void>, use: (q: QueryRunner, schema: string) => void): void {
  let dataSource: DataSource;
  let scratch: ScratchSchema;

  beforeAll(async () => {
    dataSource = await scratchDataSource();
  });
  afterAll(() => dataSource?.destroy());

  beforeEach(async () => {
    scratch = await openScratchSchema(dataSource, prefix);
    await create(scratch.q);
    use(scratch.q, scratch.schema);
  });
  afterEach(() => scratch.drop());
}

/**
 * The users table's columns that the email migrations read and write, as the initial schema made
 * them, with `emailIndex` (the unique index on email of the migration's time), for their tests.
 */
export async function createUsersForEmailMigration(q: QueryRunner, emailIndex: string): Promise<void> {
  await q.query(`
    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email varchar(320) NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`);
  await q.query(emailIndex);
}
