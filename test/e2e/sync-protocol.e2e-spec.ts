import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { COMPRESS_MIN_BYTES } from '../../src/common/http/compressed-json.js';
import { DataSource } from 'typeorm';
import { createTestApp, useTestApp } from '../setup/test-app.js';
import { changesOf, emptyChanges, pull, push, SYNC_TABLES } from '../factories/sync.factory.js';
import { register, registerFamily, withFamilyId, type Member } from '../sync-client/family.js';

const now = () => Date.now();

/** GET with the bytes as they came over the wire (supertest would decode them), and the Accept-Encoding given (none when undefined). */
function rawGet(t: { baseUrl: string }, m: Member, path: string, acceptEncoding: string | undefined): Promise<{ status?: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const headers: Record<string, string> = { authorization: `Bearer ${m.token}` };
  if (acceptEncoding !== undefined) headers['accept-encoding'] = acceptEncoding;
  return new Promise((resolve, reject) => {
    httpGet(`${t.baseUrl}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function transfusion(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    date: 1_764_000_000_000,
    volume_ml: 250,
    patient_weight_kg: 31.5,
    medication: 'paracetamol',
    indicators_before: JSON.stringify({ hb: 7.1, ferritin: 1200 }),
    indicators_after: null,
    hospital: 'City Hospital',
    reaction: null,
    notes: 'ok',
    created_at: now(),
    updated_at: now(),
    _status: 'created',
    _changed: '',
    ...overrides,
  };
}

describe('sync protocol over HTTP', () => {
  const t = useTestApp();

  it('first sync: every table, the family row as created, timestamp = family version', async () => {
    const m = await register(t);
    const res = await pull(t, m).expect(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(Object.keys(res.body.changes).sort()).toEqual([...SYNC_TABLES].sort());
    // What the title says, not merely a number (a wall-clock timestamp passed `expect.any(Number)`).
    const [{ sync_version }] = await t.app.get(DataSource).query('SELECT sync_version::text FROM families WHERE id = $1', [m.familyId]);
    expect(res.body.timestamp).toBe(Number(sync_version));
    expect(res.body.changes.families.created).toHaveLength(1);
    const family = res.body.changes.families.created[0];
    expect(family).toMatchObject({ id: m.familyId, family_id: m.familyId, invite_code: m.inviteCode });
    expect(family).not.toHaveProperty('server_version');
    expect(family).not.toHaveProperty('sync_version');
    for (const table of SYNC_TABLES.slice(1)) expect(res.body.changes[table]).toEqual({ created: [], updated: [], deleted: [] });
  });

  it('push then pull: wire format round-trips; own device gets updated, others created', async () => {
    const m = await register(t);
    const first = (await pull(t, m, null, 'device-a').expect(200)).body.timestamp as number;
    const record = transfusion();
    const pushed = await push(t, m, first, changesOf('transfusions', { created: [record] }), 'device-a').expect(200);
    expect(pushed.body.timestamp).toBeGreaterThan(first);

    const own = (await pull(t, m, { last_pulled_at: first }, 'device-a').expect(200)).body;
    expect(own.changes.transfusions.created).toEqual([]);
    expect(own.changes.transfusions.updated).toHaveLength(1);
    const { _status, _changed, ...wire } = record;
    // JSON columns come back as the app's JSON.stringify wrote them (stored compact, as parsed and re-serialized).
    expect(own.changes.transfusions.updated[0]).toEqual({ ...wire, family_id: m.familyId });
    expect(own.timestamp).toBe(pushed.body.timestamp);

    const other = (await pull(t, m, { last_pulled_at: first }, 'device-b').expect(200)).body;
    expect(other.changes.transfusions.created.map((r: { id: string }) => r.id)).toEqual([record.id]);
    const nodevice = (await pull(t, m, { last_pulled_at: first }).expect(200)).body;
    expect(nodevice.changes.transfusions.created).toHaveLength(1);
    const nothing = (await pull(t, m, { last_pulled_at: own.timestamp }, 'device-b').expect(200)).body;
    expect(nothing.changes.transfusions).toEqual({ created: [], updated: [], deleted: [] });
  });

  it('first sync sends no deletions; an incremental pull sends tombstones; delete of a missing row is a no-op', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const a = transfusion();
    const b = transfusion();
    await push(t, m, c0, changesOf('transfusions', { created: [a, b] })).expect(200);
    const c1 = (await pull(t, m, { last_pulled_at: c0 }).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('transfusions', { deleted: [a.id, randomUUID()] })).expect(200);
    const inc = (await pull(t, m, { last_pulled_at: c1 }).expect(200)).body;
    expect(inc.changes.transfusions).toEqual({ created: [], updated: [], deleted: [a.id] });
    const first = (await pull(t, m, { last_pulled_at: 'null' }).expect(200)).body;
    expect(first.changes.transfusions.created.map((r: { id: string }) => r.id)).toEqual([b.id]);
    expect(first.changes.transfusions.deleted).toEqual([]);
    // 0, as the client sends before its first sync, is a first sync too (not an incremental pull from 0).
    const zero = (await pull(t, m, { last_pulled_at: 0 }, 'another-phone').expect(200)).body;
    expect(zero.changes.transfusions).toEqual({ created: [expect.objectContaining({ id: b.id })], updated: [], deleted: [] });
    expect(zero.changes.families).toEqual({ created: [expect.objectContaining({ id: m.familyId })], updated: [], deleted: [] });
    expect(zero.experimentalStrategy).toBeUndefined();
    // Deleting it again (already a tombstone, not changed since the cursor) is a no-op.
    await push(t, m, inc.timestamp, changesOf('transfusions', { deleted: [a.id] })).expect(200);
    // So it is alongside a change: the tombstone keeps its deletion time and version (its file's retention, if
    // a document's, does not start again), and no device pulls the deletion a second time.
    const tombstone = 'SELECT deleted_at::text, server_version::text, updated_by::text FROM transfusions WHERE id = $1';
    const [before] = await t.db.query(tombstone, [a.id]);
    await push(t, m, inc.timestamp, changesOf('transfusions', { created: [transfusion()], deleted: [a.id] }), 'another-phone').expect(200);
    expect(await t.db.query(tombstone, [a.id])).toEqual([before]);
    expect((await pull(t, m, { last_pulled_at: inc.timestamp }).expect(200)).body.changes.transfusions.deleted).toEqual([]);
  });

  it('created-but-existing updates, updated-but-missing creates; a blood test deletion takes its results along', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const test = { id: randomUUID(), date: 1, comment: null, laboratory: 'Lab', created_at: 1, updated_at: 1 };
    const result = { id: randomUUID(), blood_test_id: test.id, name: 'Hb', value: 9.5, unit: 'g/dL', reference_min: 11, reference_max: 16, created_at: 1, updated_at: 1 };
    const changes = emptyChanges();
    changes.blood_test_results.updated = [result]; // updated but missing → created
    changes.blood_tests.created = [test];
    await push(t, m, c0, changes).expect(200);
    const c1 = (await pull(t, m, { last_pulled_at: c0 }).expect(200)).body.timestamp;
    // In one table, beside a record the server has: updated-but-missing still creates (decided per record, not per table).
    const missing = { ...result, id: randomUUID(), name: 'PLT', value: 150 };
    const second = changesOf('blood_tests', { created: [{ ...test, laboratory: 'Other lab' }] }); // created but existing
    second.blood_test_results.updated = [{ ...result, value: 10 }, missing];
    await push(t, m, c1, second).expect(200);
    const c2body = (await pull(t, m, { last_pulled_at: c1 }).expect(200)).body;
    expect(c2body.changes.blood_tests.updated[0].laboratory).toBe('Other lab');
    expect(c2body.changes.blood_test_results.updated).toEqual([expect.objectContaining({ id: result.id, value: 10 })]);
    expect(c2body.changes.blood_test_results.created).toEqual([expect.objectContaining({ id: missing.id, value: 150 })]);
    await push(t, m, c2body.timestamp, changesOf('blood_tests', { deleted: [test.id] })).expect(200);
    const after = (await pull(t, m, { last_pulled_at: c2body.timestamp }).expect(200)).body;
    expect(after.changes.blood_tests.deleted).toEqual([test.id]);
    expect(after.changes.blood_test_results.deleted.sort()).toEqual([result.id, missing.id].sort());
  });

  it('422 names table, id and field; nothing is applied; _status/_changed are ignored', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const good = Array.from({ length: 20 }, () => transfusion());
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['transfusions', transfusion({ volume_ml: 5000 }), 'volume_ml'],
      ['transfusions', transfusion({ volume_ml: 0 }), 'volume_ml'],
      ['transfusions', transfusion({ patient_weight_kg: -1 }), 'patient_weight_kg'],
      ['transfusions', transfusion({ indicators_before: '{"hb": "high"}' }), 'indicators_before'],
      ['transfusions', transfusion({ indicators_after: '[1,2]' }), 'indicators_after'],
      ['transfusions', transfusion({ indicators_after: '{oops' }), 'indicators_after'],
      ['transfusions', transfusion({ date: 'yesterday' }), 'date'],
      ['transfusions', transfusion({ date: null }), 'date'],
      ['transfusions', transfusion({ mystery: 1 }), 'mystery'],
      ['transfusions', transfusion({ notes: 'a\u0000b' }), 'notes'],
      ['transfusions', transfusion({ hospital: 'x'.repeat(301) }), 'hospital'],
      ['transfusions', transfusion({ id: 'ABC' }), 'id'],
      ['transfusions', transfusion({ id: randomUUID().toUpperCase() }), 'id'],
      ['reminders', { id: randomUUID(), title: 'Iron', remind_at: 1, frequency: 'hourly', is_completed: false }, 'frequency'],
      ['reminders', { id: randomUUID(), title: 'Iron', remind_at: 1, frequency: 'daily', is_completed: 'yes' }, 'is_completed'],
      ['reminders', { id: randomUUID(), title: 'Iron', remind_at: 1, frequency: 'every_n_days', interval_days: 0, is_completed: false }, 'interval_days'],
      ['documents', { id: randomUUID(), name: 'Scan', category: 'selfie' }, 'category'],
      ['documents', { id: randomUUID(), name: 'Scan', category: 'other', file_url: '/api/v1/files/elsewhere' }, 'file_url'],
      ['analysis_templates', { id: randomUUID(), name: 'CBC', indicators_json: '[1]' }, 'indicators_json'],
      ['analysis_templates', { id: randomUUID(), name: '', indicators_json: '[]' }, 'name'],
      ['blood_test_results', { id: randomUUID(), blood_test_id: randomUUID(), name: 'Hb', value: 1 }, 'blood_test_id'],
      ['blood_test_results', { id: randomUUID(), blood_test_id: randomUUID(), name: 'Hb', value: Number.NaN }, 'value'],
    ];
    for (const [table, bad, field] of cases) {
      const changes = changesOf('transfusions', { created: good });
      changes[table] = { created: [...changes[table].created, bad], updated: [], deleted: [] };
      const res = await push(t, m, c0, changes);
      expect({ field, status: res.status }).toEqual({ field, status: 422 });
      expect(res.body.details).toMatchObject({ code: 'VALIDATION_FAILED', table, field });
      if (field !== 'id' && field !== 'file_url') expect(res.body.details.id).toBe(bad.id);
    }
    const unknownTable = await push(t, m, c0, { ...emptyChanges(), secrets: { created: [], updated: [], deleted: [] } }).expect(422);
    expect(unknownTable.body.details).toMatchObject({ table: 'secrets' });
    const after = (await pull(t, m).expect(200)).body;
    expect(after.changes.transfusions.created).toEqual([]);
    expect(after.timestamp).toBe(c0);
  });

  it('409 when a pushed record changed on the server after last_pulled_at (created, updated or deleted); nothing applied', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const a = transfusion();
    const b = transfusion();
    const c = transfusion();
    await push(t, m, c0, changesOf('transfusions', { created: [a, b, c] })).expect(200);
    const fresh = transfusion();
    for (const changes of [
      changesOf('transfusions', { created: [fresh, { ...a, notes: 'again' }] }),
      changesOf('transfusions', { created: [fresh], updated: [{ ...b, notes: 'stale' }] }),
      changesOf('transfusions', { created: [fresh], deleted: [c.id] }),
    ]) {
      const res = await push(t, m, c0, changes).expect(409);
      expect(res.body.details.code).toBe('SYNC_CONFLICT');
      expect(Object.keys(res.body.details.conflicts)).toEqual(['transfusions']);
      expect(res.body.details.conflicts.transfusions).not.toContain(fresh.id);
    }
    const state = (await pull(t, m).expect(200)).body.changes.transfusions.created;
    expect(state.map((r: { id: string }) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
    expect(state.every((r: { notes: string }) => r.notes === 'ok')).toBe(true);
  });

  it('deleting a blood test whose results changed after last_pulled_at (added or edited by another member) is a 409 listing them; after a pull the deletion takes them along', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();
    const c0 = (await pull(t, owner).expect(200)).body.timestamp;
    const test = { id: randomUUID(), date: 1, comment: null, laboratory: 'Lab', created_at: 1, updated_at: 1 };
    const result = (values: Record<string, unknown> = {}) => ({ id: randomUUID(), blood_test_id: test.id, name: 'Hb', value: 9.5, unit: 'g/dL', created_at: 1, updated_at: 1, ...values });
    const [seen, edited] = [result(), result({ name: 'PLT', value: 150 })];
    await push(t, owner, c0, { ...changesOf('blood_tests', { created: [test] }), blood_test_results: { created: [seen, edited], updated: [], deleted: [] } }, 'phone-a').expect(200);
    const cA = (await pull(t, owner, c0, 'phone-a').expect(200)).body.timestamp;
    const cB = (await pull(t, member, null, 'phone-b').expect(200)).body.timestamp;

    // Phone B adds a lab value to the test and corrects another; phone A, which has not pulled since, deletes the test.
    const added = result({ name: 'Ferritin', value: 1800, unit: 'ng/mL' });
    await push(t, member, cB, { ...emptyChanges(), blood_test_results: { created: [added], updated: [{ ...edited, value: 160 }], deleted: [] } }, 'phone-b').expect(200);
    const version = (await pull(t, member, cB, 'phone-b').expect(200)).body.timestamp;
    const mine = result({ name: 'MCV', value: 80 }); // written by phone A in the same push: it knows this one
    const stale = await push(t, owner, cA, { ...changesOf('blood_tests', { deleted: [test.id] }), blood_test_results: { created: [mine], updated: [], deleted: [] } }, 'phone-a').expect(409);
    expect(stale.body.details.code).toBe('SYNC_CONFLICT');
    expect(Object.keys(stale.body.details.conflicts)).toEqual(['blood_test_results']);
    expect(stale.body.details.conflicts.blood_test_results.sort()).toEqual([added.id, edited.id].sort());
    // Nothing applied: no version taken, the test and its results are live, phone A's new result is not stored.
    const untouched = (await pull(t, member, null).expect(200)).body;
    expect(untouched.timestamp).toBe(version);
    expect(ids(untouched.changes.blood_tests.created)).toEqual([test.id]);
    expect(ids(untouched.changes.blood_test_results.created)).toEqual([seen.id, edited.id, added.id].sort());

    // Deleting one of them explicitly does not help: it changed after the cursor too (listed once).
    const explicit = await push(t, owner, cA, { ...changesOf('blood_tests', { deleted: [test.id] }), blood_test_results: { created: [], updated: [], deleted: [added.id] } }, 'phone-a').expect(409);
    expect(explicit.body.details.conflicts.blood_test_results.sort()).toEqual([added.id, edited.id].sort());

    // Phone A pulls (it now holds the new and the corrected values), deletes the test again: every result goes with it.
    const caughtUp = (await pull(t, owner, cA, 'phone-a').expect(200)).body;
    expect(ids(caughtUp.changes.blood_test_results.created)).toEqual([added.id]);
    expect(caughtUp.changes.blood_test_results.updated).toEqual([expect.objectContaining({ id: edited.id, value: 160 })]);
    await push(t, owner, caughtUp.timestamp, changesOf('blood_tests', { deleted: [test.id] }), 'phone-a').expect(200);
    const after = (await pull(t, member, version, 'phone-b').expect(200)).body.changes;
    expect(after.blood_tests.deleted).toEqual([test.id]);
    expect(after.blood_test_results.deleted.sort()).toEqual([seen.id, edited.id, added.id].sort());
  });

  it('deleting a blood test whose result another member deleted after last_pulled_at is no conflict: only live results are taken along (nothing of theirs is lost)', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const c0 = (await pull(t, owner).expect(200)).body.timestamp;
    const test = { id: randomUUID(), date: 1, comment: null, laboratory: 'Lab', created_at: 1, updated_at: 1 };
    const result = { id: randomUUID(), blood_test_id: test.id, name: 'Hb', value: 9.5, unit: 'g/dL', created_at: 1, updated_at: 1 };
    await push(t, owner, c0, { ...changesOf('blood_tests', { created: [test] }), blood_test_results: { created: [result], updated: [], deleted: [] } }, 'phone-a').expect(200);
    const cA = (await pull(t, owner, c0, 'phone-a').expect(200)).body.timestamp;
    const cB = (await pull(t, member, null, 'phone-b').expect(200)).body.timestamp;
    // Phone B deletes the result; phone A, which has not pulled since, deletes the test.
    await push(t, member, cB, { ...emptyChanges(), blood_test_results: { created: [], updated: [], deleted: [result.id] } }, 'phone-b').expect(200);
    await push(t, owner, cA, changesOf('blood_tests', { deleted: [test.id] }), 'phone-a').expect(200);
    const after = (await pull(t, member, cB, 'phone-b').expect(200)).body.changes;
    expect(after.blood_tests.deleted).toEqual([test.id]);
    expect(after.blood_test_results.deleted).toEqual([result.id]);
  });

  it('a retried push whose first attempt committed never duplicates: 409, then pull + push converge', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m, null, 'dev').expect(200)).body.timestamp;
    const a = transfusion();
    await push(t, m, c0, changesOf('transfusions', { created: [a] }), 'dev').expect(200);
    await push(t, m, c0, changesOf('transfusions', { created: [a] }), 'dev').expect(409);
    const again = (await pull(t, m, { last_pulled_at: c0 }, 'dev').expect(200)).body;
    expect(again.changes.transfusions.created).toEqual([]); // the device already has it
    expect(again.changes.transfusions.updated.map((r: { id: string }) => r.id)).toEqual([a.id]);
    await push(t, m, again.timestamp, changesOf('transfusions', { created: [a] }), 'dev').expect(200);
    const all = (await pull(t, m).expect(200)).body.changes.transfusions.created;
    expect(all).toHaveLength(1);
  });

  it('the family row: own id only, patient fields written, read-only columns ignored, no deletion', async () => {
    const m = await register(t);
    const first = (await pull(t, m).expect(200)).body;
    const row = first.changes.families.created[0];
    const pushed = { ...row, patient_name: 'Amir', patient_weight_kg: 24.5, invite_code: 'HACKED', created_at: 1 };
    await push(t, m, first.timestamp, changesOf('families', { updated: [pushed] })).expect(200);
    const me = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200);
    expect(me.body).toMatchObject({ patient_name: 'Amir', patient_weight_kg: 24.5, invite_code: m.inviteCode });
    const inc = (await pull(t, m, { last_pulled_at: first.timestamp }).expect(200)).body;
    expect(inc.changes.families.updated[0]).toMatchObject({ id: m.familyId, patient_name: 'Amir', invite_code: m.inviteCode, created_at: row.created_at });
    await push(t, m, inc.timestamp, changesOf('families', { deleted: [m.familyId] })).expect(422);
    await push(t, m, inc.timestamp, changesOf('families', { updated: [{ ...pushed, patient_weight_kg: 900 }] })).expect(422);
    await push(t, m, first.timestamp, changesOf('families', { updated: [pushed] })).expect(409);
    // A family record under an id that is no family at all (not only another family's): 403 too, never
    // an attempt to insert a family row (a mutant that dropped this check in the validator answered 500).
    const nowhere = randomUUID();
    for (const kind of ['created', 'updated'] as const) {
      const res = await push(t, m, inc.timestamp, changesOf('families', { [kind]: [{ ...pushed, id: nowhere }] }));
      expect({ kind, status: res.status, details: res.body.details }).toEqual({ kind, status: 403, details: { code: 'FORBIDDEN_RECORD', ids: { families: [nowhere] } } });
    }
    expect((await pull(t, m, { last_pulled_at: inc.timestamp }).expect(200)).body.timestamp).toBe(inc.timestamp);
  });

  it('isolation: another family\'s ids, family_id or blood test are refused (403) and its data is untouched', async () => {
    const victim = await register(t);
    const attacker = await register(t);
    const v0 = (await pull(t, victim).expect(200)).body.timestamp;
    const secret = transfusion({ notes: 'private' });
    const test = { id: randomUUID(), date: 1, comment: null, laboratory: 'Lab', created_at: 1, updated_at: 1 };
    const victimChanges = changesOf('transfusions', { created: [secret] });
    victimChanges.blood_tests.created = [test];
    await push(t, victim, v0, victimChanges).expect(200);
    const before = (await pull(t, victim).expect(200)).body;

    const a0 = (await pull(t, attacker).expect(200)).body.timestamp;
    const attempts = [
      changesOf('transfusions', { created: [{ ...secret, notes: 'overwritten' }] }),
      changesOf('transfusions', { updated: [{ ...secret, notes: 'overwritten' }] }),
      changesOf('transfusions', { deleted: [secret.id] }),
      changesOf('transfusions', { created: [transfusion({ family_id: victim.familyId })] }),
      changesOf('families', { updated: [{ ...before.changes.families.created[0], patient_name: 'pwned' }] }),
      changesOf('blood_test_results', { created: [{ id: randomUUID(), blood_test_id: test.id, name: 'Hb', value: 1, created_at: 1, updated_at: 1 }] }),
    ];
    for (const changes of attempts) {
      const res = await push(t, attacker, Number.MAX_SAFE_INTEGER, changes);
      expect(res.status).toBe(403);
      expect(res.body.details.code).toBe('FORBIDDEN_RECORD');
    }
    const after = (await pull(t, victim).expect(200)).body;
    expect(after).toEqual(before);
    const attackerView = (await pull(t, attacker).expect(200)).body;
    expect(attackerView.changes.transfusions.created).toEqual([]);
    expect(attackerView.changes.blood_test_results.created).toEqual([]);
    expect(attackerView.timestamp).toBe(a0);
  });

  it('replacement: a cursor from before the caller joined its family gets a full snapshot (every live row)', async () => {
    const owner = await register(t);
    const c0 = (await pull(t, owner).expect(200)).body.timestamp;
    await push(t, owner, c0, changesOf('transfusions', { created: [transfusion()] })).expect(200);
    const other = await register(t);
    const oldCursor = (await pull(t, other).expect(200)).body.timestamp;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${other.token}`).send({ invite_code: owner.inviteCode }).expect((r) => expect(r.status).toBeLessThan(300));
    const res = (await pull(t, other, { last_pulled_at: oldCursor }).expect(200)).body;
    expect(res.experimentalStrategy).toBe('replacement');
    // Every live row of the new family. Without X-Device-Id nothing records what the phone holds, so
    // they are listed by the cursor (`updated` up to it): a phone that still holds this very family
    // (a member added back) keeps the deletions it has not pushed; one of another family creates them.
    const rows = (table: string) => [...res.changes[table].created, ...res.changes[table].updated];
    expect(rows('transfusions')).toHaveLength(1);
    expect(rows('families').map((f: { id: string }) => f.id)).toEqual([owner.familyId]);
    expect(res.changes.transfusions.deleted).toEqual([]);
    const next = (await pull(t, other, { last_pulled_at: res.timestamp }).expect(200)).body;
    expect(next.experimentalStrategy).toBeUndefined();
    expect(next.changes.transfusions.created).toEqual([]);
  });

  it('replacement: a device whose last full snapshot was of another family, even with a cursor that looks current (defence in depth)', async () => {
    const owner = await register(t);
    const c0 = (await pull(t, owner).expect(200)).body.timestamp;
    await push(t, owner, c0, changesOf('transfusions', { created: [transfusion({ notes: 'new family' })] })).expect(200);
    const mover = await register(t);
    const m0 = (await pull(t, mover, null, 'mover-phone').expect(200)).body.timestamp;
    await push(t, mover, m0, changesOf('transfusions', { created: [transfusion({ notes: 'old family' })] }), 'mover-phone').expect(200);
    const oldCursor = (await pull(t, mover, { last_pulled_at: m0 }, 'mover-phone').expect(200)).body.timestamp;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${mover.token}`).send({ invite_code: owner.inviteCode }).expect(200);
    // Stand-in for a bug elsewhere: the join version ends up below the phone's cursor of the family left.
    const db = t.app.get(DataSource);
    await db.query('UPDATE users SET family_joined_version = $2 WHERE id = $1', [mover.userId, oldCursor - 1]);
    const res = (await pull(t, { ...mover, familyId: owner.familyId }, { last_pulled_at: oldCursor }, 'mover-phone').expect(200)).body;
    expect(res.experimentalStrategy).toBe('replacement');
    expect(res.changes.families.created.map((f: { id: string }) => f.id)).toEqual([owner.familyId]);
    expect(res.changes.transfusions.created.map((r: { notes: string }) => r.notes)).toEqual(['new family']);
    // Without a device id there is no record of what the phone holds: the cursor decides (incremental).
    const anonymous = (await pull(t, { ...mover, familyId: owner.familyId }, { last_pulled_at: oldCursor }).expect(200)).body;
    expect(anonymous.experimentalStrategy).toBeUndefined();
  });

  it('replacement with a cursor later than the family\'s version (another family\'s, from the same phone): the family\'s version is raised past it first, so the answer never goes back in time', async () => {
    const later = await register(t);
    const earlier = await register(t);
    // `earlier` last wrote before `later` did: its version is below the phone's cursor from `later`.
    const e0 = (await pull(t, earlier).expect(200)).body.timestamp;
    await push(t, earlier, e0, changesOf('transfusions', { created: [transfusion({ notes: 'earlier' })] })).expect(200);
    const l0 = (await pull(t, later, null, 'shared-phone').expect(200)).body.timestamp;
    const { timestamp: cursor } = (await push(t, later, l0, changesOf('transfusions', { created: [transfusion()] }), 'shared-phone').expect(200)).body;
    const before = (await pull(t, earlier, { last_pulled_at: 0 }).expect(200)).body.timestamp;
    expect(before).toBeLessThan(cursor);
    const res = (await pull(t, earlier, { last_pulled_at: cursor }, 'shared-phone').expect(200)).body;
    expect(res.experimentalStrategy).toBe('replacement');
    expect(res.timestamp).toBeGreaterThan(cursor);
    expect(res.changes.transfusions.created.map((r: { notes: string }) => r.notes)).toEqual(['earlier']);
    // The phone's next pull, from that timestamp, is an ordinary incremental one.
    const next = (await pull(t, earlier, { last_pulled_at: res.timestamp }, 'shared-phone').expect(200)).body;
    expect(next.experimentalStrategy).toBeUndefined();
    // A cursor far ahead of the clock was made up, not issued: the version is not raised to meet it.
    const madeUp = 4_000_000_000_000_000;
    const refused = (await pull(t, earlier, { last_pulled_at: madeUp }, 'shared-phone').expect(200)).body;
    expect(refused.experimentalStrategy).toBe('replacement');
    expect(refused.timestamp).toBeLessThan(madeUp);
    expect(refused.timestamp).toBeLessThan(Date.now() + 60_000);
  });

  it('replacement with a cursor equal to the family\'s version (another family\'s, from the same phone): the version is raised past it too, so one timestamp of the installation never names two families', async () => {
    const other = await register(t);
    const own = await register(t);
    const o0 = (await pull(t, other, null, 'equal-phone').expect(200)).body.timestamp;
    const { timestamp: cursor } = (await push(t, other, o0, changesOf('transfusions', { created: [transfusion()] }), 'equal-phone').expect(200)).body;
    await pull(t, other, { last_pulled_at: cursor }, 'equal-phone').expect(200); // the phone holds `other`'s family at `cursor`, on record
    await push(t, own, (await pull(t, own).expect(200)).body.timestamp, changesOf('transfusions', { created: [transfusion({ notes: 'own' })] })).expect(200);
    // `own`'s family at exactly the phone's cursor: equal versions, as two families' clocks can give.
    await t.app.get(DataSource).query('UPDATE families SET sync_version = $2 WHERE id = $1', [own.familyId, cursor]);
    const res = (await pull(t, own, { last_pulled_at: cursor }, 'equal-phone').expect(200)).body;
    expect(res.experimentalStrategy).toBe('replacement');
    expect(res.timestamp).toBeGreaterThan(cursor);
    expect(res.changes.transfusions.created.map((r: { notes: string }) => r.notes)).toEqual(['own']);
    expect((await pull(t, own, { last_pulled_at: res.timestamp }, 'equal-phone').expect(200)).body.experimentalStrategy).toBeUndefined();
  });

  describe('what an installation (X-Device-Id) holds, whoever is signed in (found by review)', () => {
    const notesOf = (body: { changes: { transfusions: { created: Array<{ notes: string }>; updated: Array<{ notes: string }> } } }) =>
      [...body.changes.transfusions.created, ...body.changes.transfusions.updated].map((r) => r.notes);
    /** A new family with one transfusion, synced from the member's own phone. */
    async function familyWith(note: string) {
      const m = await register(t);
      const c0 = (await pull(t, m, null, `own-${m.userId}`).expect(200)).body.timestamp;
      await push(t, m, c0, changesOf('transfusions', { created: [transfusion({ notes: note })] }), `own-${m.userId}`).expect(200);
      return m;
    }

    it.each([true, false])('another user signing in on a phone: a replacement whose answer is lost is a replacement again (cursor ahead of the family version: %s)', async (cursorAhead) => {
      const b = await familyWith('B history');
      const a = await familyWith('A private');
      const a0 = (await pull(t, a, null, 'handed-over').expect(200)).body.timestamp;
      const cursorA = (await pull(t, a, { last_pulled_at: a0 }, 'handed-over').expect(200)).body.timestamp;
      if (!cursorAhead) {
        // B's family writes after the phone's last pull: its version (the clock's) is above the phone's cursor.
        const bv = (await pull(t, b, { last_pulled_at: 0 }).expect(200)).body.timestamp;
        const { timestamp } = (await push(t, b, bv, changesOf('transfusions', { created: [transfusion({ notes: 'B newer' })] })).expect(200)).body;
        expect(timestamp).toBeGreaterThan(cursorA);
      }
      const first = (await pull(t, b, { last_pulled_at: cursorA }, 'handed-over').expect(200)).body;
      expect(first.experimentalStrategy).toBe('replacement');
      expect(first.timestamp).toBeGreaterThan(cursorA);
      // The answer never reached the phone: it still holds family A's records, at cursorA.
      const retry = (await pull(t, b, { last_pulled_at: cursorA }, 'handed-over').expect(200)).body;
      expect(retry.experimentalStrategy).toBe('replacement');
      expect(notesOf(retry)).toContain('B history');
      // Applied this time: from its timestamp on, ordinary incremental pulls.
      expect((await pull(t, b, { last_pulled_at: retry.timestamp }, 'handed-over').expect(200)).body.experimentalStrategy).toBeUndefined();
    });

    it('a cursor this installation has no record of (pulled without the header, trimmed, from before the records) is replaced once, then recorded', async () => {
      const m = await familyWith('kept');
      const cursor = (await pull(t, m, null).expect(200)).body.timestamp; // no X-Device-Id: nothing recorded
      const res = (await pull(t, m, { last_pulled_at: cursor }, 'new-header').expect(200)).body;
      expect(res.experimentalStrategy).toBe('replacement');
      expect((await pull(t, m, { last_pulled_at: res.timestamp }, 'new-header').expect(200)).body.experimentalStrategy).toBeUndefined();
      // Without the header there is nothing to look up: the cursor rules decide (incremental here).
      expect((await pull(t, m, { last_pulled_at: cursor }).expect(200)).body.experimentalStrategy).toBeUndefined();
    });

    it('a cursor the installation has no record of, on a phone whose latest answer (after an older one of another family) was of this family: the replacement lists rows by the cursor (`updated`), not as `created`', async () => {
      const a = await familyWith('A record');
      const b = await familyWith('B record');
      await pull(t, a, null, 'moved').expect(200); // long ago, family A on this phone
      const v = (await pull(t, b, null, 'moved').expect(200)).body.timestamp; // then family B: the installation's latest answer
      await push(t, b, v, changesOf('transfusions', { created: [transfusion({ notes: 'B later' })] }), `own-${b.userId}`).expect(200);
      const cursor = (await pull(t, b, null).expect(200)).body.timestamp; // without the header: not on record for 'moved'
      const res = (await pull(t, b, { last_pulled_at: cursor }, 'moved').expect(200)).body;
      expect(res.experimentalStrategy).toBe('replacement');
      // The phone may hold family B with deletions not pushed yet: `created` would make WatermelonDB re-create them.
      expect(res.changes.transfusions.created).toEqual([]);
      expect(notesOf(res).sort()).toEqual(['B later', 'B record']);
    });

    it('a replacement answered at the phone\'s own cursor (versions ahead of the clock, not raised) is recorded: the phone then pulls incrementally; handed back, it is replaced again (found by review)', async () => {
      const g = await familyWith('G record');
      const f = await familyWith('F record');
      const db = t.app.get(DataSource);
      const g0 = (await pull(t, g, null, 'skewed').expect(200)).body.timestamp;
      // The database clock ran ahead: both families' versions 20 minutes ahead of it.
      const ahead = Date.now() + 20 * 60_000;
      await db.query('UPDATE families SET sync_version = $2 WHERE id = ANY($1::uuid[])', [[g.familyId, f.familyId], ahead]);
      // Pulled once without the header: the cursor is not on record, so nothing shows it was issued.
      const cursor = (await pull(t, g, { last_pulled_at: g0 }).expect(200)).body.timestamp;
      expect(cursor).toBe(ahead);
      const handed = (await pull(t, f, { last_pulled_at: cursor }, 'skewed').expect(200)).body;
      expect([handed.experimentalStrategy, handed.timestamp]).toEqual(['replacement', ahead]); // too far ahead to be raised
      // Applied: the phone holds F at that timestamp, and its next pull is incremental (unrecorded, the cursor named
      // no family of this installation and F's phone was replaced again, its records sent as `created`).
      expect((await pull(t, f, { last_pulled_at: handed.timestamp }, 'skewed').expect(200)).body.experimentalStrategy).toBeUndefined();
      const back = (await pull(t, g, { last_pulled_at: cursor }, 'skewed').expect(200)).body;
      expect(back.experimentalStrategy).toBe('replacement');
      expect(notesOf(back)).toEqual(['G record']);
    });

    it('two phones sending one installation id (a restored backup): one user\'s own snapshot of another family still forces a replacement, whatever the other phone synced since', async () => {
      const a = await familyWith('F history');
      const b = await familyWith('FA private');
      const b0 = (await pull(t, b, null, 'cloned').expect(200)).body.timestamp;
      const cursorB = (await pull(t, b, { last_pulled_at: b0 }, 'cloned').expect(200)).body.timestamp; // phone 2: family FA
      await pull(t, a, null, 'cloned').expect(200); // phone 1, same id: a first sync of family F, the installation's latest
      await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${b.token}`).send({ invite_code: a.inviteCode }).expect(200);
      const res = (await pull(t, { ...b, familyId: a.familyId }, { last_pulled_at: cursorB }, 'cloned').expect(200)).body;
      expect(res.experimentalStrategy).toBe('replacement');
      expect(notesOf(res)).toEqual(['F history']);
    });

    it('two phones of two families sending one installation id: each goes on incrementally with its own family, never the other\'s (the cursor names the family)', async () => {
      const a = await familyWith('only A');
      const b = await familyWith('only B');
      let [ca, cb] = [(await pull(t, a, null, 'twin').expect(200)).body.timestamp, (await pull(t, b, null, 'twin').expect(200)).body.timestamp];
      for (let i = 0; i < 2; i++) {
        // Each family changes between the two phones' pulls.
        await push(t, a, ca, changesOf('transfusions', { created: [transfusion({ notes: `A ${i}` })] }), `own-${a.userId}`).expect(200);
        await push(t, b, cb, changesOf('transfusions', { created: [transfusion({ notes: `B ${i}` })] }), `own-${b.userId}`).expect(200);
        const ra = (await pull(t, a, { last_pulled_at: ca }, 'twin').expect(200)).body;
        const rb = (await pull(t, b, { last_pulled_at: cb }, 'twin').expect(200)).body;
        expect([ra.experimentalStrategy, rb.experimentalStrategy]).toEqual([undefined, undefined]);
        expect([notesOf(ra), notesOf(rb)]).toEqual([[`A ${i}`], [`B ${i}`]]);
        [ca, cb] = [ra.timestamp, rb.timestamp];
      }
    });
  });

  it('migration sync: new tables come as created, tables with new columns as updated', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const changes = changesOf('reminders', { created: [{ id: randomUUID(), title: 'Iron', remind_at: 5, frequency: 'weekly', is_completed: false, created_at: 1, updated_at: 1 }] });
    const document = { id: randomUUID(), name: 'Scan', category: 'imaging', notes: 'n', created_at: 1, updated_at: 1 };
    changes.documents.created = [document];
    changes.transfusions.created = [transfusion()];
    await push(t, m, c0, changes, 'old-phone').expect(200);
    // Another family's live rows of the same tables: a migration pull reads whole tables, of this family only.
    const other = await register(t);
    const o0 = (await pull(t, other).expect(200)).body.timestamp;
    const theirs = changesOf('documents', { created: [{ ...document, id: randomUUID(), notes: 'theirs' }] });
    theirs.reminders.created = [{ id: randomUUID(), title: 'Theirs', remind_at: 5, frequency: 'daily', is_completed: false, created_at: 1, updated_at: 1 }];
    await push(t, other, o0, theirs).expect(200);
    const c1 = (await pull(t, m, { last_pulled_at: c0 }, 'old-phone').expect(200)).body.timestamp;
    const migration = JSON.stringify({ from: 1, tables: ['reminders'], columns: [{ table: 'documents', columns: ['notes'] }] });
    const res = (await pull(t, m, { last_pulled_at: c1, schema_version: 2, migration }, 'old-phone').expect(200)).body;
    expect(res.changes.reminders.created.map((r: { id: string }) => r.id)).toEqual(changes.reminders.created.map((r) => (r as { id: string }).id));
    expect(res.changes.documents).toEqual({ created: [], updated: [expect.objectContaining({ id: document.id, notes: 'n' })], deleted: [] });
    expect(res.changes.transfusions).toEqual({ created: [], updated: [], deleted: [] });
    await pull(t, m, { last_pulled_at: c1, migration: '{"tables": 3}' }).expect(422);
  });

  it('schema_version 0 answers 400 naming it: it would get no table and a real timestamp, and the phone would never have the history (found by review)', async () => {
    const m = await register(t);
    const res = await pull(t, m, { schema_version: 0 }).expect(400);
    expect(res.body.details.fields).toEqual([expect.objectContaining({ field: 'schema_version' })]);
    expect((await pull(t, m, { schema_version: 1 }).expect(200)).body.changes.families.created).toHaveLength(1);
  });

  it('accepts lastPulledAt in the body, rejects bad parameters', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const a = transfusion();
    const c1 = (await t.http().post('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).send({ changes: withFamilyId(changesOf('transfusions', { created: [a] }), m.familyId), lastPulledAt: c0 }).expect(200)).body.timestamp;
    await t.http().post('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).send({ changes: changesOf('transfusions', { updated: [a] }), lastPulledAt: c0 }).expect(409);
    // The body's cursor is the one checked: at c1 the same update goes through (a missing cursor counts as 0, which would be a 409).
    await t.http().post('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).send({ changes: changesOf('transfusions', { updated: [{ ...a, notes: 'edited' }] }), lastPulledAt: c1 }).expect(200);
    await t.http().post('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).send({ changes: emptyChanges(), extra: 1 }).expect(422);
    await pull(t, m, { last_pulled_at: 'soon' }).expect(400);
    await pull(t, m, {}, 'bad device id with spaces').expect(422);
    // X-Device-Id is stored in varchar(200) columns: 200 characters are taken, 201 refused 422 before anything is stored.
    await pull(t, m, { last_pulled_at: c1 }, 'd'.repeat(200)).expect(200);
    const tooLong = 'd'.repeat(201);
    for (const res of [await pull(t, m, { last_pulled_at: c1 }, tooLong), await push(t, m, c1, changesOf('transfusions', { updated: [{ ...a, notes: 'again' }] }), tooLong)]) {
      expect({ status: res.status, details: res.body.details }).toEqual({ status: 422, details: expect.objectContaining({ field: 'X-Device-Id' }) });
    }
    // An empty X-Device-Id is no device, as documented (a client that has no id yet may send the header empty): pull and push go on.
    await pull(t, m, { last_pulled_at: c1 }).set('X-Device-Id', '').expect(200);
    await push(t, m, c1, withFamilyId(changesOf('transfusions', { created: [transfusion()] }), m.familyId)).set('X-Device-Id', '').expect(200);
    await t.http().get('/api/v1/sync').expect(401);
  });

  it('the pull goes out compressed when the client accepts it (as phones do): brotli or gzip by the client\'s preference, decoding to the very bytes of the plain answer; small answers and refusals go out plain', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    // 20 records with long notes: a first pull above the size compressed on the thread pool (64 KiB),
    // then 3 more: an incremental pull of a few KiB, compressed in line.
    const notes = (i: number) => `Transfusion ${i}: no reaction. `.repeat(150);
    const c1 = (await push(t, m, c0, changesOf('transfusions', { created: Array.from({ length: 20 }, (_, i) => transfusion({ notes: notes(i) })) })).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('transfusions', { created: Array.from({ length: 3 }, () => transfusion()) })).expect(200);
    for (const [path, size] of [['/api/v1/sync?last_pulled_at=null', [64 * 1024, Infinity]], [`/api/v1/sync?last_pulled_at=${c1}`, [COMPRESS_MIN_BYTES, 64 * 1024]]] as const) {
      await expectCompressedAsAsked(m, path, size);
    }
    // An incremental pull with nothing new is a few hundred bytes: sent as it is, still marked as varying.
    const last = JSON.parse((await rawGet(t, m, '/api/v1/sync?last_pulled_at=null', undefined)).body.toString()).timestamp;
    const small = await rawGet(t, m, `/api/v1/sync?last_pulled_at=${last}`, 'gzip, br');
    expect(small.body.length).toBeLessThan(COMPRESS_MIN_BYTES);
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers.vary).toMatch(/accept-encoding/i);
  });

  async function expectCompressedAsAsked(m: Member, path: string, [minBytes, maxBytes]: readonly [number, number]) {
    const plain = await rawGet(t, m, path, undefined);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.body.length).toBeGreaterThanOrEqual(minBytes);
    expect(plain.body.length).toBeLessThan(maxBytes);

    const encoded = {
      gzip: await rawGet(t, m, path, 'gzip'),
      // iOS: the order of a list says nothing (RFC 9110, 12.5.3: only q-values do), so brotli, the faster and smaller at these settings.
      'gzip, deflate, br': await rawGet(t, m, path, 'gzip, deflate, br'),
      'br;q=1, gzip;q=0.5': await rawGet(t, m, path, 'br;q=1, gzip;q=0.5'),
      'br;q=0.5, gzip': await rawGet(t, m, path, 'br;q=0.5, gzip'),
      '*': await rawGet(t, m, path, '*'),
    };
    expect(Object.fromEntries(Object.entries(encoded).map(([accept, r]) => [accept, r.headers['content-encoding']]))).toEqual({
      gzip: 'gzip',
      'gzip, deflate, br': 'br',
      'br;q=1, gzip;q=0.5': 'br',
      'br;q=0.5, gzip': 'gzip',
      '*': 'br',
    });
    for (const r of Object.values(encoded)) {
      expect(r.status).toBe(200);
      expect(r.headers.vary).toMatch(/accept-encoding/i);
      expect(Number(r.headers['content-length'])).toBe(r.body.length);
      expect(r.body.length).toBeLessThan(plain.body.length / 2);
      const decoded = r.headers['content-encoding'] === 'br' ? brotliDecompressSync(r.body) : gunzipSync(r.body);
      expect(decoded.equals(plain.body)).toBe(true);
    }
    for (const refused of ['identity', 'gzip;q=0, br;q=0', 'deflate']) {
      const r = await rawGet(t, m, path, refused);
      expect([refused, r.headers['content-encoding']]).toEqual([refused, undefined]);
      expect(r.body.equals(plain.body)).toBe(true);
    }
  }

  it('413 past SYNC_BODY_LIMIT_BYTES, nothing applied', async () => {
    const small = await createTestApp({ SYNC_BODY_LIMIT_BYTES: '4096' });
    try {
      const m = await register(small);
      const c0 = (await small.http().get('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).expect(200)).body.timestamp;
      const records = Array.from({ length: 40 }, () => transfusion());
      const res = await small.http().post(`/api/v1/sync?last_pulled_at=${c0}`).set('Authorization', `Bearer ${m.token}`).send({ changes: withFamilyId(changesOf('transfusions', { created: records }), m.familyId) });
      expect(res.status).toBe(413);
      expect(res.body.statusCode).toBe(413);
      expect(res.body.details).toEqual({ code: 'PAYLOAD_TOO_LARGE', max_bytes: 4096 });
      const after = (await small.http().get('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).expect(200)).body;
      expect(after.changes.transfusions.created).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('documents.file_url: a file uploaded by the family is accepted, another family\'s file is refused', async () => {
    const m = await register(t);
    const other = await register(t);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32, 7)]);
    const upload = async (who: Member) =>
      (await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${who.token}`).attach('file', png, { filename: 'scan.png', contentType: 'image/png' }).expect(201)).body;
    const mine = await upload(m);
    const theirs = await upload(other);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const doc = (fileUrl: string) => ({ id: randomUUID(), name: 'Scan', category: 'imaging', file_url: fileUrl, mime_type: mine.mime_type, size_bytes: mine.size_bytes, notes: null, created_at: 1, updated_at: 1 });
    await push(t, m, c0, changesOf('documents', { created: [doc(theirs.file_url)] })).expect(422);
    await push(t, m, c0, changesOf('documents', { created: [doc(mine.file_url)] })).expect(200);
    const pulled = (await pull(t, m).expect(200)).body.changes.documents.created;
    expect(pulled.map((d: { file_url: string }) => d.file_url)).toEqual([mine.file_url]);
  });
});
