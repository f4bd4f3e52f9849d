/**
 * The database restarts or drops the app's connections (a restart, a fail-over,
 * pg_terminate_backend): once it is back, the API, sync and "sync now" events work again by themselves.
 */
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { connectionName } from '../../src/database/connection-name.js';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { changesOf, newTransfusion, push } from '../factories/sync.factory.js';
import { capturingLogger } from '../setup/captured-logs.js';
import { expectEnded, openEvents } from '../setup/event-stream.js';
import { freePort, removeDir, scratchDir, stopUnderTheApp } from '../setup/service-process.js';
import { LISTENER_CHECK } from '../../src/modules/sync/sync-events.service.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun } from '../setup/test-runs.js';

// On an embedded server of its own (it stops, restarts and freezes it), never the suite's database:
// a DATABASE_URL run would repeat it exactly (test/setup/test-runs.ts).
describeOnEmbeddedRun('the app after the database restarts or drops its connections', () => {
  // Made in beforeAll: a skipped describe (the DATABASE_URL run) still runs its body, never its afterAll.
  let dir: string;
  let server: EmbeddedPostgres;
  let t: TestApp;
  let url: string;
  let port: number;
  const { logger, logged } = capturingLogger();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    dir = scratchDir('hemoday-recovery-');
    process.on('unhandledRejection', onUnhandled);
    port = await freePort();
    server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port, database: 'recovery' });
    url = await server.start();
    // A silent listener is noticed within 5 s instead of 25 (still long enough for a loaded CI machine to answer a SELECT 1).
    Object.assign(LISTENER_CHECK, { everyMs: 2_000, answerWithinMs: 3_000 });
    t = await createTestApp({ DATABASE_URL: url });
    t.app.useLogger(logger);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await t?.close();
    await server?.stop();
    if (dir) removeDir(dir);
  });

  /** Pushes one new transfusion of `owner`'s family; the version it was given. */
  async function pushTransfusion(owner: { token: string; family: { id: string } }): Promise<number> {
    const pushed = await push(t, { token: owner.token, familyId: owner.family.id }, 0, changesOf('transfusions', { created: [newTransfusion()] })).expect(200);
    return pushed.body.timestamp;
  }

  async function expectWorking(owner: { token: string; family: { id: string } }) {
    await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    const stream = await openEvents(t, owner.token);
    try {
      expect(stream.response.status).toBe(200);
      await stream.waitFor((e) => e.type === 'sync');
      const version = await pushTransfusion(owner);
      await stream.waitFor((e) => e.type === 'sync' && e.data.version === version);
      await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
    } finally {
      await stream.close();
    }
  }

  it('after every session of the app is terminated', async () => {
    const owner = await registerFamily(t);
    const open = await openEvents(t, owner.token);
    await open.waitFor((e) => e.type === 'sync');
    const admin = new DataSource({ type: 'postgres', url });
    await admin.initialize();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    } finally {
      await admin.destroy();
    }
    await expectEnded(open, 'its listener was terminated');
    await expectWorking(owner);
    expect(unhandled).toEqual([]);
  });

  it('ends the streams of a listening connection that went silent (no answer, no close: a fail-over or a dropped idle flow), and listens again', async () => {
    const owner = await registerFamily(t);
    const open = await openEvents(t, owner.token);
    await open.waitFor((e) => e.type === 'sync');
    const admin = new DataSource({ type: 'postgres', url });
    await admin.initialize();
    // The listener's backend stopped: its socket stays open, nothing comes back, as when the
    // database's host vanished without closing its connections.
    const [{ pid }] = await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [connectionName('sync-events')]);
    process.kill(pid, 'SIGSTOP');
    try {
      const version = await pushTransfusion(owner);
      await expectEnded(open, 'its listener stopped answering', 80_000);
      expect(open.events.some((e) => e.type === 'sync' && e.data.version === version)).toBe(false);
      // The reconnection's first event is the current version (the missed write's), and it hears the next write.
      const again = await openEvents(t, owner.token);
      try {
        await again.waitFor((e) => e.type === 'sync' && e.data.version === version);
        await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: 'after the silent loss' }).expect(200);
        await again.waitFor((e) => e.type === 'sync' && e.data.version! > version);
      } finally {
        await again.close();
      }
    } finally {
      process.kill(pid, 'SIGCONT');
      await admin.query(`SELECT pg_terminate_backend($1)`, [pid]);
      await admin.destroy();
      await open.close();
    }
  }, 120_000);

  it('while it is down: 503s; once restarted: REST, sync and events work again', async () => {
    const owner = await registerFamily(t);
    const open = await openEvents(t, owner.token);
    await open.waitFor((e) => e.type === 'sync');
    await stopUnderTheApp(server);
    await expectEnded(open, 'the server stopped');
    const api = await t.http().get('/api/v1/families/me').set(bearer(owner.token));
    expect([api.status, api.headers['retry-after']]).toEqual([503, '5']);
    const sse = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token) });
    const sseBody = await sse.text();
    expect([sse.status, sse.headers.get('retry-after'), sseBody]).toEqual([503, '5', expect.stringContaining('DATABASE_UNAVAILABLE')]);
    const push = await t.http().post('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).send({ changes: {} });
    expect([push.status, push.body.details?.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
    // The same cluster on the same port, started again (an EmbeddedPostgres starts once).
    server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port, database: 'recovery' });
    expect(await server.start()).toBe(url);
    await expectWorking(owner);
    expect(unhandled).toEqual([]);
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});
