import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { register, type Member } from '../sync-client/family.js';

const TABLES = ['families', 'transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];
const now = () => Date.now();

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

function empty(): Record<string, { created: unknown[]; updated: unknown[]; deleted: string[] }> {
  return Object.fromEntries(TABLES.map((t) => [t, { created: [], updated: [], deleted: [] }]));
}

function changesOf(table: string, part: { created?: unknown[]; updated?: unknown[]; deleted?: string[] }) {
  const changes = empty();
  changes[table] = { created: [], updated: [], deleted: [], ...part };
  return changes;
}

describe('sync protocol over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  const pull = (m: Member, query: Record<string, string | number | null> = {}, device?: string) => {
    const req = t.http().get('/api/v1/sync').query(query).set('Authorization', `Bearer ${m.token}`);
    return device ? req.set('X-Device-Id', device) : req;
  };
  const push = (m: Member, lastPulledAt: number, changes: unknown, device?: string) => {
    const req = t.http().post(`/api/v1/sync?last_pulled_at=${lastPulledAt}`).set('Authorization', `Bearer ${m.token}`).send({ changes });
    return device ? req.set('X-Device-Id', device) : req;
  };

  it('first sync: every table, the family row as created, timestamp = family version', async () => {
    const m = await register(t);
    const res = await pull(m).expect(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(Object.keys(res.body.changes).sort()).toEqual([...TABLES].sort());
    expect(res.body.timestamp).toEqual(expect.any(Number));
    expect(res.body.changes.families.created).toHaveLength(1);
    const family = res.body.changes.families.created[0];
    expect(family).toMatchObject({ id: m.familyId, family_id: m.familyId, invite_code: m.inviteCode });
    expect(family).not.toHaveProperty('server_version');
    expect(family).not.toHaveProperty('sync_version');
    for (const table of TABLES.slice(1)) expect(res.body.changes[table]).toEqual({ created: [], updated: [], deleted: [] });
  });

  it('push then pull: wire format round-trips; own device gets updated, others created', async () => {
    const m = await register(t);
    const first = (await pull(m).expect(200)).body.timestamp as number;
    const record = transfusion();
    const pushed = await push(m, first, changesOf('transfusions', { created: [record] }), 'device-a').expect(200);
    expect(pushed.body.timestamp).toBeGreaterThan(first);

    const own = (await pull(m, { last_pulled_at: first }, 'device-a').expect(200)).body;
    expect(own.changes.transfusions.created).toEqual([]);
    expect(own.changes.transfusions.updated).toHaveLength(1);
    const { _status, _changed, ...wire } = record;
    expect(own.changes.transfusions.updated[0]).toEqual({ ...wire, family_id: m.familyId, indicators_before: '{"hb": 7.1, "ferritin": 1200}' });
    expect(own.timestamp).toBe(pushed.body.timestamp);

    const other = (await pull(m, { last_pulled_at: first }, 'device-b').expect(200)).body;
    expect(other.changes.transfusions.created.map((r: { id: string }) => r.id)).toEqual([record.id]);
    const nodevice = (await pull(m, { last_pulled_at: first }).expect(200)).body;
    expect(nodevice.changes.transfusions.created).toHaveLength(1);
    const nothing = (await pull(m, { last_pulled_at: own.timestamp }, 'device-b').expect(200)).body;
    expect(nothing.changes.transfusions).toEqual({ created: [], updated: [], deleted: [] });
  });
});
