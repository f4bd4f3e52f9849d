/**
 * DATABASE_URL still names a server that was demoted to a hot standby (a fail-over the app was not
 * pointed away from): it answers reads and refuses every write with SQLSTATE 25006. Writes are
 * answered 503 DATABASE_UNAVAILABLE with Retry-After, as for the other states of a database not
 * taking work, reads go on, GET /health says the database is read-only.
 */
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { connectionName } from '../../src/database/connection-name.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { bearer, registerFamily, type RegisteredUser } from '../factories/auth.factory.js';
import { changesOf, newTransfusion, push } from '../factories/sync.factory.js';
import { capturingLogger } from '../setup/captured-logs.js';
import { freePort, removeDir, scratchDir, stopUnderTheApp } from '../setup/service-process.js';
import { SyncRepository } from '../../src/modules/sync/sync.repository.js';
import { cli, expectOneLineFailure } from '../setup/admin-cli.js';
import { queryOnce } from '../setup/scratch-databases.js';
import { createTestApp, type RunningApp, useScratchDatabaseApps, useTestApp, type TestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun } from '../setup/test-runs.js';

/** A first push of one new transfusion by `owner`. */
const pushTransfusion = (app: RunningApp, owner: RegisteredUser) =>
  push(app, { token: owner.token, familyId: owner.family.id }, 0, changesOf('transfusions', { created: [newTransfusion()] }));

// On an embedded server of its own (it restarts it as a standby), never the suite's database: a
// DATABASE_URL run would repeat it exactly (test/setup/test-runs.ts).
describeOnEmbeddedRun('the app on a database demoted to a hot standby (read-only)', () => {
  // Made in beforeAll: a skipped describe (the DATABASE_URL run) still runs its body, never its afterAll.
  let dir: string;
  let server: EmbeddedPostgres;
  let t: TestApp;
  let url: string;
  let port: number;
  let owner: RegisteredUser;
  const { logger, logged } = capturingLogger();

  beforeAll(async () => {
    dir = scratchDir('hemoday-standby-');
    port = await freePort();
    server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port, database: 'standby' });
    url = await server.start();
    t = await createTestApp({ DATABASE_URL: url });
    t.app.useLogger(logger);
    owner = await registerFamily(t);
    await pushTransfusion(t, owner).expect(200);
    // The same cluster, started again in standby mode (standby.signal, no primary to follow): what a
    // demoted primary is. The app's connections are cut by the stop and made again to the standby.
    await stopUnderTheApp(server);
    writeFileSync(join(server.dataDir, 'standby.signal'), '');
    server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port, database: 'standby' });
    expect(await server.start()).toBe(url);
    expect(await queryOne(url, 'SELECT pg_is_in_recovery() AS standby')).toEqual({ standby: true });
    logged.length = 0;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await server?.stop();
    if (dir) removeDir(dir);
  });

  it('a push, a sign-up and a REST write answer 503 DATABASE_UNAVAILABLE with Retry-After (not 500), logged as a warning; reads still answer', async () => {
    const pushed = await pushTransfusion(t, owner);
    expect([pushed.status, pushed.headers['retry-after'], pushed.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    const register = await t.http().post('/api/v1/auth/register').send({ email: `${randomUUID()}@example.com`, password: 'correct horse battery staple', name: 'Late' });
    expect([register.status, register.body.details?.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
    const patch = await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: 'on a standby' });
    expect([patch.status, patch.body.details?.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
    await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    // Without a device id a pull records nothing: it is all reads.
    const pull = await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
    expect(JSON.parse(pull.text).changes.transfusions.created).toHaveLength(1);
    // An incremental one too (its snapshot sets plan_cache_mode, which a standby allows).
    await t.http().get(`/api/v1/sync?last_pulled_at=${JSON.parse(pull.text).timestamp - 1}`).set(bearer(owner.token)).expect(200);
    // With one, it writes down the cursor it answered, which the standby refuses: retried later, not a 500.
    const recorded = await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).set('X-Device-Id', randomUUID());
    expect([recorded.status, recorded.body.details?.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    expect(logged.filter((l) => l.level === 'warn' && l.rest[0] === 'database unavailable; answered 503')).not.toHaveLength(0);
  });

  it('GET /health answers 503 "Database read-only" (it answered 200 "up"), the cause logged as a warning', async () => {
    const res = await t.http().get('/health').expect(503);
    expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'Database read-only' });
    const warning = logged.find((l) => l.level === 'warn' && l.rest.includes('HealthService'));
    // With the request id of the GET /health that found it (the captured lines record it).
    expect(warning).toEqual({ level: 'warn', message: { cause: expect.stringContaining('hot standby') }, rest: ['health check: database read-only', 'HealthService'], reqId: res.headers['x-request-id'] });
  });

  it('a "sync now" stream refused (a standby refuses LISTEN) leaves no connection behind', async () => {
    for (let i = 0; i < 3; i++) {
      const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token) });
      await sse.text();
    }
    // Each refused LISTEN left its connected client open before: one more connection per stream asked for, until max_connections.
    expect(await queryOne(url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${connectionName('sync-events')}'`)).toEqual({ n: 0 });
  });

  it('a "sync now" stream whose listener cannot LISTEN answers 503 DATABASE_UNAVAILABLE with Retry-After (it answered 200, then an error event, logged as an error)', async () => {
    logged.length = 0;
    const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token) });
    expect([sse.status, sse.headers.get('retry-after'), await sse.text()]).toEqual([503, '5', expect.stringContaining('DATABASE_UNAVAILABLE')]);
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });

  it('the CLI says the database is read-only and what to check, in one line', async () => {
    expectOneLineFailure(await cli(['seed', '--months', '1'], { DATABASE_URL: url }), /the database is read-only \(.*\): a hot standby, or default_transaction_read_only is on; check that DATABASE_URL names the primary/);
  });
});

