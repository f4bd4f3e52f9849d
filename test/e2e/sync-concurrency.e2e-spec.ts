import { randomUUID } from 'node:crypto';
import { recordCounts } from '../factories/sync.factory.js';
import { createTestApp, useTestApp } from '../setup/test-app.js';
import { Device, syncProblems } from '../sync-client/device.js';
import { registerFamily, withFamilyId, type Member } from '../sync-client/family.js';

type Rec = Record<string, unknown> & { id: string };
type Changes = Record<string, { created: Rec[]; updated: Rec[]; deleted: string[] }>;

describe('sync under concurrency', () => {
  const t = useTestApp();

  const pull = async (m: Member, cursor: number | null, device: string) => {
    const res = await t
      .http()
      .get('/api/v1/sync')
      .query({ last_pulled_at: cursor ?? 0 })
      .set('Authorization', `Bearer ${m.token}`)
      .set('X-Device-Id', device)
      .expect(200);
    return res.body as { changes: Changes; timestamp: number };
  };

  it('no change is missed: parallel writers, an incremental reader ends equal to the server, record for record', async () => {
    const [owner, ...members] = await registerFamily(t, 3);
    const writers = [owner, ...members].map((m) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId }));
    for (const w of writers) await w.sync();

    // The reader: a plain HTTP client that applies each pull to its own map, as a phone would.
    // What WatermelonDB calls a "serious bug" is recorded: a `created` record it already holds,
    // an `updated` record it does not hold.
    const state = new Map<string, Rec>();
    const anomalies: string[] = [];
    let cursor: number | null = null;
    let done = false;
    let pulls = 0;
    const apply = (body: { changes: Changes; timestamp: number }) => {
      for (const [table, c] of Object.entries(body.changes)) {
        for (const r of c.created) if (state.has(`${table}/${r.id}`)) anomalies.push(`created but held: ${table}/${r.id}`);
        for (const r of c.updated) if (!state.has(`${table}/${r.id}`)) anomalies.push(`updated but not held: ${table}/${r.id}`);
        for (const r of [...c.created, ...c.updated]) state.set(`${table}/${r.id}`, r);
        for (const id of c.deleted) state.delete(`${table}/${id}`);
      }
      expect(cursor === null || body.timestamp >= cursor).toBe(true);
      cursor = body.timestamp;
      pulls++;
    };
    const reader = (async () => {
      while (!done) apply(await pull(owner, cursor, 'reader'));
    })();

    // Each writer creates, edits and deletes; in even rounds it also re-creates, with the same id,
    // a record it deleted earlier (an "undo"): the server revives the tombstone, and every device
    // must get it as what it holds (created where it was destroyed, updated where it was kept).
    const ROUNDS = 6;
    const REVIVED = ROUNDS / 2 - 1;
    await Promise.all(
      writers.map(async (w, i) => {
        const mine: string[] = [];
        const deleted: Rec[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          if (round % 2 === 0 && deleted.length) {
            await w.syncUntilClean(); // the deletion pulled back first, or it would destroy the re-created record
            const { id, ...values } = deleted.shift()!;
            await w.createWithId('transfusions', id, { ...values, notes: `w${i} revived in ${round}` });
          }
          for (let k = 0; k < 3; k++) mine.push(await w.create('transfusions', { date: round, volume_ml: 100 + i * 10 + k, notes: `w${i} r${round}` }));
          await w.create('blood_tests', { date: round, laboratory: `lab ${i}` });
          await w.update('transfusions', mine[round], { notes: `w${i} edited in ${round}` });
          if (round % 2) {
            const id = mine.splice(0, 1)[0];
            deleted.push((await w.find('transfusions', id))!);
            await w.remove('transfusions', id);
          }
          await w.syncUntilClean();
        }
      }),
    );
    // Writers converge to each other too.
    for (const w of writers) await w.syncUntilClean();
    done = true;
    await reader;
    apply(await pull(owner, cursor, 'reader'));

    const server = new Map<string, Rec>();
    for (const [table, c] of Object.entries((await pull(owner, null, 'fresh')).changes)) for (const r of c.created) server.set(`${table}/${r.id}`, r);
    expect(server.size).toBe(1 + 4 * ROUNDS * 4 - 4 * (ROUNDS / 2) + 4 * REVIVED);
    expect(new Map([...state].sort())).toEqual(new Map([...server].sort()));
    expect(anomalies).toEqual([]);
    expect(pulls).toBeGreaterThan(2);
    for (const w of writers) expect((await w.snapshot()).transfusions).toHaveLength(4 * (ROUNDS * 3 - ROUNDS / 2 + REVIVED));
    expect(syncProblems()).toEqual([]);
    // Parallel writers, 409s and revivals leave the family's record_count exact (SYNC_FAMILY_MAX_RECORDS).
    const { kept, rows } = await recordCounts(t.db, owner.familyId);
    expect({ record_count: kept }).toEqual({ record_count: rows });
  });

  it('many devices doing their first sync at once all get answers (a pull never waits for a second pool connection)', async () => {
    // A pool of 2 connections and 12 concurrent first pulls: a pull that held its snapshot
    // connection while asking the pool for another would starve the pool and hang.
    const small = await createTestApp({ DB_POOL_SIZE: '2' });
    try {
      const [member] = await registerFamily(small);
      const pulls = Array.from({ length: 12 }, () =>
        small.http().get('/api/v1/sync').set('Authorization', `Bearer ${member.token}`).set('X-Device-Id', randomUUID()).timeout(15_000),
      );
      const answers = await Promise.all(pulls);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    } finally {
      await small.close();
    }
  });

  it('two racing pushes on the same records: one wins whole, the other gets 409 and applies nothing', async () => {
    const [m] = await registerFamily(t);
    const c0 = (await pull(m, null, 'x')).timestamp;
    const base = Array.from({ length: 50 }, () => ({ id: randomUUID(), date: 1, volume_ml: 100, notes: 'base', created_at: 1, updated_at: 1 }));
    const send = (changes: Record<string, unknown>, cursor: number) =>
      t.http().post(`/api/v1/sync?last_pulled_at=${cursor}`).set('Authorization', `Bearer ${m.token}`).send({ changes: withFamilyId(changes, m.familyId) });
    await send({ transfusions: { created: base, updated: [], deleted: [] } }, c0).expect(200);
    const c1 = (await pull(m, c0, 'x')).timestamp;

    for (let trial = 0; trial < 5; trial++) {
      const cursor = (await pull(m, c1, 'x')).timestamp;
      const pushFor = (tag: string) => ({
        transfusions: {
          created: Array.from({ length: 50 }, () => ({ id: randomUUID(), date: 2, volume_ml: 200, notes: tag, created_at: 1, updated_at: 1 })),
          updated: base.map((r) => ({ ...r, notes: tag })),
          deleted: [],
        },
      });
      const [a, b] = await Promise.all([send(pushFor(`A${trial}`), cursor), send(pushFor(`B${trial}`), cursor)]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const winner = a.status === 200 ? `A${trial}` : `B${trial}`;
      const rows = (await pull(m, null, 'y')).changes.transfusions.created;
      const notes = rows.filter((r) => base.some((b2) => b2.id === r.id)).map((r) => r.notes);
      expect(new Set(notes)).toEqual(new Set([winner]));
      const created = rows.filter((r) => r.date === 2);
      expect(created.every((r) => r.notes === `A${(r.notes as string).slice(1)}` || r.notes === `B${(r.notes as string).slice(1)}`)).toBe(true);
      expect(created.filter((r) => (r.notes as string).endsWith(String(trial))).every((r) => r.notes === winner)).toBe(true);
      expect(created.filter((r) => (r.notes as string).endsWith(String(trial)))).toHaveLength(50);
    }
    // The losers' 409s counted nothing: the family's record_count is its rows.
    expect(await recordCounts(t.db, m.familyId)).toEqual({ kept: 50 * 6, rows: 50 * 6 });
  });
});
