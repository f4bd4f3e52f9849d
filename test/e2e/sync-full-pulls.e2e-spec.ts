/**
 * Large full pulls take turns (FullPullLimiter): PostgreSQL builds each whole answer in one backend,
 * so unbounded they could run it out of memory. Here one turn (SYNC_FULL_PULLS_MAX=1), waited for
 * at most 1 s, for families whose live rows take more than 4 KiB (SYNC_FULL_PULL_TURN_BYTES); a
 * full pull is held inside its turn by wrapping the repository's body query.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { DataSource } from 'typeorm';
import { FullPullLimiter } from '../../src/modules/sync/full-pull-limiter.js';
import { SyncRepository } from '../../src/modules/sync/sync.repository.js';
import { pull, push } from '../factories/sync.factory.js';
import { useTestApp } from '../setup/test-app.js';
import { holdNextCall, until } from '../setup/wait.js';
import { register } from '../sync-client/family.js';

describe('sync: full pulls take turns', () => {
  // Two new installations per user (NewInstallationLimiter): the tests below send X-Device-Id only where they say.
  const t = useTestApp({ SYNC_FULL_PULLS_MAX: '1', SYNC_FULL_PULL_WAIT_SECONDS: '1', SYNC_FULL_PULL_TURN_BYTES: '4096', SYNC_NEW_INSTALLATION_LIMIT: '2' });

  const transfusion = (notes = 'n') => ({ id: randomUUID(), date: 1, volume_ml: 250, notes, created_at: 1, updated_at: 1 });
  /** A new family whose live rows take more than the 4 KiB threshold. */
  async function largeFamily() {
    const m = await register(t);
    const c0 = (await pull(t, m, null).expect(200)).body.timestamp;
    const records = Array.from({ length: 8 }, () => transfusion('x'.repeat(1000)));
    await push(t, m, c0, { transfusions: { created: records, updated: [], deleted: [] } }).expect(200);
    return m;
  }

  /** Until `n` full pulls wait in the limiter's queue for a turn (rather than a pause that hopes they do). */
  const queued = (n: number) =>
    until(() => (t.app.get(FullPullLimiter) as unknown as { waiting: unknown[] }).waiting.length === n, `${n} full pull(s) waiting for a turn`);

  /** Holds the next full pull's body query (a first sync or a replacement) until `release()`. */
  function holdNextFullPull() {
    return holdNextCall(t.app.get(SyncRepository), 'pullBody', (_manager: unknown, plan: { cursor: number; replacement: boolean }) => plan.cursor === 0 || plan.replacement);
  }

  it('while one large full pull runs, another waits its turn, then gets 503 SERVER_BUSY with Retry-After; incremental pulls and small full pulls go on', async () => {
    const [a, b] = [await largeFamily(), await largeFamily()];
    const b0 = (await pull(t, b, null).expect(200)).body.timestamp;
    await push(t, b, b0, { transfusions: { created: [transfusion()], updated: [], deleted: [] } }).expect(200);
    const held = holdNextFullPull();
    const first = pull(t, a, null).then((r) => r);
    await held.reached;
    try {
      const started = Date.now();
      const busy = await pull(t, b, null);
      expect(busy.status).toBe(503);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900); // it waited for its turn first
      expect(busy.headers['retry-after']).toBe('5');
      expect(busy.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: expect.any(String),
        details: { code: 'SERVER_BUSY', retryAfterSeconds: 5 },
      });
      // An incremental pull takes no turn, nor does a full pull of a small family.
      const incremental = await pull(t, b, b0).expect(200);
      expect(incremental.body.changes.transfusions.created).toHaveLength(1);
      const small = await register(t);
      await pull(t, small, null).expect(200);
    } finally {
      held.release();
    }
    expect((await first).status).toBe(200);
    // The turn is free again.
    await pull(t, b, null).expect(200);
  });

  it('a waiting full pull gets the turn as soon as it is free', async () => {
    const [a, b] = [await largeFamily(), await largeFamily()];
    const held = holdNextFullPull();
    const first = pull(t, a, null).then((r) => r);
    await held.reached;
    const second = pull(t, b, null).then((r) => r);
    await queued(1); // waiting for the turn, which is then freed
    held.release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });

  it('a large replacement (a cursor of another family) waits for a turn too, holding no connection meanwhile', async () => {
    const owner = await largeFamily();
    const mover = await register(t);
    const cursor = (await pull(t, mover, null).expect(200)).body.timestamp;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${mover.token}`).send({ invite_code: owner.inviteCode }).expect(200);
    const other = await largeFamily();
    const held = holdNextFullPull();
    const first = pull(t, other, null).then((r) => r);
    await held.reached;
    try {
      const waiting = pull(t, { ...mover, familyId: owner.familyId }, cursor).then((r) => r);
      await queued(1);
      // It waits for its turn without a connection: only the held pull's is in use.
      const pool = (t.app.get(DataSource).driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
      expect(pool.totalCount - pool.idleCount).toBe(1);
      const busy = await waiting;
      expect([busy.status, busy.body.details?.code]).toEqual([503, 'SERVER_BUSY']);
    } finally {
      held.release();
    }
    expect((await first).status).toBe(200);
    const replaced = await pull(t, { ...mover, familyId: owner.familyId }, cursor).expect(200);
    expect(replaced.body.experimentalStrategy).toBe('replacement');
  });

  // Found by review: a replacement from a new installation was counted (NewInstallationLimiter) before
  // it waited for its turn, so each 503 SERVER_BUSY spent one of the user's new installations with
  // nothing recorded; a phone switching to a large family on a busy server was refused 429 after a
  // few retries, for the rest of the window.
  it('a large replacement from a new installation that gets 503 SERVER_BUSY counts no installation: retried, it goes through', async () => {
    const owner = await largeFamily();
    const mover = await register(t);
    const phone = randomUUID();
    // The phone's first sync, in the mover's own family: its first new installation (of 2).
    const cursor = (await pull(t, mover, null, phone).expect(200)).body.timestamp;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${mover.token}`).send({ invite_code: owner.inviteCode }).expect(200);
    const moved = { ...mover, familyId: owner.familyId };
    const other = await largeFamily();
    const held = holdNextFullPull();
    const first = pull(t, other, null).then((r) => r);
    await held.reached;
    try {
      // New to the owner's family, never pushed from: a new installation, and a large replacement.
      for (let i = 0; i < 2; i++) {
        const busy = await pull(t, moved, cursor, phone);
        expect([busy.status, busy.body.details?.code]).toEqual([503, 'SERVER_BUSY']);
      }
    } finally {
      held.release();
    }
    expect((await first).status).toBe(200);
    const [counted] = await t.db.query(`SELECT count FROM auth_rate_limits WHERE key = 'new-installation|user:' || $1`, [mover.userId]);
    expect(counted).toEqual({ count: 1 });
    const replaced = await pull(t, moved, cursor, phone).expect(200);
    expect(replaced.body.experimentalStrategy).toBe('replacement');
  });

  // Found by review: a migration sync (the app upgraded its schema) reads the tables it names whole,
  // as a first sync does, and took no turn: every phone of a large family upgrading at once, or a
  // member naming every table again and again, ran as many full reads at once as they liked.
  it('a migration sync that reads a large family\'s tables whole waits for a turn too, holding no connection meanwhile', async () => {
    const [a, b] = [await largeFamily(), await largeFamily()];
    const b0 = (await pull(t, b, null).expect(200)).body.timestamp;
    const migration = JSON.stringify({ from: 1, tables: ['transfusions'], columns: [] });
    const held = holdNextFullPull();
    const first = pull(t, a, null).then((r) => r);
    await held.reached;
    try {
      const waiting = pull(t, b, { last_pulled_at: b0, migration }).then((r) => r);
      await queued(1);
      const pool = (t.app.get(DataSource).driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
      expect(pool.totalCount - pool.idleCount).toBe(1);
      const busy = await waiting;
      expect([busy.status, busy.body.details?.code]).toEqual([503, 'SERVER_BUSY']);
      // Without a migration the same cursor is an incremental pull, which never waits.
      await pull(t, b, b0).expect(200);
    } finally {
      held.release();
    }
    expect((await first).status).toBe(200);
    const migrated = await pull(t, b, { last_pulled_at: b0, migration }).expect(200);
    expect(migrated.body.changes.transfusions.created).toHaveLength(8);
  });

  it('a pull whose client hangs up is cancelled in PostgreSQL: its statement stops, its connection is closed, its turn is free at once', async () => {
    const [a, b] = [await largeFamily(), await largeFamily()];
    const db = t.app.get(DataSource);
    // The held full pull runs a 60 s statement in its snapshot, on its connection, before its body.
    const repository = t.app.get(SyncRepository);
    const pullBody = repository.pullBody.bind(repository);
    const marker = `hang-up-${randomUUID()}`;
    repository.pullBody = async (manager, plan, userId, then) => {
      repository.pullBody = pullBody;
      await manager.query(`SELECT pg_sleep(60), '${marker}'`);
      return pullBody(manager, plan, userId, then);
    };
    const running = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1`, [`%'${marker}'%`]))[0].n as number;
    const url = new URL(t.baseUrl);
    const req = httpRequest({ host: url.hostname, port: url.port, path: '/api/v1/sync?last_pulled_at=0', headers: { Authorization: `Bearer ${a.token}` } });
    req.on('error', () => undefined);
    req.end();
    await waitFor(async () => (await running()) === 1);
    req.destroy(); // the phone loses its signal
    // Not after 60 s: cancelled now.
    await waitFor(async () => (await running()) === 0, 5_000);
    // Its turn is free: another large family's first sync gets it at once (held, it would wait 1 s, then 503).
    await pull(t, b, null).expect(200);
    // The cancelled connection was closed, not handed back to the pool; nothing is left checked out.
    const pool = (db.driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
    await waitFor(async () => pool.totalCount === pool.idleCount);
    // And the app goes on: the abandoned account syncs normally.
    expect((await pull(t, a, null).expect(200)).body.changes.transfusions.created).toHaveLength(8);
  });
});

/** Polls `check` every 25 ms until it holds; fails after `ms`. */
async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
