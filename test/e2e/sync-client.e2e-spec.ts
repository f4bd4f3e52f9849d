import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { useTestApp } from '../setup/test-app.js';
import { Device, LostResponseError, SyncHttpError, syncProblems, clientLog, type Raw } from '../sync-client/device.js';
import { register, registerFamily, type Member } from '../sync-client/family.js';
import { migrationsToV2, schemaV1, schemaV2, TABLE_NAMES } from '../sync-client/schema.js';

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
  const t = useTestApp();
  afterAll(() => {
    // The whole run: the client never reported a sync anomaly ("serious bug", timestamps going back…).
    expect(syncProblems()).toEqual([]);
  });

  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });
  /** Two members' phones of one family, both holding one transfusion (A created it). */
  async function twoPhonesWithATransfusion() {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    const id = await phoneA.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'n0', medication: 'm0' });
    await phoneA.sync();
    await phoneB.sync();
    return { phoneA, phoneB, id };
  }
  /** Two phones of one family holding a blood test with one result (Hb), written by phone A. */
  async function twoPhonesWithABloodTest() {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    const test = await phoneA.create('blood_tests', { date: 1_764_000_000_000, laboratory: 'Lab A' });
    const known = await phoneA.create('blood_test_results', { blood_test_id: test, name: 'Hb', value: 9.1, unit: 'g/dL' });
    await phoneA.sync();
    await phoneB.sync();
    return { phoneA, phoneB, test, known };
  }
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

    // A result deleted on its own, then every other record (the remaining result goes with its test).
    const second = await phoneB.create('blood_test_results', { blood_test_id: ids.blood_tests, name: 'Ferritin', value: 1800, unit: 'ng/mL' });
    await phoneB.sync();
    await phoneA.sync();
    expect(await phoneA.find('blood_test_results', second)).toMatchObject({ name: 'Ferritin', blood_test_id: ids.blood_tests });
    await phoneA.remove('blood_test_results', ids.blood_test_results);
    await phoneA.sync();
    await phoneB.sync();
    expect(await phoneB.find('blood_test_results', ids.blood_test_results)).toBeNull();
    expect(await phoneB.find('blood_test_results', second)).not.toBeNull();
    for (const table of ['transfusions', 'analysis_templates', 'reminders', 'documents', 'blood_tests']) await phoneA.remove(table, ids[table]);
    await phoneA.sync();
    await phoneB.sync();
    for (const table of Object.keys(ids)) expect(await phoneB.find(table, ids[table])).toBeNull();
    expect(await phoneB.find('blood_test_results', second)).toBeNull(); // deleted with its test
    await sameData(phoneA, phoneB);
    // Syncing again changes nothing and logs nothing.
    await phoneA.sync();
    await phoneB.sync();
    await sameData(phoneA, phoneB);
  });

  it('a blood test deleted while another phone adds a result to it: the deleting sync is refused (409) until the phone has pulled the result, then the result goes with the test', async () => {
    const { phoneA, phoneB, test, known } = await twoPhonesWithABloodTest();

    // Phone A deletes the test; phone B's new result reaches the server after A's pull, before A's push.
    await phoneA.remove('blood_tests', test);
    let added = '';
    const refused = await phoneA
      .sync({
        beforePush: async () => {
          added = await phoneB.create('blood_test_results', { blood_test_id: test, name: 'Ferritin', value: 1800, unit: 'ng/mL' });
          await phoneB.sync();
        },
      })
      .then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncHttpError);
    expect((refused as SyncHttpError).status).toBe(409);
    expect(JSON.parse((refused as SyncHttpError).body).details.conflicts).toEqual({ blood_test_results: [added] });
    expect(await phoneA.find('blood_test_results', added)).toBeNull(); // never seen, so not deleted
    await phoneB.sync();
    expect(await phoneB.find('blood_tests', test)).not.toBeNull();
    expect(await phoneB.find('blood_test_results', added)).toMatchObject({ name: 'Ferritin', value: 1800 });

    // The app syncs again: the pull brings the result to phone A (under its deleted test), then the deletion is accepted.
    await phoneA.sync();
    expect(await phoneA.find('blood_test_results', added)).toMatchObject({ name: 'Ferritin', blood_test_id: test });
    await phoneB.sync();
    for (const id of [known, added]) expect(await phoneB.find('blood_test_results', id)).toBeNull();
    expect(await phoneB.find('blood_tests', test)).toBeNull();
    await sameData(phoneA, phoneB);
    expect(await phoneA.find('blood_test_results', added)).toBeNull();
  });

  it('a result pushed under a blood test another phone deleted after this phone\'s pull is a 409, not a 422 asking the user to move it off a test the phone still shows; the next pull removes the test (and the results that went with it), then a new result under it is the 422 (found by review)', async () => {
    const { phoneA, phoneB, test, known } = await twoPhonesWithABloodTest();

    // Phone A edits a result of the test and enters a new one; phone B deletes the test after A's pull, before A's push.
    await phoneA.update('blood_test_results', known, { value: 9.5 });
    const entered = await phoneA.create('blood_test_results', { blood_test_id: test, name: 'Ferritin', value: 1800, unit: 'ng/mL' });
    const refused = await phoneA
      .sync({
        beforePush: async () => {
          await phoneB.remove('blood_tests', test);
          await phoneB.sync();
        },
      })
      .then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncHttpError);
    // What phone A pushed changed on the server after its pull: pull, then push again (README: 409).
    expect((refused as SyncHttpError).status).toBe(409);
    expect(JSON.parse((refused as SyncHttpError).body).details.conflicts).toEqual({ blood_tests: [test], blood_test_results: [known] });
    expect(await phoneA.find('blood_tests', test)).not.toBeNull(); // the phone still shows the test

    // The app syncs again: the pull removes the test and the result that went with it (a deletion wins
    // over an edit); the new result, which no one else has seen, is now the 422 the app asks the user about.
    const orphan = await phoneA.sync().then(() => null, (e: unknown) => e);
    expect(await phoneA.find('blood_tests', test)).toBeNull();
    expect(await phoneA.find('blood_test_results', known)).toBeNull();
    expect((orphan as SyncHttpError).status).toBe(422);
    expect(JSON.parse((orphan as SyncHttpError).body).details).toMatchObject({ table: 'blood_test_results', id: entered, field: 'blood_test_id' });
    await phoneA.purge('blood_test_results', entered); // the user chose to delete it
    await sameData(phoneA, phoneB);
    expect(await phoneB.find('blood_test_results', known)).toBeNull();
  });

  it('offline edits: different columns merge, the same column takes the later push', async () => {
    const { phoneA, phoneB, id } = await twoPhonesWithATransfusion();

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

  it("a push retried after its answer was lost does not undo another phone's later edit of the same column (found by review)", async () => {
    const { phoneA, phoneB, id } = await twoPhonesWithATransfusion();

    // A's edit lands, but its acknowledgement never arrives: A still holds it as unpushed.
    await phoneA.update('transfusions', id, { notes: 'from A' });
    await expect(phoneA.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    // B sees A's edit and corrects it (and another column), before A syncs again.
    await phoneB.sync();
    expect(await phoneB.find('transfusions', id)).toMatchObject({ notes: 'from A' });
    await phoneB.update('transfusions', id, { notes: 'corrected by B', hospital: 'North' });
    await phoneB.sync();
    // A's next syncs push its already applied edit again (the first of them loses its answer too):
    // they must not bring 'from A' back.
    await expect(phoneA.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    await phoneA.sync();
    await phoneA.sync(); // the retry gave the row a new version: the phone pulls it as it is
    const expected = { notes: 'corrected by B', hospital: 'North', medication: 'm0' };
    expect(await phoneA.find('transfusions', id)).toMatchObject(expected);
    expect(await phoneB.find('transfusions', id)).toMatchObject({ notes: 'corrected by B' });
    await sameData(phoneA, phoneB);
    expect(await phoneB.find('transfusions', id)).toMatchObject(expected);

    // A new edit made on A after the lost answer is not a retry: it is written as usual.
    await phoneA.update('transfusions', id, { notes: 'A again' });
    await expect(phoneA.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    await phoneA.update('transfusions', id, { medication: 'm1' });
    await phoneA.sync();
    await sameData(phoneA, phoneB);
    expect(await phoneB.find('transfusions', id)).toMatchObject({ notes: 'A again', medication: 'm1' });
  });

  it("a push whose answer was lost, repeated by another member signed in on the same tablet (database kept), does not undo a later edit (found by review)", async () => {
    const [owner, member, other] = await registerFamily(t, 2);
    const tablet = device(owner);
    const phoneB = device(member);
    await tablet.sync();
    const id = await tablet.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'n0' });
    await tablet.sync();
    await phoneB.sync();

    await tablet.update('transfusions', id, { notes: 'from the owner' });
    await expect(tablet.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    await phoneB.sync();
    await phoneB.update('transfusions', id, { notes: 'corrected by B' });
    await phoneB.sync();
    // The owner signs out, another member signs in on the tablet: same X-Device-Id, same database,
    // which still holds the owner's applied edit as unpushed.
    tablet.token = other.token;
    await tablet.sync();
    await sameData(tablet, phoneB);
    expect(await phoneB.find('transfusions', id)).toMatchObject({ notes: 'corrected by B', hospital: 'City' });
  });

  it("a record a member pushed from a shared tablet, then deleted on it before syncing again, stays deleted when another member signs in on the tablet and syncs (its creation came back as created: WatermelonDB re-created it over the deletion)", async () => {
    const [owner, member] = await registerFamily(t, 1);
    const tablet = device(owner);
    const phone = device(owner);
    await tablet.sync();
    await phone.sync();
    const id = await tablet.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City' });
    await tablet.sync(); // pushed; the tablet's cursor is from the pull before that push
    await tablet.remove('transfusions', id);
    // The owner hands the tablet over: the member signs in, same X-Device-Id, same database.
    tablet.token = member.token;
    const logFrom = clientLog.length;
    await tablet.sync();
    expect(await tablet.find('transfusions', id)).toBeNull();
    await phone.sync();
    expect(await phone.find('transfusions', id)).toBeNull();
    await sameData(tablet, phone);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it("the same when another phone deleted and revived the record meanwhile: the tablet, which created its first life and deleted it since, still holds it (updated), and its deletion reaches the server", async () => {
    const [owner, member, other] = await registerFamily(t, 2);
    const tablet = device(owner);
    const phone = device(other);
    await tablet.sync();
    await phone.sync();
    const id = await tablet.create('transfusions', { date: 1, volume_ml: 250, notes: 'life 1' });
    await tablet.sync(); // the tablet's cursor is from the pull before this push: it created life 1 after it
    await phone.sync();
    await phone.remove('transfusions', id);
    await phone.sync();
    await phone.sync(); // pulls its own deletion (re-created before that, the pulled deletion would win)
    await phone.createWithId('transfusions', id, { date: 1, volume_ml: 250, notes: 'life 2' });
    await phone.sync();
    await tablet.remove('transfusions', id);
    tablet.token = member.token;
    const logFrom = clientLog.length;
    await tablet.sync();
    expect(tablet.lastPull!.changes.transfusions).toMatchObject({ created: [], updated: [expect.objectContaining({ id })] });
    expect(await tablet.find('transfusions', id)).toBeNull();
    await phone.sync();
    expect(await phone.find('transfusions', id)).toBeNull();
    await sameData(tablet, phone);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it("the same, when the member whose answer was lost has deleted their account meanwhile (DELETE /auth/me): the repeat still does not undo the later edit", async () => {
    const [owner, leaver, other] = await registerFamily(t, 2);
    const tablet = device(leaver);
    const phoneB = device(owner);
    await tablet.sync();
    const id = await tablet.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'n0' });
    await tablet.sync();
    await phoneB.sync();

    await tablet.update('transfusions', id, { notes: 'from the leaver' });
    await expect(tablet.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    await phoneB.sync();
    await phoneB.update('transfusions', id, { notes: 'corrected by B' });
    await phoneB.sync();
    // The tablet's user deletes their account on their own phone; the record of the tablet's last
    // push is the family's (it is what recognizes the repeat), not theirs to take along.
    await t.http().delete('/api/v1/auth/me').set('Authorization', `Bearer ${leaver.token}`).send({ password: leaver.password }).expect(204);
    tablet.token = other.token;
    await tablet.sync();
    await sameData(tablet, phoneB);
    expect(await phoneB.find('transfusions', id)).toMatchObject({ notes: 'corrected by B', hospital: 'City' });
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
    // The removal replaced the invite code: the owner shares the new one.
    const { body: current } = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${owner.token}`).expect(200);
    // The removal ended the member's sign-ins: the phone signs in again (its local data stays).
    await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${member.token}`).expect(401);
    const signIn = await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200);
    memberPhone.token = signIn.body.access_token;
    const rejoined = await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${memberPhone.token}`).send({ invite_code: current.invite_code });
    expect(rejoined.status).toBe(200);

    // The phone still holds this family's data (its last full snapshot was of this family):
    // an incremental pull, not a replacement that would re-send everything as `created`.
    await memberPhone.sync();
    expect(await memberPhone.find('transfusions', later)).not.toBeNull();
    await sameData(ownerPhone, memberPhone);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });

  it.each([
    ['removed and added back', ['removed']],
    ['removed and added back, then left and rejoined, the phone asleep meanwhile', ['removed', 'left']],
  ] as const)('a member %s, whose phone sends no X-Device-Id, keeps a deletion made offline: the replacement lists what the phone held as updated (found by review)', async (_what, departures) => {
    const [owner, member] = await registerFamily(t, 1);
    const ownerPhone = device(owner);
    await ownerPhone.sync();
    const kept = await ownerPhone.create('transfusions', { date: 1, volume_ml: 100, notes: 'kept' });
    const deleted = await ownerPhone.create('transfusions', { date: 2, volume_ml: 200, notes: 'entered twice' });
    await ownerPhone.sync();
    const phone = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, deviceId: null });
    await phone.sync();
    await phone.remove('transfusions', deleted); // offline, then out of the family and back (by mistake)
    for (const how of departures) {
      if (how === 'removed') await t.http().delete(`/api/v1/families/me/members/${member.userId}`).set('Authorization', `Bearer ${owner.token}`).expect(204);
      else await t.http().post('/api/v1/families/me/leave').set('Authorization', `Bearer ${phone.token}`).expect(204);
      const { body: current } = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${owner.token}`).expect(200);
      phone.token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${phone.token}`).send({ invite_code: current.invite_code }).expect(200);
    }
    const logFrom = clientLog.length;
    await phone.sync();
    // No record of what the phone holds (no device id): a replacement, whose rows go by the cursor (the
    // join after the cursor is no proof of another family). Sent as `created`, the deleted record was
    // re-created on the phone and the deletion never reached the server.
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phone.find('transfusions', deleted)).toBeNull();
    await ownerPhone.sync();
    expect(await ownerPhone.find('transfusions', deleted)).toBeNull();
    expect(await ownerPhone.find('transfusions', kept)).not.toBeNull();
    await sameData(ownerPhone, phone);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it.each([
    ['removed, with X-Device-Id', { ahead: false, deviceId: true, left: false }],
    ['removed, with X-Device-Id, the old family ahead of the clock', { ahead: true, deviceId: true, left: false }],
    ['removed, without X-Device-Id, the old family ahead of the clock', { ahead: true, deviceId: false, left: false }],
    ['left (POST /families/me/leave), with X-Device-Id', { ahead: false, deviceId: true, left: true }],
    ['left, without X-Device-Id, the old family ahead of the clock', { ahead: true, deviceId: false, left: true }],
  ])('a member out of their family founds one (POST /families): their phone still holding the old family ends with exactly the new family\'s data, by a replacement (%s)', async (_, { ahead, deviceId, left }) => {
    const [owner, member] = await registerFamily(t, 1);
    const ownerPhone = device(owner);
    await ownerPhone.sync();
    const oldIds = await createOneOfEach(ownerPhone);
    await ownerPhone.sync();
    const phone = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, ...(deviceId ? {} : { deviceId: null }) });
    await phone.sync();
    if (ahead) {
      // The old family's versions ran ahead of the clock (a fast clock wrote there): the phone's cursor is there too.
      await t.app.get(DataSource).query('UPDATE families SET sync_version = sync_version + $1 WHERE id = $2', [10 * 24 * 3600 * 1000, owner.familyId]);
      await phone.sync();
    }
    expect(await phone.find('transfusions', oldIds.transfusions)).not.toBeNull();

    let token = member.token;
    if (left) {
      // Still signed in, in no family: until they are in one again, the phone's sync is refused.
      await t.http().post('/api/v1/families/me/leave').set('Authorization', `Bearer ${member.token}`).expect(204);
      await expect(phone.sync()).rejects.toMatchObject({ status: 403, body: expect.stringContaining('NO_FAMILY') });
    } else {
      // The removal ended the member's sign-ins.
      await t.http().delete(`/api/v1/families/me/members/${member.userId}`).set('Authorization', `Bearer ${owner.token}`).expect(204);
      token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
    }
    const created = await t.http().post('/api/v1/families').set('Authorization', `Bearer ${token}`).send({ patient_name: 'New patient' }).expect(201);
    const familyId: string = created.body.id;
    // The founder's second phone enters the new family's first records before the old phone syncs.
    const second = new Device({ baseUrl: t.baseUrl, token, familyId });
    await second.sync();
    const newIds = await createOneOfEach(second);
    await second.sync();
    if (ahead) {
      // The same fast clock writes to the new family later, past the old phone's cursor.
      await t.app.get(DataSource).query('UPDATE families SET sync_version = sync_version + $1 WHERE id = $2', [11 * 24 * 3600 * 1000, familyId]);
    }

    phone.token = token;
    phone.familyId = familyId;
    const logFrom = clientLog.length;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    const held = await phone.snapshot();
    expect(held.families.map((r) => [r.id, r.patient_name])).toEqual([[familyId, 'New patient']]);
    for (const table of Object.keys(newIds)) expect({ table, ids: held[table].map((r) => r.id) }).toEqual({ table, ids: [newIds[table]] });
    for (const table of Object.keys(oldIds)) expect(await phone.find(table, oldIds[table])).toBeNull();
    await sameData(phone, second);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('a replacement response lost on the way: the next sync replaces again, and the phone ends with exactly the new family\'s data', async () => {
    const [familyA] = await registerFamily(t);
    const phoneA = device(familyA);
    await phoneA.sync();
    await createOneOfEach(phoneA);
    await phoneA.sync();
    const [familyB] = await registerFamily(t);
    const phoneB = device(familyB);
    await phoneB.sync();
    const privateToB = await phoneB.create('transfusions', { date: 1, volume_ml: 200, notes: 'family B only' });
    await phoneB.sync();

    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${familyB.token}`).send({ invite_code: familyA.inviteCode }).expect(200);
    phoneB.familyId = familyA.familyId;
    // The server sends the replacement snapshot; the phone never gets it and keeps its old cursor.
    await expect(phoneB.sync({ losePullResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    expect(phoneB.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phoneB.find('transfusions', privateToB)).not.toBeNull();

    await phoneB.sync();
    expect(phoneB.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phoneB.find('transfusions', privateToB)).toBeNull();
    expect((await phoneB.all('families')).map((f) => f.id)).toEqual([familyA.familyId]);
    await sameData(phoneA, phoneB);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });

  it('records a phone created before its user switched family never reach the new family; removing them locally lets sync go on', async () => {
    const [familyA] = await registerFamily(t);
    const phoneA = device(familyA);
    await phoneA.sync();
    const [familyB] = await registerFamily(t);
    const phoneB = device(familyB);
    await phoneB.sync();
    // Written in family B, never pushed: one as the app should (family_id set), one by an app that left it empty.
    const named = await phoneB.create('transfusions', { date: 1, volume_ml: 200, notes: 'family B, never synced' });
    const phoneB2 = new Device({ baseUrl: t.baseUrl, token: familyB.token }); // an app that does not set family_id
    await phoneB2.sync();
    const unnamed = await phoneB2.create('blood_tests', { date: 1, laboratory: 'family B lab' });

    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${familyB.token}`).send({ invite_code: familyA.inviteCode }).expect(200);
    phoneB.familyId = familyA.familyId;
    // The replacement pull keeps local unpushed records (WatermelonDB); the push that follows is refused whole.
    const refusedNamed = await phoneB.sync().then(() => null, (e: unknown) => e);
    expect(refusedNamed).toBeInstanceOf(SyncHttpError);
    expect((refusedNamed as SyncHttpError).status).toBe(403);
    expect(JSON.parse((refusedNamed as SyncHttpError).body).details.ids).toEqual({ transfusions: [named] });
    const refusedUnnamed = await phoneB2.sync().then(() => null, (e: unknown) => e);
    expect((refusedUnnamed as SyncHttpError).status).toBe(422);
    expect(JSON.parse((refusedUnnamed as SyncHttpError).body).details).toMatchObject({ table: 'blood_tests', id: unnamed, field: 'family_id' });

    await phoneA.sync();
    expect(await phoneA.find('transfusions', named)).toBeNull();
    expect(await phoneA.find('blood_tests', unnamed)).toBeNull();

    // The app's way out (README): the old family's leftovers are removed from the phone, then sync works.
    await phoneB.purge('transfusions', named);
    await phoneB.sync();
    await sameData(phoneA, phoneB);
  });

  /** Three phones of one family, each holding one transfusion phone A created (`kept`: its values, without the id). */
  async function threePhonesHoldingOne() {
    const [owner, m1, m2] = await registerFamily(t, 2);
    const [phoneA, phoneB, phoneC] = [device(owner), device(m1), device(m2)];
    for (const p of [phoneA, phoneB, phoneC]) await p.sync();
    const id = await phoneA.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'original' });
    for (const p of [phoneA, phoneB, phoneC]) await p.sync();
    const { id: _id, ...kept } = (await phoneA.find('transfusions', id))!;
    return { phoneA, phoneB, phoneC, id, kept };
  }

  it('a record deleted, then re-created with its id, reaches each phone as what it holds: created where it was destroyed, updated where it was kept', async () => {
    // Phone C goes offline after the set-up: it keeps the record and never pulls its deletion.
    const { phoneA, phoneB, phoneC, id, kept } = await threePhonesHoldingOne();

    await phoneB.remove('transfusions', id);
    await phoneB.sync();
    await phoneA.sync();
    expect(await phoneA.find('transfusions', id)).toBeNull();
    // "Undo": phone A re-creates the record with the same id; the server revives its tombstone.
    await phoneA.createWithId('transfusions', id, { ...kept, notes: 'restored' });
    await phoneA.sync();

    await phoneB.sync(); // destroyed it: must get it as created
    await phoneC.sync(); // still holds it: must get it as updated
    for (const p of [phoneA, phoneB, phoneC]) expect(await p.find('transfusions', id)).toMatchObject({ notes: 'restored', hospital: 'City' });
    await sameData(phoneA, phoneB);
    await sameData(phoneA, phoneC);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });

  // Found by mutation testing: every revival above was pushed by the phone that had created the first
  // life, so counting a life this phone created as held even when its deletion was pulled before the
  // cursor passed them all; then the phone that created it, and destroyed it, was sent `updated`.
  it('a record re-created by a third phone reaches the phone that first created it, and pulled its deletion, as created', async () => {
    const { phoneA, phoneB, phoneC, id, kept } = await threePhonesHoldingOne();

    await phoneB.remove('transfusions', id);
    await phoneB.sync();
    await phoneA.sync(); // destroys it
    await phoneC.sync(); // destroys it
    expect(await phoneA.find('transfusions', id)).toBeNull();
    // "Undo" on phone C: it re-creates the record with the same id; the server revives its tombstone.
    await phoneC.createWithId('transfusions', id, { ...kept, notes: 'restored' });
    await phoneC.sync();

    await phoneA.sync(); // created the first life but destroyed it: must get it as created
    for (const p of [phoneA, phoneB, phoneC]) await p.sync();
    for (const p of [phoneA, phoneB, phoneC]) expect(await p.find('transfusions', id)).toMatchObject({ notes: 'restored', hospital: 'City' });
    await sameData(phoneA, phoneC);
    expect(clientLog.filter((l) => l.includes('[Sync]'))).toEqual([]);
  });

  it('an app update that adds a column the server already had (schema 1 → 2): the old app keeps working, its migration sync brings the column\'s values', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const newApp = device(owner);
    const oldApp = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, schema: schemaV1 });
    const logFrom = clientLog.length;
    await newApp.sync();
    await oldApp.sync();
    const reminder = await newApp.create('reminders', { title: 'Deferasirox', remind_at: 1_764_100_000_000, frequency: 'daily', is_completed: false });
    const doc = await newApp.create('documents', { name: 'Discharge', category: 'discharge_summary', notes: 'original at home' });
    await newApp.sync();

    // Every table is app schema 1: the old app gets all of them; the column it lacks is dropped on arrival.
    await oldApp.sync();
    expect(Object.keys(oldApp.lastPull!.changes).sort()).toEqual([...TABLE_NAMES].sort());
    expect(await oldApp.find('reminders', reminder)).toMatchObject({ title: 'Deferasirox' });
    const held = await oldApp.find('documents', doc);
    expect(held).toMatchObject({ id: doc, name: 'Discharge' });
    expect(held).not.toHaveProperty('notes');
    // The old app edits the document it holds (it has no notes column): the server keeps the notes.
    await oldApp.update('documents', doc, { name: 'Discharge summary' });
    await oldApp.sync();

    const upgraded = await oldApp.upgrade(schemaV2, migrationsToV2);
    await upgraded.sync();
    const changes = upgraded.lastPull!.changes as Record<string, { created: Raw[]; updated: Raw[] }>;
    expect(changes.documents.updated.map((r) => [r.id, r.notes])).toEqual([[doc, 'original at home']]);
    expect(changes.reminders.created).toEqual([]);
    expect(await upgraded.find('documents', doc)).toMatchObject({ name: 'Discharge summary', notes: 'original at home' });
    await sameData(newApp, upgraded);
    // No warning and no error, from either app.
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('a record deleted and revived twice reaches each phone as what it holds: a phone still holding its first life gets it as updated, and its own deletion of it reaches the server', async () => {
    const [owner, m1, m2, m3] = await registerFamily(t, 3);
    const [phoneA, phoneB, phoneC, phoneE] = [owner, m1, m2, m3].map(device);
    for (const p of [phoneA, phoneB, phoneC, phoneE]) await p.sync();
    const id = await phoneA.create('transfusions', { date: 1, volume_ml: 250, notes: 'life 1' });
    await phoneA.sync();
    await phoneE.sync(); // phone E holds life 1, then stays offline through both revivals
    const logFrom = clientLog.length;
    // B deletes life 1, A re-creates it; C deletes life 2, A re-creates it. B and C push their
    // deletion and pull nothing after it: their cursors lie in the life they destroyed.
    for (const [deleter, next] of [[phoneB, 'life 2'], [phoneC, 'life 3']] as const) {
      await deleter.sync();
      await deleter.remove('transfusions', id);
      await deleter.sync();
      await phoneA.sync();
      await phoneA.createWithId('transfusions', id, { date: 1, volume_ml: 250, notes: next });
      await phoneA.sync();
    }
    const pulledAs = (p: Device) => {
      const changes = p.lastPull!.changes.transfusions as { created: Raw[]; updated: Raw[] };
      return { created: changes.created.map((r) => r.id), updated: changes.updated.map((r) => r.id) };
    };
    // B and C destroyed it: created.
    for (const p of [phoneB, phoneC]) {
      await p.sync();
      expect(pulledAs(p)).toEqual({ created: [id], updated: [] });
      expect(await p.find('transfusions', id)).toMatchObject({ notes: 'life 3' });
    }

    // E, which never saw either deletion, deletes the record it holds, then syncs: it still holds
    // it (updated, so WatermelonDB keeps the local deletion) and its deletion is pushed.
    await phoneE.remove('transfusions', id);
    await phoneE.sync();
    expect(pulledAs(phoneE)).toEqual({ created: [], updated: [id] });
    for (const p of [phoneA, phoneB, phoneC, phoneE]) {
      await p.sync();
      expect(await p.find('transfusions', id)).toBeNull();
    }
    await sameData(phoneA, phoneE);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('two members whose phones send the same X-Device-Id (restored from one backup): one\'s new records reach the other as updated (logged, created: the installation pushed them), revived ones as what it holds', async () => {
    const [owner, member, other] = await registerFamily(t, 2);
    const shared = randomUUID();
    const phoneA = new Device({ baseUrl: t.baseUrl, token: owner.token, familyId: owner.familyId, deviceId: shared });
    const phoneB = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, deviceId: shared });
    const phoneC = device(other);
    for (const p of [phoneA, phoneB, phoneC]) await p.sync();
    const logFrom = clientLog.length;
    const pulledAs = (p: Device) => {
      const changes = p.lastPull!.changes.transfusions as { created: Raw[]; updated: Raw[] };
      return { created: changes.created.map((r) => r.id), updated: changes.updated.map((r) => r.id) };
    };

    // A new record of A's is new to B, but the server knows an installation by its id alone (one
    // database, whoever is signed in: see the shared tablet above), and A's installation pushed it:
    // `updated`, which WatermelonDB logs and applies as a create. Noise, never data: `created` to
    // the phone that pushed it would undo a deletion made on it since.
    const fresh = await phoneA.create('transfusions', { date: 1, volume_ml: 100, notes: 'from A' });
    await phoneA.sync();
    await phoneB.sync();
    expect(pulledAs(phoneB)).toEqual({ created: [], updated: [fresh] });
    expect(clientLog.splice(logFrom)).toEqual([expect.stringContaining(`[Sync] Server wants client to update record transfusions#${fresh}, but it doesn't exist locally`)]);
    expect(await phoneB.find('transfusions', fresh)).toMatchObject({ notes: 'from A' });

    // A record whose first life A created (B never saw it), deleted and re-created by C: the
    // installation created its first life after B's cursor, so to the server B may hold it (the
    // shared tablet above): `updated`, logged and created.
    const revived = await phoneA.create('transfusions', { date: 2, volume_ml: 100, notes: 'life 1' });
    await phoneA.sync();
    await phoneC.sync();
    await phoneC.remove('transfusions', revived);
    await phoneC.sync();
    await phoneC.sync(); // pulls its own deletion (re-created before that, the pulled deletion would win)
    await phoneC.createWithId('transfusions', revived, { date: 2, volume_ml: 100, notes: 'life 2' });
    await phoneC.sync();
    await phoneB.sync();
    expect(pulledAs(phoneB)).toEqual({ created: [], updated: [revived] });
    expect(clientLog.splice(logFrom)).toEqual([expect.stringContaining(`[Sync] Server wants client to update record transfusions#${revived}, but it doesn't exist locally`)]);
    expect(await phoneB.find('transfusions', revived)).toMatchObject({ notes: 'life 2' });

    // A record B holds, deleted by A and re-created by C: B never pulled the deletion and did not
    // push it (A did, with the same device id): B still holds it.
    const held = await phoneC.create('transfusions', { date: 3, volume_ml: 100, notes: 'life 1' });
    await phoneC.sync();
    await phoneB.sync();
    await phoneA.sync();
    await phoneA.remove('transfusions', held);
    await phoneA.sync();
    await phoneC.sync();
    await phoneC.createWithId('transfusions', held, { date: 3, volume_ml: 100, notes: 'life 2' });
    await phoneC.sync();
    await phoneB.sync();
    expect(pulledAs(phoneB)).toEqual({ created: [], updated: [held] });

    await sameData(phoneA, phoneB);
    await sameData(phoneA, phoneC);
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('joining another family drops the phone\'s unpushed edits and deletions of the old family\'s records (README: sync before joining); edits synced first are kept', async () => {
    const [familyA] = await registerFamily(t);
    const [ownerB, memberB] = await registerFamily(t, 1);
    const phone = device(memberB);
    const ownerPhone = device(ownerB);
    await phone.sync();
    const synced = await phone.create('transfusions', { date: 1, volume_ml: 100, notes: 'v1' });
    const unsynced = await phone.create('transfusions', { date: 2, volume_ml: 100, notes: 'v1' });
    const undeleted = await phone.create('transfusions', { date: 3, volume_ml: 100, notes: 'v1' });
    await phone.sync();
    await phone.update('transfusions', synced, { notes: 'edited, then synced' });
    await phone.sync(); // what the app does before joining
    expect(await phone.hasUnsyncedChanges()).toBe(false);
    await phone.update('transfusions', unsynced, { notes: 'edited, never pushed' });
    await phone.remove('transfusions', undeleted);
    expect(await phone.hasUnsyncedChanges()).toBe(true); // what the app checks before joining

    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${memberB.token}`).send({ invite_code: familyA.inviteCode }).expect(200);
    phone.familyId = familyA.familyId;
    const logFrom = clientLog.length;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phone.find('transfusions', unsynced)).toBeNull();
    expect(await phone.hasUnsyncedChanges()).toBe(false);
    await ownerPhone.sync();
    expect(await ownerPhone.find('transfusions', synced)).toMatchObject({ notes: 'edited, then synced' });
    expect(await ownerPhone.find('transfusions', unsynced)).toMatchObject({ notes: 'v1' }); // the edit is gone, without an error
    expect(await ownerPhone.find('transfusions', undeleted)).toMatchObject({ notes: 'v1' }); // and so is the deletion
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('the user joins another family on another phone between this phone\'s pull and its push: the push answers 409 membership_changed (README), not 403; the next sync replaces and goes through', async () => {
    // A push whose last_pulled_at comes from a pull of an earlier membership (every pull since the join
    // answers the join's version or later) carries the old family's records: it was answered 403
    // FORBIDDEN_RECORD listing them, which the README gives to a phone that switched family itself, or
    // to a bug ("don't retry blindly"): this phone did neither, and stopped syncing.
    const [familyA] = await registerFamily(t);
    const [, memberB] = await registerFamily(t, 1);
    const phone = device(memberB);
    await phone.sync();
    const record = await phone.create('transfusions', { date: 1, volume_ml: 100, notes: 'v1' });
    await phone.sync();
    await phone.update('transfusions', record, { notes: 'edited offline' });

    const refused = await phone
      .sync({
        beforePush: async () => {
          await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${memberB.token}`).send({ invite_code: familyA.inviteCode }).expect(200);
        },
      })
      .then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncHttpError);
    const { status, body } = refused as SyncHttpError;
    expect([status, JSON.parse(body).details]).toEqual([409, expect.objectContaining({ code: 'SYNC_CONFLICT', membership_changed: true })]);

    // What a 409 tells the app: sync again. The pull is a replacement; the edit of the old family's record goes with it.
    phone.familyId = familyA.familyId;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phone.find('transfusions', record)).toBeNull();
    expect(await phone.hasUnsyncedChanges()).toBe(false);
  });

  it('a blood test created and deleted on a phone before it ever synced takes the results entered under it along, on that phone too; the rest of the push lands (it was a 422 on every sync)', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phone = device(owner);
    const other = device(member);
    await phone.sync();
    await other.sync();
    const test = await phone.create('blood_tests', { date: 2, laboratory: 'Lab' });
    const result = await phone.create('blood_test_results', { blood_test_id: test, name: 'Hb', value: 9.5 });
    const transfusion = await phone.create('transfusions', { date: 3, volume_ml: 250 });
    await phone.remove('blood_tests', test); // the result stays in the app's database (no cascade on the phone)
    const logFrom = clientLog.length;
    await phone.sync();
    expect(await phone.hasUnsyncedChanges()).toBe(false);
    await other.sync();
    expect(await other.find('transfusions', transfusion)).not.toBeNull();
    expect(await other.find('blood_tests', test)).toBeNull();
    expect(await other.find('blood_test_results', result)).toBeNull();
    // Neither is live on the server.
    const server = await t.http().get('/api/v1/sync').query({ last_pulled_at: 0 }).set('Authorization', `Bearer ${member.token}`).expect(200);
    expect(server.body.changes.blood_test_results.created.map((r: Raw) => r.id)).not.toContain(result);
    // The phone that pushed the result still held it, marked synced: its next pull deletes it (it kept it for good).
    await phone.sync();
    expect(await phone.find('blood_test_results', result)).toBeNull();
    expect(await phone.snapshot()).toEqual(await other.snapshot());
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  /**
   * A backup (pg_dump) of what a restore puts back for a family: its version, its transfusions and
   * what the server knows of `phones` (cursors, last pushes). Returns the restore (pg_restore).
   */
  async function backup(familyId: string, phones: Device[]): Promise<() => Promise<void>> {
    const db = t.app.get(DataSource);
    const ids = phones.map((p) => p.deviceId);
    const rowsOf = async (sql: string, param: unknown) => JSON.stringify((await db.query(`SELECT coalesce(json_agg(x), '[]') AS rows FROM ${sql}`, [param]))[0].rows);
    const version = (await db.query('SELECT sync_version FROM families WHERE id = $1', [familyId]))[0].sync_version;
    const rows = await rowsOf('transfusions x WHERE family_id = $1', familyId);
    const cursors = await rowsOf('sync_cursors x WHERE device_id = ANY($1)', ids);
    const pushes = await rowsOf('sync_last_pushes x WHERE device_id = ANY($1)', ids);
    return async () => {
      await db.query('UPDATE families SET sync_version = $2 WHERE id = $1', [familyId, version]);
      await db.query('DELETE FROM transfusions WHERE family_id = $1', [familyId]);
      await db.query('INSERT INTO transfusions SELECT * FROM json_populate_recordset(NULL::transfusions, $1::json)', [rows]);
      await db.query('DELETE FROM sync_cursors WHERE device_id = ANY($1)', [ids]);
      await db.query('INSERT INTO sync_cursors SELECT * FROM json_populate_recordset(NULL::sync_cursors, $1::json)', [cursors]);
      await db.query('DELETE FROM sync_last_pushes WHERE device_id = ANY($1)', [ids]);
      await db.query('INSERT INTO sync_last_pushes SELECT * FROM json_populate_recordset(NULL::sync_last_pushes, $1::json)', [pushes]);
    };
  }

  it('a database restored from an older backup: the phone keeps its unpushed deletion, edit and new record, and pushes them; what it synced after the backup leaves it (DEPLOYMENT.md: Backups)', async () => {
    const db = t.app.get(DataSource);
    const [owner] = await registerFamily(t);
    const phone = device(owner);
    await phone.sync();
    const deleted = await phone.create('transfusions', { date: 1, volume_ml: 100, notes: 'deleted offline' });
    const edited = await phone.create('transfusions', { date: 2, volume_ml: 200, notes: 'before the backup' });
    await phone.sync();
    await phone.sync();
    // The backup (pg_dump): the family's version, its rows and what the server knows of this phone.
    const restore = await backup(owner.familyId, [phone]);
    const afterBackup = await phone.create('transfusions', { date: 3, volume_ml: 300, notes: 'synced after the backup' });
    await phone.sync();
    await phone.sync();
    await restore();

    // Offline meanwhile: the user deletes one record, edits another, enters a new one.
    await phone.remove('transfusions', deleted);
    await phone.update('transfusions', edited, { notes: 'edited offline' });
    const added = await phone.create('transfusions', { date: 4, volume_ml: 400, notes: 'entered offline' });
    const logFrom = clientLog.length;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    await phone.sync();
    // The deletion was the user's, not pushed yet: it is kept and reaches the server (sent as `created`,
    // the restored record replaced the phone's deletion, and came back on the phone and the server).
    expect(await phone.find('transfusions', deleted)).toBeNull();
    const [row] = await db.query('SELECT deleted_at FROM transfusions WHERE id = $1', [deleted]);
    expect(row.deleted_at).not.toBeNull();
    expect(await phone.find('transfusions', edited)).toMatchObject({ notes: 'edited offline' });
    expect(await phone.find('transfusions', added)).not.toBeNull();
    // The documented limit: a record the phone had synced after the backup is not on the restored
    // server, and the replacement removes it from the phone too (WatermelonDB never pushes a synced record again).
    expect(await phone.find('transfusions', afterBackup)).toBeNull();
    await sameData(phone, device(owner));
    // Every record the replacement sent is one the phone held: sent as `updated`, no "already exists locally" error.
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('a database restored from an older backup, two phones with offline changes: each keeps its deletions and pushes its edits, and they converge without a client error (review of the held replacement)', async () => {
    const db = t.app.get(DataSource);
    const [owner, member] = await registerFamily(t, 1);
    const [phoneA, phoneB] = [device(owner), device(member)];
    await phoneA.sync();
    const deletedOnA = await phoneA.create('transfusions', { date: 1, volume_ml: 100, notes: 'deleted on A' });
    const edited = await phoneA.create('transfusions', { date: 1, volume_ml: 100, notes: 'edited on both' });
    const deletedOnB = await phoneA.create('transfusions', { date: 1, volume_ml: 100, notes: 'deleted on B' });
    await phoneA.sync();
    await phoneB.sync();
    const restore = await backup(owner.familyId, [phoneA, phoneB]);
    // Both phones sync after the backup: neither cursor is known to the restored server.
    const afterBackup = await phoneA.create('transfusions', { date: 2, volume_ml: 200, notes: 'synced after the backup' });
    await phoneA.sync();
    await phoneB.sync();
    await restore();

    await phoneA.remove('transfusions', deletedOnA);
    await phoneA.update('transfusions', edited, { notes: 'edited on A' });
    const newOnA = await phoneA.create('transfusions', { date: 3, volume_ml: 300, notes: 'entered on A' });
    await phoneB.remove('transfusions', deletedOnB);
    await phoneB.update('transfusions', edited, { volume_ml: 150 });
    const newOnB = await phoneB.create('transfusions', { date: 4, volume_ml: 400, notes: 'entered on B' });
    const logFrom = clientLog.length;
    await phoneA.sync();
    await phoneB.sync(); // after A's pushes: A's new record is new to B, its edit one B holds
    for (const phone of [phoneA, phoneB]) expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    await sameData(phoneA, phoneB);
    for (const id of [deletedOnA, deletedOnB, afterBackup]) expect(await phoneA.find('transfusions', id)).toBeNull();
    expect(await db.query('SELECT id FROM transfusions WHERE id = ANY($1) AND deleted_at IS NOT NULL', [[deletedOnA, deletedOnB]])).toHaveLength(2);
    expect(await phoneA.find('transfusions', edited)).toMatchObject({ notes: 'edited on A', volume_ml: 150 });
    for (const id of [newOnA, newOnB]) expect(await phoneA.find('transfusions', id)).not.toBeNull();
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it("a replacement of a phone that may hold this family carries the deletions since its cursor: a record it pushed (answer lost) and another member deleted meanwhile leaves it, and its next push does not bring the record back (found by review)", async () => {
    const db = t.app.get(DataSource);
    const [owner, member] = await registerFamily(t, 1);
    const ownerPhone = device(owner);
    // An app that sends no X-Device-Id (the header is optional): after a leave and rejoin, nothing
    // says what the phone holds, and its pull is a replacement listed by its cursor (README).
    const memberPhone = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, deviceId: null });
    await memberPhone.sync();
    const mistaken = await memberPhone.create('transfusions', { date: 1, volume_ml: 100, notes: 'entered by mistake' });
    // Applied, but the answer never arrives: the phone still holds the record as new (unpushed).
    await expect(memberPhone.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    await ownerPhone.sync();
    await ownerPhone.remove('transfusions', mistaken);
    await ownerPhone.sync();
    // The member leaves and rejoins (by mistake); the family's current invite code, a fresh sign-in.
    await t.http().post('/api/v1/families/me/leave').set('Authorization', `Bearer ${memberPhone.token}`).expect(204);
    const { body: current } = await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${owner.token}`).expect(200);
    memberPhone.token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${memberPhone.token}`).send({ invite_code: current.invite_code }).expect(200);

    const logFrom = clientLog.length;
    await memberPhone.sync();
    expect(memberPhone.lastPull?.experimentalStrategy).toBe('replacement');
    // As an incremental pull would: the deletion reaches the phone, over its unacknowledged copy.
    expect(await memberPhone.find('transfusions', mistaken)).toBeNull();
    const [row] = await db.query('SELECT deleted_at FROM transfusions WHERE id = $1', [mistaken]);
    expect(row.deleted_at).not.toBeNull();
    await sameData(ownerPhone, memberPhone);
    expect(await ownerPhone.find('transfusions', mistaken)).toBeNull();
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it("another family's user signing in on the same phone (same installation, database not cleared) gets a replacement: the previous family's records leave, the new family's whole history comes", async () => {
    const [u1] = await registerFamily(t);
    const [u2] = await registerFamily(t); // joined family B before the phone's last sync
    const bPhone = device(u2);
    await bPhone.sync();
    const bOld = await bPhone.create('transfusions', { date: 1, volume_ml: 111, notes: 'B history' });
    await bPhone.sync();

    const phone = device(u1);
    await phone.sync();
    const aPrivate = await phone.create('transfusions', { date: 2, volume_ml: 222, notes: 'A private' });
    await phone.sync();
    await phone.sync(); // its cursor now lies past u2's join to family B
    const bNew = await bPhone.create('transfusions', { date: 3, volume_ml: 333, notes: 'B new' });
    await bPhone.sync();

    // u1 signs out, u2 signs in: same X-Device-Id, same local database and cursor.
    phone.token = u2.token;
    phone.familyId = u2.familyId;
    const logFrom = clientLog.length;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phone.find('transfusions', aPrivate)).toBeNull();
    expect(await phone.find('families', u1.familyId)).toBeNull();
    expect(await phone.find('transfusions', bOld)).not.toBeNull();
    expect(await phone.find('transfusions', bNew)).not.toBeNull();
    await sameData(phone, bPhone);
    // And back: u1 signing in again on the phone now holding family B gets family A replaced in.
    phone.token = u1.token;
    phone.familyId = u1.familyId;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect(await phone.find('transfusions', aPrivate)).not.toBeNull();
    expect(await phone.find('transfusions', bOld)).toBeNull();
    expect(clientLog.slice(logFrom)).toEqual([]);
  });
});