describe('the app on a database set default_transaction_read_only', () => {
  const scratch = useScratchDatabaseApps('hemoday_read_only');

  it('a push answers 503 DATABASE_UNAVAILABLE with Retry-After; GET /health says the database is read-only', async () => {
    const url = await scratch.database();
    // Migrated by a first start; the second starts on the read-only database, as an instance restarted then would.
    const first = await createTestApp({ DATABASE_URL: url });
    const owner = await registerFamily(first);
    await first.close();
    await queryOnce(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET default_transaction_read_only = on`);
    const t = await scratch.app({ DATABASE_URL: url });
    const pushed = await pushTransfusion(t, owner);
    expect([pushed.status, pushed.headers['retry-after'], pushed.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    const health = await t.http().get('/health');
    expect([health.status, health.body.message]).toEqual([503, 'Database read-only']);
  });
});

describe('the app on a database that refuses a push: a full disk, conflicts it keeps resolving against it', () => {
  const scratch = useScratchDatabaseApps('hemoday_refusing');
  const { logger, logged } = capturingLogger();
  /** Every insert into `table` fails as the server itself raises `condition` (PL/pgSQL's name of a SQLSTATE). */
  const raiseOnInsert = (url: string, table: string, condition: string, message: string) =>
    queryOnce(
      url,
      `CREATE FUNCTION refuse_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION '${message.replace(/'/g, "''")}' USING ERRCODE = '${condition}'; END $$;
       CREATE TRIGGER refuse BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_${table}()`,
    );
  /** One database and app for both tests (each its own table's trigger). */
  let shared: Promise<{ url: string; t: TestApp }> | undefined;
  const refusing = () =>
    (shared ??= (async () => {
      const url = await scratch.database();
      const t = await scratch.app({ DATABASE_URL: url });
      t.app.useLogger(logger);
      return { url, t };
    })());

  it('a full disk: a push answers 503 DATABASE_UNAVAILABLE with Retry-After (it answered 500), nothing applied', async () => {
    const { url, t } = await refusing();
    const owner = await registerFamily(t);
    // What PostgreSQL raises when it cannot extend a table's file (ENOSPC: disk_full, 53100), raised by
    // the server itself where a full disk would stop the push: filling a real disk needs a mount.
    await raiseOnInsert(url, 'transfusions', 'disk_full', 'could not extend file "base/1/2": No space left on device');
    const pushed = await pushTransfusion(t, owner);
    expect([pushed.status, pushed.headers['retry-after'], pushed.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    const pulled = await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
    expect(JSON.parse(pulled.text).changes.transfusions.created).toEqual([]);
  });

  it('a push the database ends as a deadlock victim at every attempt: 503 DATABASE_UNAVAILABLE with Retry-After, a warning (it answered 500, logged as an unhandled error), nothing applied', async () => {
    const { url, t } = await refusing();
    const owner = await registerFamily(t);
    // What PostgreSQL raises in the transaction it ends to break a deadlock (40P01), raised by the server at
    // each of the push's attempts (FamilyVersionService runs a versioned write that ends so up to 3 times).
    await raiseOnInsert(url, 'reminders', 'deadlock_detected', 'deadlock detected');
    logged.length = 0;
    const reminder = { id: randomUUID(), family_id: owner.family.id, title: 'refill', remind_at: 1, frequency: 'daily', is_completed: false };
    const pushed = await push(t, { token: owner.token, familyId: owner.family.id }, 0, changesOf('reminders', { created: [reminder] }));
    expect([pushed.status, pushed.headers['retry-after'], pushed.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    expect(pushed.body.message).toBe('The database ended this request to resolve a conflict with another; try again shortly');
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    expect(logged.filter((l) => l.level === 'warn' && l.rest[0] === 'transaction ended by the database to resolve a conflict; answered 503')).toHaveLength(1);
    // Each of the three attempts was ended so; the first two were run again.
    expect(logged.filter((l) => l.level === 'warn' && /running it again/.test(String(l.rest[0])))).toHaveLength(2);
    const pulled = await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
    expect(JSON.parse(pulled.text).changes.reminders.created).toEqual([]);
  });
});

describe("a write inside the pull's own READ ONLY snapshot", () => {
  const t = useTestApp();

  it('is a bug, answered 500 and logged as one: not taken for a read-only database (503, retried for ever)', async () => {
    const owner = await registerFamily(t);
    const logged: unknown[] = [];
    t.app.useLogger({ log: () => undefined, warn: () => undefined, error: (...args: unknown[]) => logged.push(args) });
    const body = jest.spyOn(SyncRepository.prototype, 'pullBody').mockImplementationOnce(async (manager) => {
      await manager.query('UPDATE families SET notes = notes WHERE id = $1', [owner.family.id]);
      return '';
    });
    try {
      const pull = await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).set('X-Device-Id', randomUUID());
      expect([pull.status, pull.body.message]).toEqual([500, 'Internal server error']);
    } finally {
      body.mockRestore();
    }
    const errors = logged.map((args) => ((args as [{ err?: Error }])[0].err?.message));
    expect(errors).toEqual([expect.stringContaining("a statement of the pull's READ ONLY snapshot tried to write: cannot execute UPDATE in a read-only transaction")]);
    await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
  });
});

async function queryOne(url: string, sql: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0];
  } finally {
    await client.end();
  }
}
