/**
 * DB_STATEMENT_TIMEOUT_SECONDS: a database that is slow to give a lock, a writer that stalls inside
 * its transaction, or a database that stops answering altogether never leaves a request, a pool
 * slot or a family's writes waiting for ever.
 */
import { randomUUID } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { connectionName } from '../../src/database/connection-name.js';
import { DEADLINE_MARGIN } from '../../src/database/deadline-client.js';
import { SyncRepository } from '../../src/modules/sync/sync.repository.js';
import { bearer, registerFamily, type RegisteredUser } from '../factories/auth.factory.js';
import { type TestApp, useScratchDatabaseApps } from '../setup/test-app.js';
import { until } from '../setup/wait.js';

describe('database statement limits (DB_STATEMENT_TIMEOUT_SECONDS=1)', () => {
  let t: TestApp;
  let admin: DataSource;
  // Declared first, so it runs before the scratch database is dropped.
  afterAll(async () => {
    await admin?.destroy();
  });
  // On a database of its own: these tests lock the families table (LOCK TABLE) and freeze the app's
  // connections. On the run's shared database, the other jest worker's requests queued behind that
  // lock, and a test of theirs holding a family row while it waited for such a request closed a
  // circle through two processes that only the default 60 s statement timeout broke (a families e2e
  // test and a CLI test timed out in a CI run).
  const scratch = useScratchDatabaseApps('hemoday_timeouts');
  beforeAll(async () => {
    const url = await scratch.database();
    // Two connections: a lost one must be replaced, not leave the pool short for good.
    t = await scratch.app({ DATABASE_URL: url, DB_STATEMENT_TIMEOUT_SECONDS: '1', DB_POOL_SIZE: '2' });
    admin = await new DataSource({ type: 'postgres', url }).initialize();
  });

  function push(owner: RegisteredUser) {
    const now = Date.now();
    const record = { id: randomUUID(), family_id: owner.family.id, date: now, volume_ml: 250, created_at: now, updated_at: now };
    return t
      .http()
      .post('/api/v1/sync?last_pulled_at=0')
      .set(bearer(owner.token))
      .send({ changes: { transfusions: { created: [record], updated: [], deleted: [] } } });
  }

  /** A transaction on `dataSource` holding `owner`'s family row, as every writer of the family takes it. */
  async function holdFamilyLock(dataSource: DataSource, owner: RegisteredUser): Promise<QueryRunner> {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query(`SELECT 1 FROM families WHERE id = $1 FOR UPDATE`, [owner.family.id]);
    return runner;
  }

  it('a push waiting on a family row that a stalled transaction holds is answered 503 DATABASE_UNAVAILABLE with Retry-After, and goes through once the row is free', async () => {
    const owner = await registerFamily(t);
    const holder = await holdFamilyLock(admin, owner);
    try {
      const refused = await push(owner);
      expect([refused.status, refused.body.details?.code, refused.headers['retry-after']]).toEqual([503, 'DATABASE_UNAVAILABLE', '5']);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    await push(owner).expect(200);
  });

  it("an app connection left idle inside its transaction (an instance that stalled mid-write) is ended by PostgreSQL, and its lock with it", async () => {
    const owner = await registerFamily(t);
    const stalled = await holdFamilyLock(t.app.get(DataSource), owner);
    const [{ pid }] = await stalled.query(`SELECT pg_backend_pid() AS pid`);
    try {
      // Without the limit this never ends: the session stays "idle in transaction" for good.
      await until(async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid])).length === 0, 'PostgreSQL to end the idle session');
      await push(owner).expect(200);
    } finally {
      await stalled.release();
    }
  });

  it('a database that stops answering (no error, no close) gets 503 DATABASE_UNAVAILABLE, not a request hanging for ever; the pool then connects anew', async () => {
    const owner = await registerFamily(t);
    await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    // Every backend of the app's pool stops: its sockets stay open and nothing comes back, as when
    // the database's host froze or was cut off. (Idle ones are closed by the pool after 10 s; this is sooner.)
    const stopped: number[] = (
      await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [connectionName('api')])
    ).map((row: { pid: number }) => row.pid);
    expect(stopped.length).toBeGreaterThan(0);
    // Each frozen connection is given up 1 s + 2 s after its statement instead of 1 s + 5 s: still
    // seconds past the limit, where PostgreSQL's own cancellation would have arrived on a loaded machine.
    const margin = DEADLINE_MARGIN.ms;
    DEADLINE_MARGIN.ms = 2_000;
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    try {
      const statuses: Array<[number, string | undefined]> = [];
      // Each stopped connection costs one request its answer (after the limit and the margin); then the pool connects anew.
      for (let attempt = 0; attempt <= stopped.length; attempt++) {
        const res = await t.http().get('/api/v1/families/me').set(bearer(owner.token));
        statuses.push([res.status, res.body.details?.code]);
        if (res.status === 200) break;
      }
      expect(statuses[0]).toEqual([503, 'DATABASE_UNAVAILABLE']);
      expect(statuses.at(-1)).toEqual([200, undefined]);
      expect(statuses.slice(1, -1).every(([status, code]) => status === 503 && code === 'DATABASE_UNAVAILABLE')).toBe(true);
      await push(owner).expect(200);
    } finally {
      DEADLINE_MARGIN.ms = margin;
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
      await admin.query(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, [stopped]);
    }
  }, 60_000);

  it('a "sync now" stream whose first read (the family\'s version, the membership) waits past the limit is refused 503 DATABASE_UNAVAILABLE with Retry-After, not answered 200 and then `event: error`', async () => {
    const owner = await registerFamily(t);
    // The guards read users and refresh_tokens; only the stream's own statement reads families.
    const holder = admin.createQueryRunner();
    await holder.startTransaction();
    await holder.query('LOCK TABLE families IN ACCESS EXCLUSIVE MODE');
    try {
      const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token), signal: AbortSignal.timeout(20_000) });
      expect([sse.status, sse.headers.get('retry-after'), await sse.text()]).toEqual([503, '5', expect.stringContaining('DATABASE_UNAVAILABLE')]);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }
    const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token), signal: AbortSignal.timeout(20_000) });
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
  });

  it('a "sync now" stream whose own first read waits past the limit after the guard\'s answered ends without an `event: error` (the device reconnects and is answered 503 while it lasts)', async () => {
    const owner = await registerFamily(t);
    const repository = t.app.get(SyncRepository);
    const streamState = repository.streamState;
    const holder = admin.createQueryRunner();
    await holder.startTransaction();
    let reads = 0;
    // SyncListeningGuard's read answers; the lock is taken before the stream's own, once the headers may be out.
    repository.streamState = async (...args: Parameters<typeof streamState>) => {
      if (++reads === 2) {
        repository.streamState = streamState;
        await holder.query('LOCK TABLE families IN ACCESS EXCLUSIVE MODE');
      }
      return streamState.apply(repository, args);
    };
    try {
      const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token), signal: AbortSignal.timeout(20_000) });
      expect(sse.status).toBe(200);
      expect(await sse.text()).not.toContain('event: error');
    } finally {
      repository.streamState = streamState;
      await holder.rollbackTransaction();
      await holder.release();
    }
  });

  it('every connection of the app\'s pool carries them from its start', async () => {
    const [{ statement_timeout }] = await t.app.get(DataSource).query(`SHOW statement_timeout`);
    const [{ idle_in_transaction_session_timeout }] = await t.app.get(DataSource).query(`SHOW idle_in_transaction_session_timeout`);
    expect([statement_timeout, idle_in_transaction_session_timeout]).toEqual(['1s', '1s']);
  });
});
