import type { DataSource } from 'typeorm';
import { RequestAbandonedError, withAbortableRunner } from './abortable-query-runner.js';

/**
 * The control flow around the connection (the cancel itself, against a real PostgreSQL, is in the
 * full-pulls e2e spec): a runner whose connect() waits, as it does when the pool is full.
 */
function waitingRunner() {
  const events: string[] = [];
  let grant!: () => void;
  const runner = {
    databaseConnection: { host: '127.0.0.1', port: 1, processID: null, secretKey: null },
    connect: () => new Promise<void>((resolve) => (grant = resolve)),
    release: async () => void events.push('returned to the pool'),
    releasePostgresConnection: async () => void events.push('connection closed'),
  };
  const dataSource = { createQueryRunner: () => runner } as unknown as DataSource;
  return { dataSource, events, grant: () => grant() };
}

describe('withAbortableRunner', () => {
  it('a client that hung up while the pull waited for a connection: nothing runs, the connection is closed (found by review)', async () => {
    const { dataSource, events, grant } = waitingRunner();
    const hangUp = new AbortController();
    const pending = withAbortableRunner(dataSource, hangUp.signal, async () => void events.push('work ran'));
    hangUp.abort();
    grant();
    await expect(pending).rejects.toBeInstanceOf(RequestAbandonedError);
    expect(events).toEqual(['connection closed']);
  });

  it('a client still there: the work runs and the connection goes back to the pool', async () => {
    const { dataSource, events, grant } = waitingRunner();
    const pending = withAbortableRunner(dataSource, new AbortController().signal, async () => (events.push('work ran'), 'body'));
    grant();
    await expect(pending).resolves.toBe('body');
    expect(events).toEqual(['work ran', 'returned to the pool']);
  });

  it('a client already gone never takes a connection', async () => {
    const { dataSource, events } = waitingRunner();
    const hangUp = new AbortController();
    hangUp.abort();
    await expect(withAbortableRunner(dataSource, hangUp.signal, async () => void events.push('work ran'))).rejects.toBeInstanceOf(RequestAbandonedError);
    expect(events).toEqual([]);
  });
});
