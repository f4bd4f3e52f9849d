import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { useTestApp } from '../setup/test-app.js';
import { changesOf, emptyChanges, pull, push } from '../factories/sync.factory.js';
import { register, withFamilyId } from '../sync-client/family.js';

/** Edge cases found in review: each answered 500 or misbehaved before its fix. */
const transfusion = (overrides: Record<string, unknown> = {}) => ({ id: randomUUID(), date: 1, volume_ml: 250, created_at: 11, updated_at: 12, ...overrides });

describe('sync review: edge cases', () => {
  const t = useTestApp();

  it('created_at / updated_at pushed as null never answer 500: stored values are kept, new rows get the server time', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const row = transfusion();
    await push(t, m, c0, changesOf('transfusions', { created: [row] })).expect(200);
    const first = (await pull(t, m).expect(200)).body;
    const family = first.changes.families.created[0];

    await push(t, m, first.timestamp, changesOf('transfusions', { updated: [{ ...row, notes: 'n', created_at: null, updated_at: null }] })).expect(200);
    const fresh = transfusion({ created_at: null, updated_at: null });
    await push(t, m, first.timestamp, changesOf('transfusions', { created: [fresh] })).expect(200);
    await push(t, m, first.timestamp, changesOf('families', { updated: [{ ...family, patient_name: 'A', updated_at: null }] })).expect(200);

    const after = (await pull(t, m).expect(200)).body;
    const byId = new Map(after.changes.transfusions.created.map((r: { id: string }) => [r.id, r]));
    expect(byId.get(row.id)).toMatchObject({ notes: 'n', created_at: 11, updated_at: 12 });
    expect(byId.get(fresh.id)).toMatchObject({ created_at: expect.any(Number), updated_at: expect.any(Number) });
    expect(after.changes.families.created[0]).toMatchObject({ patient_name: 'A', updated_at: family.updated_at });
  });

  it('validates the patient fields of the families row exactly as PATCH /families/me does', async () => {
    const m = await register(t);
    const first = (await pull(t, m).expect(200)).body;
    const family = first.changes.families.created[0];
    const pushFamily = (fields: Record<string, unknown>) => push(t, m, first.timestamp, changesOf('families', { updated: [{ ...family, ...fields }] }));

    const bad = await pushFamily({ patient_blood_group: 'Z+' }).expect(422);
    expect(JSON.stringify(bad.body.details)).toContain('patient_blood_group');
    await pushFamily({ patient_birth_date: -2_300_000_000_000 }).expect(422); // before 1900
    // An adult patient born in 1965 (before the epoch), and '' meaning "no blood group set".
    await pushFamily({ patient_birth_date: -141_000_000_000, patient_blood_group: '' }).expect(200);
    const rest = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200);
    expect(rest.body).toMatchObject({ patient_birth_date: -141_000_000_000, patient_blood_group: null });
  });

  it('family_id: a new record must name the caller\'s family (422 when empty, missing or not a string; 403 when another family\'s); an existing one may leave it out', async () => {
    const m = await register(t);
    const other = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const raw = (changes: unknown) => t.http().post(`/api/v1/sync?last_pulled_at=${c0}`).set('Authorization', `Bearer ${m.token}`).send({ changes });
    for (const [value, status] of [[undefined, 422], ['', 422], [null, 422], [5, 422], [{ id: m.familyId }, 422], [other.familyId, 403]] as const) {
      const record: Record<string, unknown> = transfusion();
      if (value !== undefined) record.family_id = value;
      const res = await raw(changesOf('transfusions', { created: [record] }));
      expect({ value, status: res.status }).toEqual({ value, status });
      if (status === 422) expect(res.body.details).toMatchObject({ table: 'transfusions', id: record.id, field: 'family_id' });
    }
    // An updated record the server does not have becomes a new record: the same rule.
    const missing = transfusion();
    const res = await raw(changesOf('transfusions', { updated: [missing] })).expect(422);
    expect(res.body.details).toMatchObject({ table: 'transfusions', id: missing.id, field: 'family_id' });
    expect((await pull(t, m).expect(200)).body.timestamp).toBe(c0); // nothing applied by any of them

    const named = transfusion({ family_id: m.familyId });
    await raw(changesOf('transfusions', { created: [named] })).expect(200);
    const c1 = (await pull(t, m).expect(200)).body.timestamp;
    await t.http().post(`/api/v1/sync?last_pulled_at=${c1}`).set('Authorization', `Bearer ${m.token}`)
      .send({ changes: changesOf('transfusions', { updated: [{ ...transfusion({ id: named.id }), family_id: '', notes: 'edited' }] }) })
      .expect(200);
    expect((await pull(t, m).expect(200)).body.changes.transfusions.created[0]).toMatchObject({ id: named.id, family_id: m.familyId, notes: 'edited' });
  });

  it('a push whose cursor is later than the family\'s version answers 409 and overwrites nothing', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const row = transfusion({ notes: 'v1' });
    await push(t, m, c0, changesOf('transfusions', { created: [row] })).expect(200);
    const c1 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('transfusions', { updated: [{ ...row, notes: 'newer edit' }] })).expect(200);
    const c2 = (await pull(t, m).expect(200)).body.timestamp;
    const stale = await push(t, m, c2 + 1, changesOf('transfusions', { updated: [{ ...row, notes: 'stale overwrite' }] })).expect(409);
    expect(stale.body.details).toMatchObject({ code: 'SYNC_CONFLICT', field: 'last_pulled_at' });
    await push(t, m, Number.MAX_SAFE_INTEGER, changesOf('transfusions', { created: [transfusion()] })).expect(409);
    const after = (await pull(t, m).expect(200)).body;
    expect(after.timestamp).toBe(c2);
    expect(after.changes.transfusions.created.map((r: { notes: string }) => r.notes)).toEqual(['newer edit']);
  });

  it('refusal order is validate → 403 → 409: a result under a missing or deleted blood test is a 422 even beside a conflicting record', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const test = { id: randomUUID(), date: 1, laboratory: 'Lab', created_at: 1, updated_at: 1 };
    const row = transfusion();
    await push(t, m, c0, { ...changesOf('transfusions', { created: [row] }), blood_tests: { created: [test], updated: [], deleted: [] } }).expect(200);
    const c1 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('blood_tests', { deleted: [test.id] })).expect(200);
    const c2 = (await pull(t, m).expect(200)).body.timestamp;
    const result = (bloodTestId: string) => ({ id: randomUUID(), blood_test_id: bloodTestId, name: 'Hb', value: 9, created_at: 1, updated_at: 1 });

    // `row` changed after c0 (409 material), and the result's test does not exist: 422 first.
    const missing = result(randomUUID());
    const bad = await push(t, m, c0, { ...changesOf('transfusions', { updated: [{ ...row, notes: 'stale' }] }), blood_test_results: { created: [missing], updated: [], deleted: [] } });
    expect(bad.status).toBe(422);
    expect(bad.body.details).toMatchObject({ table: 'blood_test_results', id: missing.id, field: 'blood_test_id' });

    // A result under a blood test deleted earlier: 422 naming blood_test_id, nothing stored.
    const orphan = result(test.id);
    const refused = await push(t, m, c2, changesOf('blood_test_results', { created: [orphan] })).expect(422);
    expect(refused.body.details).toMatchObject({ table: 'blood_test_results', id: orphan.id, field: 'blood_test_id' });
    expect(refused.body.message).toMatch(/deleted/);
    // A blood test deleted in the same push takes the pushed result along.
    const test2 = { ...test, id: randomUUID() };
    await push(t, m, c2, changesOf('blood_tests', { created: [test2] })).expect(200);
    const c3 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c3, { ...changesOf('blood_tests', { deleted: [test2.id] }), blood_test_results: { created: [result(test2.id)], updated: [], deleted: [] } }).expect(200);
    const live = (await pull(t, m).expect(200)).body.changes;
    expect(live.blood_tests.created).toEqual([]);
    expect(live.blood_test_results.created).toEqual([]);
  });

  it('a push that changes nothing (no records, or only deletions of missing or deleted rows) takes no version and tells no device', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const row = transfusion();
    await push(t, m, c0, changesOf('transfusions', { created: [row] })).expect(200);
    const c1 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('transfusions', { deleted: [row.id] })).expect(200);
    const c2 = (await pull(t, m).expect(200)).body.timestamp;
    for (const changes of [{}, emptyChanges(), changesOf('transfusions', { deleted: [row.id, randomUUID()] })]) {
      const res = await push(t, m, c2, changes).expect(200);
      expect(res.body.timestamp).toBe(c2);
    }
    expect((await pull(t, m).expect(200)).body.timestamp).toBe(c2);
  });

  it('a pull without X-Device-Id leaves the device records of the user\'s other phones alone', async () => {
    const m = await register(t);
    await pull(t, m, undefined, 'phone-1').expect(200);
    await pull(t, m, undefined, 'phone-2').expect(200);
    await pull(t, m).expect(200); // a first sync from somewhere without a device id
    const db = t.app.get(DataSource);
    const rows: Array<{ device_id: string }> = await db.query('SELECT DISTINCT device_id FROM sync_cursors WHERE family_id = $1 ORDER BY device_id', [m.familyId]);
    expect(rows.map((r) => r.device_id)).toEqual(['phone-1', 'phone-2']);
  });

  it('the pull body is compact JSON written as PostgreSQL built it, without an ETag', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c0, changesOf('transfusions', { created: [transfusion({ indicators_before: '{ "hb" : 7.5 }' })] })).expect(200);
    // Plain, as asked: the bytes on the wire are then the text PostgreSQL built (compressed pulls: sync-protocol).
    const res = await t.http().get('/api/v1/sync').set('Authorization', `Bearer ${m.token}`).set('Accept-Encoding', 'identity').buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => (text += chunk));
      r.on('end', () => cb(null, text));
    });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const text = res.body as unknown as string;
    expect(text).not.toContain('" : ');
    expect(text.startsWith('{"changes":{"families":{"created":[{"id":')).toBe(true);
    const body = JSON.parse(text);
    expect(body.changes.transfusions.created[0].indicators_before).toBe('{"hb":7.5}');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(text));
  });

  it('JSON columns come back compact, extreme numbers exactly: a pull is no bigger than the push that wrote it (stored as jsonb, 5e-324 came back as 326 characters)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const extremes = { tiny: 5e-324, huge: 1e308, max: -1.7976931348623157e308, min: 2.2250738585072014e-308, big: 123456789012345680000, hb: 7.1 };
    const row = transfusion({ indicators_before: JSON.stringify(extremes), indicators_after: '{ "hb" : 1e-300, "hct": 3.0E+1 }' });
    const template = { id: randomUUID(), name: 'CBC', indicators_json: '[ "Hb" ,  "\\u00e9" ]', created_at: 1, updated_at: 1 };
    await push(t, m, c0, { ...changesOf('transfusions', { created: [row] }), analysis_templates: { created: [template], updated: [], deleted: [] } }).expect(200);
    const { changes } = (await pull(t, m, c0, 'another-phone').expect(200)).body;
    const [pulled] = changes.transfusions.created;
    expect(pulled.indicators_before).toBe(JSON.stringify(extremes));
    expect(JSON.parse(pulled.indicators_before)).toEqual(extremes);
    expect(pulled.indicators_after).toBe('{"hb":1e-300,"hct":30}');
    expect(changes.analysis_templates.created[0].indicators_json).toBe('["Hb","\u00e9"]');

    // 20 records of 2 × 500 indicators of 5e-324: a 0.3 MB push was a 6.8 MB pull.
    const tiny = JSON.stringify(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 5e-324])));
    const many = Array.from({ length: 20 }, () => transfusion({ indicators_before: tiny, indicators_after: tiny }));
    const body = JSON.stringify({ changes: withFamilyId(changesOf('transfusions', { created: many }), m.familyId) });
    const c1 = (await pull(t, m, c0).expect(200)).body.timestamp;
    await t.http().post(`/api/v1/sync?last_pulled_at=${c1}`).set('Authorization', `Bearer ${m.token}`).set('Content-Type', 'application/json').send(body).expect(200);
    const res = await t.http().get('/api/v1/sync').query({ last_pulled_at: c1 }).set('Authorization', `Bearer ${m.token}`).set('X-Device-Id', 'another-phone')
      .buffer(true).parse((r, cb) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (chunk: string) => (text += chunk));
        r.on('end', () => cb(null, text));
      });
    const text = res.body as unknown as string;
    expect(JSON.parse(text).changes.transfusions.created).toHaveLength(20);
    expect(text.length).toBeLessThan(body.length * 1.1);
  });

  it('a 422 repeats a client-sent table, column or body property name cut to 64 characters: a 1 MB name was sent back three times (found by review)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const name = 'k'.repeat(1_000_000);
    const send = (body: Record<string, unknown>) => t.http().post(`/api/v1/sync?last_pulled_at=${c0}`).set('Authorization', `Bearer ${m.token}`).send(body);
    const column: Record<string, unknown> = transfusion({ family_id: m.familyId });
    column[name] = 1;
    const cases = [
      { body: { changes: changesOf('transfusions', { created: [column] }) }, at: { table: 'transfusions', id: column.id } },
      { body: { changes: { [name]: { created: [] } } }, at: {} },
      { body: { changes: { transfusions: { [name]: [] } } }, at: { table: 'transfusions' } },
      { body: { changes: {}, [name]: 1 }, at: {} },
    ];
    for (const { body, at } of cases) {
      const res = await send(body).expect(422);
      expect(res.body.details).toMatchObject(at);
      const named = [res.body.details.table, res.body.details.field, ...(res.body.details.errors ?? []).flatMap((e: { table: string; field: string }) => [e.table, e.field])];
      for (const echoed of named.filter((n: string | null | undefined) => n?.startsWith('kkk'))) expect(echoed).toBe(`${'k'.repeat(64)}…`);
      expect(res.text.length).toBeLessThan(2_000);
    }
    expect((await pull(t, m, c0).expect(200)).body.timestamp).toBe(c0);
  });

  it('the sync body limit applies however the path is spelled (Express routes case-insensitively)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    // Over the 1 MiB default limit of other routes, well under the sync limit.
    const records = Array.from({ length: 1 }, () => transfusion({ notes: 'x'.repeat(15_000) }));
    const padding = Array.from({ length: 100 }, () => transfusion({ notes: 'y'.repeat(15_000) }));
    const big = withFamilyId(changesOf('transfusions', { created: [...records, ...padding] }), m.familyId);
    expect(JSON.stringify(big).length).toBeGreaterThan(1024 * 1024);
    const res = await t.http().post(`/API/V1/SYNC?last_pulled_at=${c0}`).set('Authorization', `Bearer ${m.token}`).send({ changes: big });
    expect(res.status).toBe(200);
  });
});
