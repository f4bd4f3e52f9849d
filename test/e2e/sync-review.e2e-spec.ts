import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { register, type Member } from '../sync-client/family.js';

/** Edge cases found in review: each answered 500 or misbehaved before its fix. */
const TABLES = ['families', 'transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];
type Changes = Record<string, { created: unknown[]; updated: unknown[]; deleted: string[] }>;
const empty = (): Changes => Object.fromEntries(TABLES.map((t) => [t, { created: [], updated: [], deleted: [] }]));
const changesOf = (table: string, part: Partial<Changes[string]>): Changes => ({ ...empty(), [table]: { created: [], updated: [], deleted: [], ...part } });
const transfusion = (overrides: Record<string, unknown> = {}) => ({ id: randomUUID(), date: 1, volume_ml: 250, created_at: 11, updated_at: 12, ...overrides });

describe('sync review: edge cases', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  const pull = (m: Member, cursor?: number, device?: string) => {
    const req = t.http().get('/api/v1/sync').query(cursor === undefined ? {} : { last_pulled_at: cursor }).set('Authorization', `Bearer ${m.token}`);
    return device ? req.set('X-Device-Id', device) : req;
  };
  const push = (m: Member, cursor: number, changes: unknown, device?: string) => {
    const req = t.http().post(`/api/v1/sync?last_pulled_at=${cursor}`).set('Authorization', `Bearer ${m.token}`).send({ changes });
    return device ? req.set('X-Device-Id', device) : req;
  };

  it('created_at / updated_at pushed as null never answer 500: stored values are kept, new rows get the server time', async () => {
    const m = await register(t);
    const c0 = (await pull(m).expect(200)).body.timestamp;
    const row = transfusion();
    await push(m, c0, changesOf('transfusions', { created: [row] })).expect(200);
    const first = (await pull(m).expect(200)).body;
    const family = first.changes.families.created[0];

    await push(m, first.timestamp, changesOf('transfusions', { updated: [{ ...row, notes: 'n', created_at: null, updated_at: null }] })).expect(200);
    const fresh = transfusion({ created_at: null, updated_at: null });
    await push(m, first.timestamp, changesOf('transfusions', { created: [fresh] })).expect(200);
    await push(m, first.timestamp, changesOf('families', { updated: [{ ...family, patient_name: 'A', updated_at: null }] })).expect(200);

    const after = (await pull(m).expect(200)).body;
    const byId = new Map(after.changes.transfusions.created.map((r: { id: string }) => [r.id, r]));
    expect(byId.get(row.id)).toMatchObject({ notes: 'n', created_at: 11, updated_at: 12 });
    expect(byId.get(fresh.id)).toMatchObject({ created_at: expect.any(Number), updated_at: expect.any(Number) });
    expect(after.changes.families.created[0]).toMatchObject({ patient_name: 'A', updated_at: family.updated_at });
  });

  it('validates the patient fields of the families row exactly as PATCH /families/me does', async () => {
    const m = await register(t);
    const first = (await pull(m).expect(200)).body;
    const family = first.changes.families.created[0];
    const pushFamily = (fields: Record<string, unknown>) => push(m, first.timestamp, changesOf('families', { updated: [{ ...family, ...fields }] }));

    const bad = await pushFamily({ patient_blood_group: 'Z+' }).expect(422);
    expect(JSON.stringify(bad.body.details)).toContain('patient_blood_group');
    await pushFamily({ patient_birth_date: -2_300_000_000_000 }).expect(422); // before 1900
    // An adult patient born in 1965 (before the epoch), and '' meaning "no blood group set".
    await pushFamily({ patient_birth_date: -141_000_000_000, patient_blood_group: '' }).expect(200);
    const rest = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200);
    expect(rest.body).toMatchObject({ patient_birth_date: -141_000_000_000, patient_blood_group: null });
  });
});

