import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { until } from '../../test/setup/wait.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { DEADLINE_MARGIN } from './deadline-client.js';

/**
 * The deadline of a statement (deadline-client.ts) is the statement timeout plus the margin: only a
 * statement that got no answer past both loses its connection. The database-timeouts e2e spec shows
 * a frozen database's connections given up; this one shows a slow answer is not.
 */
describe('deadlineClient', () => {
  const url = process.env.TEST_DATABASE_URL!;
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
  });

  // Found by mutation testing: a deadline of the margin alone (5 s) would have cut every statement of the
  // app that waits longer (a push queued behind another on its family's lock) with "Connection terminated",
  // well within DB_STATEMENT_TIMEOUT_SECONDS (60 s), and no test said otherwise.
  it('a statement answered past the margin but within the statement timeout is answered, on the same connection', async () => {
    const limited = await new DataSource(buildDataSourceOptions(url, { poolSize: 1, statementTimeoutSeconds: 60 })).initialize();
    const margin = DEADLINE_MARGIN.ms;
    DEADLINE_MARGIN.ms = 0; // any wait at all is past it
    const key = Math.floor(Math.random() * 2 ** 31);
    await admin.query('SELECT pg_advisory_lock($1)', [key]);
    let locked = true;
    const runner = limited.createQueryRunner();
    try {
      const [{ pid }] = await runner.query('SELECT pg_backend_pid() AS pid');
      const answer = runner.query('SELECT pg_advisory_xact_lock($1)', [key]).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      const waiting = async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'advisory'`, [pid])).rowCount === 1;
      await until(waiting, 'the statement to wait for the lock');
      await admin.query('SELECT pg_advisory_unlock($1)', [key]);
      locked = false;
      expect(await answer).toBe('answered');
      expect(await runner.query('SELECT pg_backend_pid() AS pid')).toEqual([{ pid }]);
    } finally {
      DEADLINE_MARGIN.ms = margin;
      if (locked) await admin.query('SELECT pg_advisory_unlock($1)', [key]);
      await runner.release();
      await limited.destroy();
    }
  });
});
