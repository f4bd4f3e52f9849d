import { createTestApp, type TestApp } from '../setup/test-app.js';
import { Device, syncProblems, clientLog, type Raw } from '../sync-client/device.js';
import { register, registerFamily, type Member } from '../sync-client/family.js';
import { TABLE_NAMES } from '../sync-client/schema.js';

/** One record per table (families aside): what a caregiver typically enters. */
async function createOneOfEach(d: Device): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  ids.transfusions = await d.create('transfusions', {
    date: 1_764_000_000_000,
    volume_ml: 300,
    patient_weight_kg: 30,
    indicators_before: JSON.stringify({ hb: 7 }),
    hospital: 'City',
  });
  ids.blood_tests = await d.create('blood_tests', { date: 1_764_000_000_000, laboratory: 'Lab A' });
  ids.blood_test_results = await d.create('blood_test_results', { blood_test_id: ids.blood_tests, name: 'Hb', value: 9.1, unit: 'g/dL' });
  ids.analysis_templates = await d.create('analysis_templates', { name: 'CBC', indicators_json: JSON.stringify(['Hb', 'PLT']) });
  ids.reminders = await d.create('reminders', { title: 'Deferasirox', remind_at: 1_764_100_000_000, frequency: 'daily', is_completed: false });
  ids.documents = await d.create('documents', { name: 'Discharge', category: 'discharge_summary' });
  return ids;
}

const EDITS: Record<string, Record<string, unknown>> = {
  transfusions: { volume_ml: 280, notes: 'slow drip' },
  blood_tests: { comment: 'fasting' },
  blood_test_results: { value: 9.8 },
  analysis_templates: { indicators_json: JSON.stringify(['Hb']) },
  reminders: { is_completed: true, completed_at: 1_764_200_000_000 },
  documents: { notes: 'original at home' },
};

describe('sync with the real WatermelonDB client', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(async () => {
    await t.close();
  });
  afterAll(() => {
    // The whole run: the client never reported a sync anomaly ("serious bug", timestamps going back…).
    expect(syncProblems()).toEqual([]);
  });

  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });
  /** Both phones synced (each also receives the server's echo of its own push), then compared record for record. */
  const sameData = async (a: Device, b: Device) => {
    await a.sync();
    await b.sync();
    await a.sync();
    expect(await a.snapshot()).toEqual(await b.snapshot());
  };

  it('create, update and delete in every table propagate between devices of a family', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    await phoneB.sync();
    const ids = await createOneOfEach(phoneA);
    await phoneA.sync();
    await phoneB.sync();
    await sameData(phoneA, phoneB);
    for (const table of Object.keys(ids)) expect(await phoneB.find(table, ids[table])).not.toBeNull();
    expect((await phoneB.find('blood_test_results', ids.blood_test_results))!.blood_test_id).toBe(ids.blood_tests);

    for (const [table, values] of Object.entries(EDITS)) await phoneB.update(table, ids[table], values);
    await phoneB.update('families', owner.familyId, { patient_name: 'Amir', patient_weight_kg: 30.5 });
    await phoneB.sync();
    await phoneA.sync();
    await sameData(phoneA, phoneB);
    for (const [table, values] of Object.entries(EDITS)) expect(await phoneA.find(table, ids[table])).toMatchObject(values);
    expect(await phoneA.find('families', owner.familyId)).toMatchObject({ patient_name: 'Amir', invite_code: owner.inviteCode });

    for (const table of ['transfusions', 'analysis_templates', 'reminders', 'documents', 'blood_tests']) await phoneA.remove(table, ids[table]);
    await phoneA.sync();
    await phoneB.sync();
    for (const table of Object.keys(ids)) expect(await phoneB.find(table, ids[table])).toBeNull(); // results go with their test
    await sameData(phoneA, phoneB);
    // Syncing again changes nothing and logs nothing.
    await phoneA.sync();
    await phoneB.sync();
    await sameData(phoneA, phoneB);
  });

  it('offline edits: different columns merge, the same column takes the later push', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    const id = await phoneA.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'n0', medication: 'm0' });
    await phoneA.sync();
    await phoneB.sync();

    // Both offline.
    await phoneA.update('transfusions', id, { hospital: 'North', notes: 'from A' });
    await phoneB.update('transfusions', id, { medication: 'from B', notes: 'from B' });
    await phoneA.sync(); // first push
    await expect(phoneB.sync()).resolves.toBeUndefined(); // pulls A's version, keeps its own columns, pushes
    await phoneA.sync();
    const expected = { hospital: 'North', medication: 'from B', notes: 'from B', volume_ml: 250 };
    expect(await phoneA.find('transfusions', id)).toMatchObject(expected);
    expect(await phoneB.find('transfusions', id)).toMatchObject(expected);
    await sameData(phoneA, phoneB);
  });

  it('a device that joins later gets everything; another family sees nothing', async () => {
    const [owner] = await registerFamily(t);
    const phoneA = device(owner);
    await phoneA.sync();
    const ids = await createOneOfEach(phoneA);
    await phoneA.sync();
    await phoneA.remove('transfusions', ids.transfusions);
    await phoneA.sync();

    const late = await register(t, owner.inviteCode);
    const phoneLate = device(late);
    await phoneLate.sync();
    await sameData(phoneA, phoneLate);
    expect(await phoneLate.find('transfusions', ids.transfusions)).toBeNull();

    const stranger = await register(t);
    const phoneX = device(stranger);
    await phoneX.sync();
    const seen = await phoneX.snapshot();
    for (const table of TABLE_NAMES) {
      const rows = seen[table] as Raw[];
      if (table === 'families') expect(rows.map((r) => r.id)).toEqual([stranger.familyId]);
      else expect(rows).toEqual([]);
    }
  });

  it('a phone that switches family replaces its data (replacement pull) without client errors', async () => {
    const [familyA] = await registerFamily(t);
    const [familyB] = await registerFamily(t);
    const phoneA = device(familyA);
    await phoneA.sync();
    await createOneOfEach(phoneA);
    await phoneA.sync();
    const phoneB = device(familyB);
    await phoneB.sync();
    await createOneOfEach(phoneB);
    await phoneB.sync();

    const joined = await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${familyB.token}`).send({ invite_code: familyA.inviteCode });
    expect(joined.status).toBeLessThan(300);
    await phoneB.sync();
    await sameData(phoneA, phoneB);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });

  it('a member removed and re-added catches up incrementally on the same phone, without client errors', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const ownerPhone = device(owner);
    const memberPhone = device(member);
    await ownerPhone.sync();
    await createOneOfEach(ownerPhone);
    await ownerPhone.sync();
    await memberPhone.sync();

    await t.http().delete(`/api/v1/families/me/members/${member.userId}`).set('Authorization', `Bearer ${owner.token}`).expect(204);
    // While the member is out, the family's history goes on.
    const later = await ownerPhone.create('transfusions', { date: 1_764_300_000_000, volume_ml: 300 });
    await ownerPhone.sync();
    const rejoined = await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${member.token}`).send({ invite_code: owner.inviteCode });
    expect(rejoined.status).toBe(200);

    // The phone still holds this family's data (its last full snapshot was of this family):
    // an incremental pull, not a replacement that would re-send everything as `created`.
    await memberPhone.sync();
    expect(await memberPhone.find('transfusions', later)).not.toBeNull();
    await sameData(ownerPhone, memberPhone);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });
});

