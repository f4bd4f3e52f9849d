import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { until } from '../../test/setup/wait.js';
import { RequestAbandonedError, withAbortableRunner } from './abortable-query-runner.js';
import { buildDataSourceOptions } from './data-source-options.js';

/**
 * The control flow around the connection, on the run's real PostgreSQL with a pool of one
 * connection: while another runner holds it, connect() waits, as it does when the pool is full.
 * (The cancel of a running statement is in the full-pulls e2e spec.)
 */
describe('withAbortableRunner', () => {
  let dataSource: DataSource;
  beforeAll(async () => {
    dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1 }));
    await dataSource.initialize();
  });
  afterAll(() => dataSource?.destroy());

  const pool = () => (dataSource.driver as unknown as { master: { waitingCount: number } }).master;
  const pidOf = async (run: (sql: string) => Promise<Array<{ pid: number }>>) => (await run('SELECT pg_backend_pid() AS pid'))[0].pid;
  /** The backend of the pool's one connection, as the next query gets it. */
  const pooledPid = () => pidOf((sql) => dataSource.query(sql));

  /** Takes the pool's one connection: a runner asking for one now waits. */
  async function fullPool() {
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    return { holder, pid: await pidOf((sql) => holder.query(sql)) };
  }

  it('a client that hung up while the pull waited for a connection: nothing runs, the connection is closed (found by review)', async () => {
    const { holder, pid } = await fullPool();
    const hangUp = new AbortController();
    let ran = false;
    const pending = withAbortableRunner(dataSource, hangUp.signal, async () => void (ran = true));
    await until(() => pool().waitingCount === 1, 'the runner to wait for a connection');
    hangUp.abort();
    await holder.release(); // the connection goes to the waiting runner
    await expect(pending).rejects.toBeInstanceOf(RequestAbandonedError);
    expect(ran).toBe(false);
    // Closed, not returned: the next query gets a new backend.
    expect(await pooledPid()).not.toBe(pid);
  });

  it('a client still there: the work runs and the connection goes back to the pool', async () => {
    let pid = 0;
    const result = await withAbortableRunner(dataSource, new AbortController().signal, async (runner) => {
      pid = await pidOf((sql) => runner.query(sql));
      return 'body';
    });
    expect(result).toBe('body');
    expect(await pooledPid()).toBe(pid);
  });

  it('a client already gone never takes a connection', async () => {
    const { holder } = await fullPool();
    try {
      const hangUp = new AbortController();
      hangUp.abort();
      let ran = false;
      // The pool is full: asking it for a connection would wait.
      await expect(withAbortableRunner(dataSource, hangUp.signal, async () => void (ran = true))).rejects.toBeInstanceOf(RequestAbandonedError);
      expect(ran).toBe(false);
      expect(pool().waitingCount).toBe(0);
    } finally {
      await holder.release();
    }
  });
});
