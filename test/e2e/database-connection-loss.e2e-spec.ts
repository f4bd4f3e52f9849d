/**
 * A connection the app holds between two statements (a pull inside its snapshot, a write inside its
 * transaction) ended by the server: an operator's pg_terminate_backend, a fail-over or a restart
 * (57P01), idle_session_timeout (57P05). The request is answered 503 DATABASE_UNAVAILABLE with
 * Retry-After, nothing of it applied, and the process goes on.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDatabaseUnavailable } from '../../src/common/postgres-errors.js';
import { connectionName } from '../../src/database/connection-name.js';
import { SyncRepository } from '../../src/modules/sync/sync.repository.js';
import { FamiliesService } from '../../src/modules/families/families.service.js';
import { DocumentFileUrlValidator } from '../../src/modules/documents/document-file-url.validator.js';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { capturingLogger } from '../setup/captured-logs.js';
import { useTestApp } from '../setup/test-app.js';
import { holdNextCall, sessionsWaitingBehind, until } from '../setup/wait.js';

describe('a connection the app holds between statements, ended by the server', () => {
  const t = useTestApp();
  const { logger, logged } = capturingLogger();
  beforeAll(() => t.app.useLogger(logger));

  /** Ends the app's one session that sits idle inside a transaction (the held request's), as an operator would. */
  async function terminateIdleInTransaction(): Promise<void> {
    const rows: Array<{ pid: number }> = await t.db.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND state = 'idle in transaction'`,
      [connectionName('api')],
    );
    expect(rows).toHaveLength(1);
    await t.db.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
  }

  it('a pull inside its snapshot: 503 DATABASE_UNAVAILABLE with Retry-After (its next statement failed as "not queryable": 500)', async () => {
    const owner = await registerFamily(t);
    logged.length = 0;
    const held = holdNextCall(t.app.get(SyncRepository), 'pullBody');
    try {
      const pull = t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).set('X-Device-Id', randomUUID()).then((r) => r);
      await held.reached;
      const removed = new Promise((r) => (t.db.driver as unknown as { master: EventEmitter }).master.once('remove', r));
      await terminateIdleInTransaction();
      // The FATAL reaches the borrowed client while none of its statements runs: the pool drops it.
      await removed;
      held.release();
      const res = await pull;
      expect([res.status, res.headers['retry-after'], res.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    } finally {
      held.restore();
    }
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200);
  });

  it("a session ended by idle_session_timeout (57P05): what the statement sent on it meets counts as the database not taking work", async () => {
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await client.connect();
    const ended = new Promise<Error>((resolve) => client.once('error', resolve));
    await client.query('SET idle_session_timeout = 1');
    const fatal = await ended;
    expect((fatal as Error & { code?: string }).code).toBe('57P05');
    // As a request met it (answered 500 before): the FATAL as the answer to its statement, or the statement refused after it.
    expect(isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], fatal))).toBe(true);
    const refused = await client.query('SELECT 1').then(() => undefined, (error: Error) => error);
    expect(isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], refused!))).toBe(true);
    await client.end().catch(() => undefined);
  });

  it('a REST write inside its transaction (the family locked): 503 DATABASE_UNAVAILABLE with Retry-After, nothing written (its next statement threw "Query runner already released": 500)', async () => {
    const owner = await registerFamily(t);
    logged.length = 0;
    const held = holdNextCall(t.app.get(FamiliesService), 'currentIn');
    try {
      const patch = t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: 'lost with its connection' }).then((r) => r);
      await held.reached;
      const removed = new Promise((r) => (t.db.driver as unknown as { master: EventEmitter }).master.once('remove', r));
      await terminateIdleInTransaction();
      await removed;
      held.release();
      const res = await patch;
      expect([res.status, res.headers['retry-after'], res.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    } finally {
      held.restore();
    }
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    const family = await t.http().get('/api/v1/families/me').set(bearer(owner.token)).expect(200);
    expect(family.body.notes).not.toBe('lost with its connection');
  });

  it('a runner used after its own release (a bug, not an outage) still says so', async () => {
    const runner = t.db.createQueryRunner();
    await runner.query('SELECT 1');
    await runner.release();
    await expect(runner.query('SELECT 1')).rejects.toBeInstanceOf(QueryRunnerAlreadyReleasedError);
    await expect(runner.manager.query('SELECT 1')).rejects.toBeInstanceOf(QueryRunnerProviderAlreadyReleasedError);
  });

  it('a push inside its transaction (its family locked, its version taken): 503 DATABASE_UNAVAILABLE with Retry-After, nothing of it applied, and the same push goes through once sent again', async () => {
    const owner = await registerFamily(t);
    const file = await t
      .http()
      .post('/api/v1/upload')
      .set(bearer(owner.token))
      .attach('file', Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), Buffer.from('\ntrailer << /Root 1 0 R >>\n%%EOF\n')]), { filename: 'lab.pdf', contentType: 'application/octet-stream' })
      .expect(201);
    const now = Date.now();
    const changes = {
      transfusions: { created: [{ id: randomUUID(), family_id: owner.family.id, date: now, volume_ml: 250, created_at: now, updated_at: now }], updated: [], deleted: [] },
      documents: {
        created: [{ id: randomUUID(), family_id: owner.family.id, name: 'lab', category: 'lab_result', file_url: file.body.file_url, mime_type: file.body.mime_type, size_bytes: file.body.size_bytes, created_at: now, updated_at: now }],
        updated: [],
        deleted: [],
      },
    };
    const push = () => t.http().post('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).set('X-Device-Id', 'phone-1').send({ changes });
    logged.length = 0;
    // Called under the family lock, between the version bump's round trip and the writes'.
    const held = holdNextCall(t.app.get(DocumentFileUrlValidator), 'assertFamilyFiles');
    try {
      const pushed = push().then((r) => r);
      await held.reached;
      const removed = new Promise((r) => (t.db.driver as unknown as { master: EventEmitter }).master.once('remove', r));
      await terminateIdleInTransaction();
      await removed;
      held.release();
      const res = await pushed;
      expect([res.status, res.headers['retry-after'], res.body.details?.code]).toEqual([503, '5', 'DATABASE_UNAVAILABLE']);
    } finally {
      held.restore();
    }
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    const before = JSON.parse((await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200)).text);
    expect([before.changes.transfusions.created, before.changes.documents.created]).toEqual([[], []]);
    await push().expect(200);
    const after = JSON.parse((await t.http().get('/api/v1/sync?last_pulled_at=0').set(bearer(owner.token)).expect(200)).text);
    expect([after.changes.transfusions.created.length, after.changes.documents.created.length]).toEqual([1, 1]);
  });

  it("an idle pooled connection the server ends is logged as the pool's, without the request id of the request that opened it", async () => {
    const owner = await registerFamily(t);
    const api = connectionName('api');
    // Two more requests holding a connection than the pool has: at least two are opened inside a request,
    // one of them still idle in the pool once the statement that ends the others has taken one.
    const [{ open }] = await t.db.query<Array<{ open: number }>>('SELECT count(*)::int AS open FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [api]);
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    // Another session watches: pg_stat_activity stays as it was for the rest of a transaction.
    const observer = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await Promise.all([holder.connect(), observer.connect()]);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [owner.family.id]);
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const writes = Array.from({ length: open + 2 }, (_, i) =>
        t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: `held ${i}` }).then((r) => r.status),
      );
      await until(async () => (await sessionsWaitingBehind(observer, rows[0].pid)) === open + 2, 'the writes waiting for the family');
      await holder.query('COMMIT');
      expect(await Promise.all(writes)).toEqual(Array(open + 2).fill(200));
    } finally {
      await Promise.all([holder.end(), observer.end()]);
    }
    logged.length = 0;
    const [{ ended }] = await t.db.query<Array<{ ended: number }>>(
      `SELECT count(*)::int AS ended FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()) x`,
      [api],
    );
    expect(ended).toBeGreaterThanOrEqual(open + 1);
    const poolErrors = () => logged.filter((l) => String(l.message).startsWith('Postgres pool raised an error'));
    await until(() => poolErrors().length === ended, 'a warning per ended connection');
    // Each carried the id of the (finished) request whose work opened the connection.
    expect(poolErrors().map((l) => [l.level, l.reqId])).toEqual(Array(ended).fill(['warn', undefined]));
  });
});
