import { randomUUID } from 'node:crypto';
import { useTestApp } from '../setup/test-app.js';
import { register, withFamilyId, type Member } from '../sync-client/family.js';

/** Set SYNC_MEASURE=1 to print the timings (HTTP vs PostgreSQL alone). */
const report = (line: string) => process.env.SYNC_MEASURE && process.stdout.write(`[sync-measure] ${line}\n`);

const transfusion = (i: number) => ({
  id: randomUUID(),
  date: 1_700_000_000_000 + i,
  volume_ml: 100 + (i % 400),
  patient_weight_kg: 30,
  medication: 'none',
  indicators_before: JSON.stringify({ hb: 7 + (i % 10) / 10, ferritin: 1000 + i }),
  indicators_after: null,
  hospital: 'City Hospital',
  reaction: null,
  notes: `record ${i}`,
  created_at: 1_700_000_000_000,
  updated_at: 1_700_000_000_000,
});

const changesWith = (records: unknown[]) => ({
  transfusions: { created: records, updated: [], deleted: [] },
  blood_tests: { created: [], updated: [], deleted: [] },
});

describe('sync volume and query count', () => {
  const t = useTestApp();
  let statements = 0;
  let roundTrips = 0;
  beforeAll(() => {
    // Count every statement the app sends (TypeORM logs each one through its logger, logging on or off;
    // so does runBatch for each statement of a batch).
    const logger = t.db.logger;
    const original = logger.logQuery.bind(logger);
    logger.logQuery = (...args: Parameters<typeof original>) => {
      statements++;
      return original(...args);
    };
    // And every round trip: each query() of a pooled connection waits for one answer, whether it
    // carries one statement or a batch of them (statement-batch.ts).
    type Client = { query: (...args: unknown[]) => unknown };
    type Connect = (callback: (error: unknown, client: Client | undefined, release: unknown) => void) => void;
    const pool = (t.db.driver as unknown as { master: { connect: Connect } }).master;
    const counting = new WeakSet<Client>();
    const connect = pool.connect.bind(pool);
    pool.connect = (callback) =>
      connect((error, client, release) => {
        if (client && !counting.has(client)) {
          counting.add(client);
          const query = client.query.bind(client);
          client.query = (...args: unknown[]) => {
            roundTrips++;
            return query(...args);
          };
        }
        callback(error, client, release);
      });
  });

  const pushAs = (m: Member, cursor: number, changes: unknown) =>
    t.http().post(`/api/v1/sync?last_pulled_at=${cursor}`).set('Authorization', `Bearer ${m.token}`).set('X-Device-Id', 'counter').send({ changes: withFamilyId(changes, m.familyId) });
  const pullAs = (m: Member, cursor: number | null) =>
    t.http().get('/api/v1/sync').query({ last_pulled_at: cursor ?? 0 }).set('Authorization', `Bearer ${m.token}`).set('X-Device-Id', 'counter');

  async function counted<T>(work: () => Promise<T>): Promise<number> {
    statements = 0;
    await work();
    return statements;
  }

  async function roundTripsOf<T>(work: () => Promise<T>): Promise<number> {
    roundTrips = 0;
    await work();
    return roundTrips;
  }

  it('statements per push and per pull do not depend on the number of records (10 vs 1,000)', async () => {
    const counts: Record<string, number[]> = { create: [], update: [], delete: [], pull: [], firstPull: [] };
    for (const n of [10, 1000]) {
      const m = await register(t);
      const c0 = (await pullAs(m, null).expect(200)).body.timestamp;
      const records = Array.from({ length: n }, (_, i) => transfusion(i));
      const tests = Array.from({ length: n }, (_, i) => ({ id: randomUUID(), date: i, laboratory: 'L', comment: null, created_at: 1, updated_at: 1 }));
      const both = { transfusions: { created: records, updated: [], deleted: [] }, blood_tests: { created: tests, updated: [], deleted: [] } };
      counts.create.push(await counted(() => pushAs(m, c0, both).expect(200)));
      const c1 = (await pullAs(m, c0).expect(200)).body.timestamp;
      counts.pull.push(await counted(() => pullAs(m, c0).expect(200)));
      counts.firstPull.push(await counted(() => pullAs(m, null).expect(200)));
      const updated = { transfusions: { created: [], updated: records.map((r) => ({ ...r, notes: 'x' })), deleted: [] }, blood_tests: { created: [], updated: tests, deleted: [] } };
      counts.update.push(await counted(() => pushAs(m, c1, updated).expect(200)));
      const c2 = (await pullAs(m, c1).expect(200)).body.timestamp;
      const deleted = { transfusions: { created: [], updated: [], deleted: records.map((r) => r.id) }, blood_tests: { created: [], updated: [], deleted: tests.map((r) => r.id) } };
      counts.delete.push(await counted(() => pushAs(m, c2, deleted).expect(200)));
    }
    for (const [kind, [small, large]] of Object.entries(counts)) {
      expect({ kind, large }).toEqual({ kind, large: small });
      report(`${kind}: ${small} statements for 10 and for 1,000 records`);
    }
  });

  it('round trips to PostgreSQL: 3 per incremental pull, 4 per first pull, 6 per push, whatever the number of records; 4 of the push\'s under the family lock', async () => {
    const trips: Record<string, number[]> = { create: [], update: [], delete: [], pull: [], firstPull: [] };
    for (const n of [10, 1000]) {
      const m = await register(t);
      const c0 = (await pullAs(m, null).expect(200)).body.timestamp;
      const records = Array.from({ length: n }, (_, i) => transfusion(i));
      trips.create.push(await roundTripsOf(() => pushAs(m, c0, changesWith(records)).expect(200)));
      const c1 = (await pullAs(m, c0).expect(200)).body.timestamp;
      trips.pull.push(await roundTripsOf(() => pullAs(m, c0).expect(200)));
      trips.firstPull.push(await roundTripsOf(() => pullAs(m, null).expect(200)));
      const edited = records.map((r) => ({ ...r, notes: 'x', _changed: 'notes,updated_at', updated_at: r.updated_at + 1 }));
      trips.update.push(await roundTripsOf(() => pushAs(m, c1, changesWith(edited)).expect(200)));
      const c2 = (await pullAs(m, c1).expect(200)).body.timestamp;
      const deleted = { transfusions: { created: [], updated: [], deleted: records.map((r) => r.id) } };
      trips.delete.push(await roundTripsOf(() => pushAs(m, c2, deleted).expect(200)));
    }
    // A pull: the guard's look-up; BEGIN with the snapshot's first read; the body with COMMIT and the
    // cursor's record (a first pull sums the family's size first). A push: the guard's look-up; BEGIN;
    // the version bump (the lock) with the membership check and the look-ups; every write; the
    // notification; COMMIT.
    expect(trips).toEqual({ create: [6, 6], update: [6, 6], delete: [6, 6], pull: [3, 3], firstPull: [4, 4] });
  });

  it('a 5,000-record push and a 50,000-record first pull work within the limits (and how long they take)', async () => {
    const m = await register(t);
    const c0 = (await pullAs(m, null).expect(200)).body.timestamp;
    const records = Array.from({ length: 5000 }, (_, i) => transfusion(i));
    let started = performance.now();
    await pushAs(m, c0, changesWith(records)).expect(200);
    const pushMs = performance.now() - started;

    // PostgreSQL alone: the same 5,000 documents inserted set-based in a throw-away transaction.
    const other = await register(t);
    const docs = JSON.stringify(records.map((r) => ({ ...r, id: randomUUID(), indicators_before: JSON.parse(r.indicators_before) })));
    const pgInsertMs = await inTransaction(async (run) => {
      const s = performance.now();
      await run(
        `INSERT INTO transfusions (id, family_id, date, volume_ml, patient_weight_kg, medication, indicators_before, hospital, notes, created_at, updated_at, server_version, server_created_version)
         SELECT (d->>'id')::uuid, $2, (d->>'date')::bigint, (d->>'volume_ml')::float8, (d->>'patient_weight_kg')::float8, d->>'medication',
                d->'indicators_before', d->>'hospital', d->>'notes', (d->>'created_at')::bigint, (d->>'updated_at')::bigint, 1, 1
           FROM jsonb_array_elements($1::jsonb) d`,
        [docs, other.familyId],
      );
      return performance.now() - s;
    });

    // 45,000 more rows straight into the table, then the first pull of all 50,000 over HTTP.
    await t.db.query(
      `INSERT INTO transfusions (id, family_id, date, volume_ml, indicators_before, hospital, notes, created_at, updated_at, server_version, server_created_version)
       SELECT gen_random_uuid(), $1, 1700000000000 + g, 100 + g % 400, jsonb_build_object('hb', 7.5), 'City Hospital', 'seeded ' || g, 1, 1, 2, 2
         FROM generate_series(1, 45000) g`,
      [m.familyId],
    );
    started = performance.now();
    const res = await t.http().get('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => (text += chunk));
      r.on('end', () => cb(null, text));
    });
    const pullMs = performance.now() - started;
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body as unknown as string);
    expect(body.changes.transfusions.created).toHaveLength(50_000);

    const pgSelectMs = await inTransaction(async (run) => {
      const s = performance.now();
      await run(`SELECT json_agg(json_build_object('id', id, 'date', date, 'volume_ml', volume_ml, 'indicators_before', indicators_before::text, 'notes', notes))::text FROM transfusions WHERE family_id = $1 AND deleted_at IS NULL`, [m.familyId]);
      return performance.now() - s;
    });
    report(`push 5,000 records over HTTP: ${pushMs.toFixed(0)} ms; PostgreSQL alone (INSERT … SELECT jsonb_array_elements): ${pgInsertMs.toFixed(0)} ms`);
    report(`first pull of 50,000 records over HTTP: ${pullMs.toFixed(0)} ms (${((res.body as unknown as string).length / 1e6).toFixed(1)} MB); PostgreSQL alone (json_agg): ${pgSelectMs.toFixed(0)} ms`);
  });

  /** Runs statements in a transaction that is always rolled back. */
  async function inTransaction<T>(work: (run: (sql: string, params: unknown[]) => Promise<unknown>) => Promise<T>): Promise<T> {
    const runner = t.db.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      return await work((sql, params) => runner.query(sql, params));
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }
});
