import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource, QueryFailedError, type QueryRunner } from 'typeorm';
import { CliDatabaseModule } from '../cli/cli-database.module.js';
import { databaseConfig } from '../config/configuration.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { DEADLINE_MARGIN } from './deadline-client.js';
import { prepared, runBatch } from './statement-batch.js';

/** Real PostgreSQL (the run's test database): what a batch does is the server's protocol rules. */
describe('runBatch', () => {
  let dataSource: DataSource;
  let admin: DataSource;
  const runners: QueryRunner[] = [];

  /** A connection of its own (a batch needs one), released after the test. */
  async function connection(on: DataSource = dataSource): Promise<QueryRunner> {
    const runner = on.createQueryRunner();
    await runner.connect();
    runners.push(runner);
    return runner;
  }
  /** How this connection holds `text` prepared (pooled connections are reused: other tests' statements are left out). */
  const preparedOn = async (runner: QueryRunner, text: string) =>
    (await runner.query(`SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements WHERE statement = $1`, [text])) as Array<{
      statement: string;
      runs: string;
    }>;
  const failureOf = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueryFailedError);
    const failed = error as QueryFailedError & { driverError: { code: string } };
    return { code: failed.driverError.code, query: failed.query };
  };

  beforeAll(async () => {
    dataSource = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 4 })).initialize();
    admin = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1 })).initialize();
  });
  afterEach(async () => {
    for (const runner of runners.splice(0)) await runner.release();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await admin?.destroy();
  });

  it('sends the statements in one query of the connection and answers each one\'s rows, in order', async () => {
    const runner = await connection();
    const client = (runner as unknown as { databaseConnection: { query: (...args: unknown[]) => unknown } }).databaseConnection;
    const query = jest.spyOn(client, 'query');
    const results = await runBatch(runner.manager, [
      { text: 'SELECT $1::int + 1 AS n', values: [1] },
      { text: 'SELECT 1 WHERE false' },
      { text: 'SELECT $1::uuid[] AS ids, $2::text AS nothing', values: [['00000000-0000-4000-8000-000000000001'], null] },
      { text: 'SET LOCAL statement_timeout = 1000' },
    ]);
    expect(query).toHaveBeenCalledTimes(1);
    expect(results).toEqual([[{ n: 2 }], [], [{ ids: ['00000000-0000-4000-8000-000000000001'], nothing: null }], []]);
  });

  it('stops at the first failing statement: it rejects with a QueryFailedError naming that statement, and the ones after it never run', async () => {
    const runner = await connection();
    await runner.query('CREATE TEMP TABLE batch_rows (n int)');
    const failed = await failureOf(
      runBatch(runner.manager, [
        { text: 'INSERT INTO batch_rows VALUES (1)' },
        { text: 'SELECT 1 / $1::int', values: [0] },
        { text: 'INSERT INTO batch_rows VALUES (2)' },
      ]),
    );
    expect(failed).toEqual({ code: '22012', query: 'SELECT 1 / $1::int' });
    // Outside a transaction the statements before the Sync are one implicit transaction: the first insert went with it.
    expect(await runner.query('SELECT n FROM batch_rows')).toEqual([]);
    await runBatch(runner.manager, [{ text: 'INSERT INTO batch_rows VALUES (3)' }, { text: 'INSERT INTO batch_rows VALUES (4)' }]);
    expect(await runner.query('SELECT n FROM batch_rows ORDER BY n')).toEqual([{ n: 3 }, { n: 4 }]);
  });

  it('in a transaction, a failed batch leaves it failed until the rollback; BEGIN and COMMIT may be in a batch', async () => {
    const runner = await connection();
    await runner.query('CREATE TEMP TABLE batch_tx (n int)');
    await failureOf(runBatch(runner.manager, [{ text: 'BEGIN' }, { text: 'INSERT INTO batch_tx VALUES (1)' }, { text: 'SELECT 1 / 0' }]));
    expect(await failureOf(runner.query('SELECT 1'))).toEqual({ code: '25P02', query: 'SELECT 1' });
    await runner.query('ROLLBACK');
    const [, , [row]] = await runBatch(runner.manager, [
      { text: 'BEGIN ISOLATION LEVEL REPEATABLE READ' },
      { text: 'INSERT INTO batch_tx VALUES (2)' },
      { text: "SELECT current_setting('transaction_isolation') AS isolation" },
      { text: 'COMMIT' },
      { text: 'INSERT INTO batch_tx VALUES (3)' },
    ]);
    expect(row).toEqual({ isolation: 'repeatable read' });
    expect(await runner.query('SELECT n FROM batch_tx ORDER BY n')).toEqual([{ n: 2 }, { n: 3 }]);
  });

  it('a prepared statement is parsed once per connection, then only bound and executed', async () => {
    const runner = await connection();
    const text = 'SELECT $1::int * 2 AS twice';
    for (const n of [1, 2, 3]) expect(await runBatch(runner.manager, [prepared(text, [n])])).toEqual([[{ twice: n * 2 }]]);
    // Another connection parses it for itself.
    const other = await connection();
    expect(await runBatch(other.manager, [prepared(text, [5])])).toEqual([[{ twice: 10 }]]);
    expect(await preparedOn(runner, text)).toEqual([{ statement: text, runs: '3' }]);
    expect(await preparedOn(other, text)).toEqual([{ statement: text, runs: '1' }]);
  });

  it('a prepared statement that a failed batch left undone or half done (parsed, not run) is prepared again on its next use', async () => {
    const runner = await connection();
    const text = 'SELECT 10 / $1::int AS q';
    // Never parsed: the batch stopped before it.
    await failureOf(runBatch(runner.manager, [{ text: 'SELECT 1 / 0' }, prepared(text, [2])]));
    expect(await runBatch(runner.manager, [prepared(text, [2])])).toEqual([[{ q: 5 }]]);
    // Parsed, then its execution failed: parsed again over it, not "already exists".
    const other = await connection();
    expect(await failureOf(runBatch(other.manager, [prepared(text, [0])]))).toEqual({ code: '22012', query: text });
    expect(await runBatch(other.manager, [prepared(text, [5])])).toEqual([[{ q: 2 }]]);
    expect(await preparedOn(other, text)).toEqual([{ statement: text, runs: '1' }]);
  });

  // Found by mutation testing: the statement a batch failed at was only ever one whose Parse had succeeded.
  // One whose Parse failed does not exist on the connection: taken for prepared, every later use of it
  // there failed ("prepared statement … does not exist") until the connection closed.
  it('a prepared statement whose parsing failed (its table locked past lock_timeout, as by a schema change) is parsed again on its next use', async () => {
    const table = `batch_locked_${process.pid}_${Date.now()}`;
    const text = `SELECT count(*)::int AS n FROM ${table}`;
    await admin.query(`CREATE TABLE ${table} (n int)`);
    const runner = await connection();
    const locker = admin.createQueryRunner();
    try {
      await runner.query(`SET lock_timeout = '50ms'`);
      await locker.startTransaction();
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      expect(await failureOf(runBatch(runner.manager, [prepared(text, [])]))).toEqual({ code: '55P03', query: text });
      await locker.rollbackTransaction();
      expect(await runBatch(runner.manager, [prepared(text, [])])).toEqual([[{ n: 0 }]]);
    } finally {
      await runner.query('RESET lock_timeout');
      if (locker.isTransactionActive) await locker.rollbackTransaction();
      await locker.release();
      await admin.query(`DROP TABLE ${table}`);
    }
  });

  it('with DB_PREPARED_STATEMENTS=false nothing is kept prepared', async () => {
    const unprepared = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1, preparedStatements: false })).initialize();
    try {
      const runner = await connection(unprepared);
      expect(await runBatch(runner.manager, [prepared('SELECT $1::int AS n', [7])])).toEqual([[{ n: 7 }]]);
      expect(await preparedOn(runner, 'SELECT $1::int AS n')).toEqual([]);
      await runner.release();
      runners.pop();
    } finally {
      await unprepared.destroy();
    }
  });

  // Found by review: the admin CLI built its DataSource with the default (kept prepared) whatever
  // DB_PREPARED_STATEMENTS said, so behind a pooler that cannot carry them (the setting's reason) every
  // command writing to a family (seed, user:delete, family:*) left named statements on the pooler's
  // server connections and failed on the next ("prepared statement … does not exist" / "already exists").
  it("with DB_PREPARED_STATEMENTS=false nothing is kept prepared on the admin CLI's connections either (CliDatabaseModule)", async () => {
    @Global()
    @Module({ providers: [{ provide: databaseConfig.KEY, useValue: { preparedStatements: false } }], exports: [databaseConfig.KEY] })
    class UnpreparedConfig {}
    const cli = await Test.createTestingModule({ imports: [UnpreparedConfig, CliDatabaseModule] }).compile();
    const cliDataSource = cli.get(DataSource);
    try {
      cliDataSource.setOptions({ url: process.env.TEST_DATABASE_URL! }); // as CliDatabaseService.connect() does
      await cliDataSource.initialize();
      const runner = await connection(cliDataSource);
      expect(await runBatch(runner.manager, [prepared('SELECT $1::int AS cli', [7])])).toEqual([[{ cli: 7 }]]);
      expect(await preparedOn(runner, 'SELECT $1::int AS cli')).toEqual([]);
      await runner.release();
      runners.pop();
    } finally {
      await cliDataSource.destroy().catch(() => undefined);
      await cli.close();
    }
  });

  it('a batch that gets no answer (the database froze) is given up like a single statement: its connection is closed', async () => {
    const limited = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1, statementTimeoutSeconds: 1 })).initialize();
    const margin = DEADLINE_MARGIN.ms;
    DEADLINE_MARGIN.ms = 200;
    let pid: number | undefined;
    try {
      const runner = limited.createQueryRunner();
      [{ pid }] = await runner.query('SELECT pg_backend_pid() AS pid');
      process.kill(pid!, 'SIGSTOP');
      const error = await runBatch(runner.manager, [{ text: 'SELECT 1' }, { text: 'SELECT 2' }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as QueryFailedError).message).toMatch(/^Connection terminated/);
      await runner.release();
    } finally {
      DEADLINE_MARGIN.ms = margin;
      if (pid) {
        process.kill(pid, 'SIGCONT');
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      }
      await limited.destroy();
    }
  });
});
