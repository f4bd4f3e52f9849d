import { randomUUID } from 'node:crypto';
import { useTestApp } from '../setup/test-app.js';
import { clientLog, Device, SyncHttpError } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';
import { migrationsToV2, schemaV1, schemaV2 } from '../sync-client/schema.js';
import { seeded, syncSeeds } from '../sync-client/seeds.js';

/**
 * What a phone holds after syncing, compared value for value with what another phone of the family
 * wrote: every kind of column, odd values, and the interleavings of edits, deletions and retries that
 * the real WatermelonDB client goes through. No [Sync] warning or error may be logged.
 */
describe('sync with the real WatermelonDB client: values and interleavings', () => {
  const t = useTestApp();
  let logFrom = 0;
  beforeEach(() => {
    logFrom = clientLog.length;
  });
  afterEach(() => {
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });
  async function phones(n: number): Promise<Device[]> {
    const members = await registerFamily(t, n - 1);
    const out = members.map(device);
    for (const p of out) await p.sync();
    return out;
  }
  /** Another installation of the same member (a new phone): a first sync. */
  const freshPhone = (of: Device) => new Device({ baseUrl: t.baseUrl, token: of.token, familyId: of.familyId });
  /** Every phone synced twice (each also receives the server's echo of its own push), then compared record for record. */
  async function converge(...all: Device[]): Promise<void> {
    for (let round = 0; round < 2; round++) for (const p of all) await p.sync();
    const first = await all[0].snapshot();
    for (const p of all.slice(1)) expect(await p.snapshot()).toEqual(first);
  }

  it('odd values round-trip exactly: emoji, the longest text, line separators, floats at their limits, the largest integers, ms dates, null and empty strings, unicode JSON', async () => {
    const [a, b] = await phones(2);
    const ids: Record<string, string> = {};
    ids.transfusions = await a.create('transfusions', {
      date: 1_764_000_000_123,
      volume_ml: 0.1 + 0.2,
      patient_weight_kg: 5e-324,
      medication: '',
      hospital: null,
      reaction: 'line\u2028para\u2029tab\t"quote"\\back\r\n',
      notes: '🩸'.repeat(20_000),
      indicators_before: JSON.stringify({ 'Hb 🩸': 9.95, ферритин: 1e-7, 'ALT\u00a0': -0.5, big: 1.7976931348623157e308, tiny: 5e-324 }),
      indicators_after: null,
    });
    ids.blood_tests = await a.create('blood_tests', { date: 0, comment: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ', laboratory: '' });
    ids.blood_test_results = await a.create('blood_test_results', {
      blood_test_id: ids.blood_tests,
      name: 'Ферритин 🧪',
      value: 1.7976931348623157e308,
      unit: '',
      reference_min: -5e-324,
      reference_max: 2 ** 53 + 2,
    });
    ids.analysis_templates = await a.create('analysis_templates', { name: 'テンプレート', indicators_json: JSON.stringify(['Hb', '', '😀', 'a"b\\c']) });
    ids.reminders = await a.create('reminders', {
      title: 'x',
      remind_at: 8_640_000_000_000_000,
      frequency: 'every_n_days',
      interval_days: 3660,
      is_completed: true,
      completed_at: 1,
      notes: '',
    });
    ids.documents = await a.create('documents', { name: 'n', category: 'other', file_url: null, mime_type: '', size_bytes: Number.MAX_SAFE_INTEGER, notes: null });
    const written = await a.snapshot();
    await converge(a, b);
    expect(await a.snapshot()).toEqual(written);
    expect(await b.snapshot()).toEqual(written);
  });

  it('a record created, edited and deleted offline before its first push never reaches anyone, in every table, and the rest of the push lands', async () => {
    const [a, b] = await phones(2);
    const kept = await a.create('transfusions', { date: 1, notes: 'kept' });
    const gone: Array<[string, string]> = [];
    const test = await a.create('blood_tests', { date: 2 });
    gone.push(['blood_tests', test]);
    gone.push(['blood_test_results', await a.create('blood_test_results', { blood_test_id: test, name: 'Hb', value: 1 })]);
    gone.push(['transfusions', await a.create('transfusions', { date: 3 })]);
    gone.push(['analysis_templates', await a.create('analysis_templates', { name: 'T', indicators_json: '[]' })]);
    gone.push(['reminders', await a.create('reminders', { title: 'r', remind_at: 1, frequency: 'once', is_completed: false })]);
    gone.push(['documents', await a.create('documents', { name: 'd', category: 'other' })]);
    for (const [table, id] of gone) await a.update(table, id, table === 'blood_test_results' ? { value: 2 } : {});
    for (const [table, id] of [...gone].reverse()) await a.remove(table, id);
    await a.sync();
    await converge(a, b);
    expect(await b.find('transfusions', kept)).toMatchObject({ notes: 'kept' });
    for (const [table, id] of gone) {
      expect(await a.find(table, id)).toBeNull();
      expect(await b.find(table, id)).toBeNull();
    }
    // Nothing of them reached the server: a new phone of the family gets only the record kept.
    const late = freshPhone(a);
    await late.sync();
    expect(await late.snapshot()).toEqual(await a.snapshot());
  });

  it('one id in several tables: each table keeps its own record, its own edits and its own deletion', async () => {
    const [a, b] = await phones(2);
    const id = randomUUID();
    await a.createWithId('transfusions', id, { date: 1, notes: 'transfusion' });
    await a.createWithId('blood_tests', id, { date: 2, comment: 'test' });
    await a.createWithId('reminders', id, { title: 'reminder', remind_at: 3, frequency: 'once', is_completed: false });
    await a.createWithId('documents', id, { name: 'doc', category: 'other' });
    await a.sync();
    await b.sync();
    expect(await b.find('transfusions', id)).toMatchObject({ notes: 'transfusion' });
    expect(await b.find('blood_tests', id)).toMatchObject({ comment: 'test' });
    expect(await b.find('reminders', id)).toMatchObject({ title: 'reminder' });
    await b.update('blood_tests', id, { comment: 'edited on b' });
    await a.remove('transfusions', id);
    await a.update('reminders', id, { title: 'edited on a' });
    await a.sync();
    await b.syncUntilClean();
    await a.sync();
    await converge(a, b);
    for (const p of [a, b]) {
      expect(await p.find('transfusions', id)).toBeNull();
      expect(await p.find('blood_tests', id)).toMatchObject({ comment: 'edited on b' });
      expect(await p.find('reminders', id)).toMatchObject({ title: 'edited on a' });
      expect(await p.find('documents', id)).toMatchObject({ name: 'doc' });
    }
    // The answer of a push lost, with the same id in two tables edited: the repeat is a repeat in each.
    await a.update('documents', id, { notes: 'from a' });
    await a.update('blood_tests', id, { laboratory: 'from a' });
    await a.sync({ losePushResponse: true }).catch(() => undefined);
    await b.update('documents', id, { notes: 'from b, later' });
    await b.sync();
    await a.syncUntilClean();
    await converge(a, b);
    for (const p of [a, b]) {
      expect(await p.find('documents', id)).toMatchObject({ notes: 'from b, later' });
      expect(await p.find('blood_tests', id)).toMatchObject({ laboratory: 'from a' });
    }
  });

  it('an edit made offline of a record another phone deleted: the deletion wins on every phone, without a client error', async () => {
    const [a, b, c] = await phones(3);
    const id = await a.create('transfusions', { date: 1, notes: 'n' });
    await a.sync();
    await b.sync();
    await c.sync();
    await b.update('transfusions', id, { notes: 'edited offline' });
    await c.update('transfusions', id, { notes: 'also edited offline' });
    await a.remove('transfusions', id);
    // c pulls before a's deletion lands and pushes its edit after it: 409, then the deletion arrives.
    await expect(c.sync({ beforePush: () => a.sync() })).rejects.toMatchObject({ status: 409 });
    await c.sync();
    await b.sync();
    await converge(a, b, c);
    for (const p of [a, b, c]) expect(await p.find('transfusions', id)).toBeNull();
  });

  it('a deletion made offline of a record another phone edited: the deletion is pushed and reaches the editor', async () => {
    const [a, b] = await phones(2);
    const id = await a.create('blood_tests', { date: 1, comment: 'c' });
    await a.sync();
    await b.sync();
    await b.remove('blood_tests', id);
    await a.update('blood_tests', id, { comment: 'edited' });
    await a.sync();
    await b.sync();
    await converge(a, b);
    for (const p of [a, b]) expect(await p.find('blood_tests', id)).toBeNull();
  });

  it('a pull that lands while the same phone\'s push is on the way (two synchronize() calls overlapping): nothing lost, nothing doubled', async () => {
    const [a, b] = await phones(2);
    const id = await a.create('transfusions', { date: 1, notes: 'first' });
    let inner: Promise<void> | null = null;
    await a
      .sync({
        beforePush: async () => {
          inner = a.sync();
          await inner;
        },
      })
      .catch((error) => {
        if (!(error instanceof SyncHttpError && error.status === 409)) throw error;
      });
    await inner;
    await converge(a, b);
    expect(await b.all('transfusions')).toEqual([expect.objectContaining({ id, notes: 'first' })]);
  });

  it('phones whose clocks disagree (one a year ahead, one a year behind): the later push wins, whatever updated_at says', async () => {
    const [a, b, c] = await phones(3);
    const id = await a.create('reminders', { title: 't', remind_at: 1, frequency: 'daily', is_completed: false });
    await a.sync();
    await b.sync();
    const year = 365 * 24 * 3600 * 1000;
    await a.update('reminders', id, { title: 'from the future', updated_at: Date.now() + year });
    await a.sync();
    await b.update('reminders', id, { title: 'from the past', updated_at: Date.now() - year });
    await b.syncUntilClean();
    await converge(a, b, c);
    for (const p of [a, b, c]) expect(await p.find('reminders', id)).toMatchObject({ title: 'from the past' });
  });

  it('JSON columns pushed as pretty-printed text come back compact to every phone, the writer included', async () => {
    const [a, b] = await phones(2);
    const id = await a.create('transfusions', { date: 1, indicators_before: JSON.stringify({ Hb: 9.5, ALT: 40.0 }, null, 2) });
    const tpl = await a.create('analysis_templates', { name: 'CBC', indicators_json: ' [ "Hb" , "PLT" ] ' });
    await converge(a, b);
    expect(await a.find('transfusions', id)).toMatchObject({ indicators_before: '{"Hb":9.5,"ALT":40}' });
    expect(await b.find('analysis_templates', tpl)).toMatchObject({ indicators_json: '["Hb","PLT"]' });
  });

  /** An owner's phone on the current app and a member's phone on the previous one (schema 1: no documents.notes). */
  async function newAndOldApp() {
    const [owner, member] = await registerFamily(t, 1);
    const newApp = device(owner);
    const oldApp = new Device({ baseUrl: t.baseUrl, token: member.token, familyId: member.familyId, schema: schemaV1 });
    await newApp.sync();
    await oldApp.sync();
    return { newApp, oldApp, owner, member };
  }

  it('an app upgraded while its last push is unacknowledged: the migration sync repeats it without undoing the later edit another phone made', async () => {
    const { newApp, oldApp } = await newAndOldApp();
    const doc = await newApp.create('documents', { name: 'Discharge', category: 'other', notes: 'kept' });
    await newApp.sync();
    await oldApp.sync();
    await oldApp.update('documents', doc, { name: 'renamed on the old app' });
    await expect(oldApp.sync({ losePushResponse: true })).rejects.toThrow();
    await newApp.sync();
    await newApp.update('documents', doc, { name: 'renamed later on the new app', notes: 'notes later' });
    await newApp.sync();
    const upgraded = await oldApp.upgrade(schemaV2, migrationsToV2);
    await upgraded.syncUntilClean();
    await converge(newApp, upgraded);
    expect(await upgraded.find('documents', doc)).toMatchObject({ name: 'renamed later on the new app', notes: 'notes later' });
  });

  it('an app upgraded whose migration sync is lost on the way: the next sync migrates again, with what changed meanwhile', async () => {
    const { newApp, oldApp } = await newAndOldApp();
    const kept = await newApp.create('documents', { name: 'kept', category: 'other', notes: 'n1' });
    const deleted = await newApp.create('documents', { name: 'deleted', category: 'other', notes: 'n2' });
    await newApp.sync();
    await oldApp.sync();
    const pending = await oldApp.create('documents', { name: 'made on the old app', category: 'imaging' });
    await oldApp.remove('documents', kept); // an unpushed deletion: the migration sync must not bring it back
    const upgraded = await oldApp.upgrade(schemaV2, migrationsToV2);
    await expect(upgraded.sync({ losePullResponse: true })).rejects.toThrow();
    await newApp.remove('documents', deleted);
    const added = await newApp.create('documents', { name: 'added', category: 'other', notes: 'n3' });
    await newApp.sync();
    await upgraded.syncUntilClean();
    await converge(newApp, upgraded);
    expect(await upgraded.find('documents', kept)).toBeNull();
    expect(await upgraded.find('documents', deleted)).toBeNull();
    expect(await newApp.find('documents', pending)).toMatchObject({ name: 'made on the old app', notes: null });
    expect(await upgraded.find('documents', added)).toMatchObject({ notes: 'n3' });
  });

  it('an app upgraded on a phone whose user joined another family meanwhile: the replacement brings the new family with every column', async () => {
    const { oldApp, member } = await newAndOldApp();
    const [other] = await registerFamily(t, 0);
    const otherPhone = device(other);
    await otherPhone.sync();
    const doc = await otherPhone.create('documents', { name: 'theirs', category: 'other', notes: 'their notes' });
    await otherPhone.sync();
    await oldApp.create('transfusions', { date: 1 });
    await oldApp.sync();
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${member.token}`).send({ invite_code: other.inviteCode }).expect(200);
    const upgraded = await oldApp.upgrade(schemaV2, migrationsToV2);
    upgraded.familyId = other.familyId;
    await upgraded.sync();
    expect(upgraded.lastPull?.experimentalStrategy).toBe('replacement');
    await converge(otherPhone, upgraded);
    expect(await upgraded.find('documents', doc)).toMatchObject({ notes: 'their notes' });
  });

  it('a phone whose cursor is no longer on record (trimmed) comes back with offline edits, deletions and new records: all of them land, and it ends with the family\'s data', async () => {
    const [a, b] = await phones(2);
    const edited = await a.create('transfusions', { date: 1, notes: 'v0', hospital: 'h0' });
    const deleted = await a.create('reminders', { title: 'r', remind_at: 1, frequency: 'once', is_completed: false });
    const goneMeanwhile = await a.create('blood_tests', { date: 1 });
    await a.sync();
    await b.sync();
    await b.update('transfusions', edited, { hospital: 'edited on b' });
    await b.remove('blood_tests', goneMeanwhile);
    const fromB = await b.create('analysis_templates', { name: 'CBC', indicators_json: '["Hb"]' });
    await b.sync();
    await a.update('transfusions', edited, { notes: 'edited offline on a' });
    await a.remove('reminders', deleted);
    const fromA = await a.create('documents', { name: 'offline', category: 'other' });
    await t.db.query('DELETE FROM sync_cursors WHERE device_id = $1', [a.deviceId]);
    await a.syncUntilClean();
    expect(a.lastPull?.experimentalStrategy).toBe('replacement');
    await converge(a, b);
    for (const p of [a, b]) {
      expect(await p.find('transfusions', edited)).toMatchObject({ notes: 'edited offline on a', hospital: 'edited on b' });
      expect(await p.find('reminders', deleted)).toBeNull();
      expect(await p.find('blood_tests', goneMeanwhile)).toBeNull();
      expect(await p.find('analysis_templates', fromB)).not.toBeNull();
      expect(await p.find('documents', fromA)).not.toBeNull();
    }
  });

  it('a family switched to and back on one phone: each time the phone ends with exactly that family\'s data', async () => {
    const [a, b] = await phones(2);
    const [other] = await registerFamily(t, 0);
    const otherPhone = device(other);
    await otherPhone.sync();
    await otherPhone.create('transfusions', { date: 5, notes: 'other family' });
    await otherPhone.sync();
    await a.create('transfusions', { date: 6, notes: 'first family' });
    await a.sync();
    await b.sync();
    const home = { token: b.token, familyId: b.familyId };
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${b.token}`).send({ invite_code: other.inviteCode }).expect(200);
    b.familyId = other.familyId;
    await b.sync();
    await converge(otherPhone, b);
    const deletedThere = (await otherPhone.all('transfusions'))[0].id;
    await a.update('transfusions', (await a.all('transfusions'))[0].id, { notes: 'edited while b was away' });
    await a.sync();
    // The family left got a new invite code.
    const homeInvite = (await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${a.token}`).expect(200)).body.invite_code as string;
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${home.token}`).send({ invite_code: homeInvite }).expect(200);
    b.familyId = home.familyId;
    await b.sync();
    await converge(a, b);
    expect(await b.find('transfusions', deletedThere)).toBeNull();
    expect((await b.all('transfusions')).map((r) => r.notes)).toEqual(['edited while b was away']);
  });

  it('an app upgraded on a phone whose cursor is no longer on record: the replacement is also the migration sync, and the unpushed edit made before the upgrade lands', async () => {
    const { newApp, oldApp } = await newAndOldApp();
    const doc = await newApp.create('documents', { name: 'scan', category: 'other', notes: 'from the new app' });
    await newApp.sync();
    await oldApp.sync();
    await oldApp.update('documents', doc, { name: 'renamed offline' });
    await t.db.query('DELETE FROM sync_cursors WHERE device_id = $1', [oldApp.deviceId]);
    const upgraded = await oldApp.upgrade(schemaV2, migrationsToV2);
    await upgraded.syncUntilClean();
    expect(upgraded.lastPull?.experimentalStrategy).toBe('replacement');
    await converge(newApp, upgraded);
    expect(await newApp.find('documents', doc)).toMatchObject({ name: 'renamed offline', notes: 'from the new app' });
  });

  /** A finite double from random bits: every exponent, subnormals and -0 included. */
  function randomDouble(random: () => number): number {
    const view = new DataView(new ArrayBuffer(8));
    for (;;) {
      view.setUint32(0, Math.floor(random() * 2 ** 32));
      view.setUint32(4, Math.floor(random() * 2 ** 32));
      const value = view.getFloat64(0);
      if (Number.isFinite(value)) return Object.is(value, -0) ? 0 : value; // JSON has no -0
    }
  }
  /** Well-formed text from every plane (no NUL, no lone surrogate): up to `max` code points. */
  function randomText(random: () => number, max: number): string {
    const ranges = [
      [0x01, 0x7f],
      [0x80, 0x7ff],
      [0x800, 0xd7ff],
      [0xe000, 0xffff],
      [0x10000, 0x10ffff],
    ];
    let out = '';
    const length = Math.floor(random() * (max + 1));
    for (let i = 0; i < length; i++) {
      const [lo, hi] = ranges[Math.floor(random() * ranges.length)];
      out += String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)));
    }
    return out;
  }

  it.each(syncSeeds('1'))('seed %i: random doubles (any bit pattern) and random text from every plane come back to every phone exactly as pushed', async (seed) => {
    const random = seeded(seed);
    const [a, b] = await phones(2);
    const test = await a.create('blood_tests', { date: 1, comment: randomText(random, 2000), laboratory: randomText(random, 300) });
    for (let i = 0; i < 60; i++) {
      await a.create('blood_test_results', {
        blood_test_id: test,
        name: randomText(random, 99) + 'x',
        value: randomDouble(random),
        unit: randomText(random, 50),
        reference_min: randomDouble(random),
        reference_max: random() < 0.2 ? null : randomDouble(random),
      });
      const indicators: Record<string, number> = {};
      for (let k = Math.floor(random() * 20); k > 0; k--) indicators[randomText(random, 99) + 'k'] = randomDouble(random);
      await a.create('transfusions', { date: Math.floor(random() * 8_640_000_000_000_000), notes: randomText(random, 500), indicators_before: JSON.stringify(indicators) });
    }
    const written = await a.snapshot();
    await converge(a, b);
    expect(await b.snapshot()).toEqual(written);
    expect(await a.snapshot()).toEqual(written);
  });

  it("an app server whose clock is behind the database's by more than ten minutes: another family's user signing in on a phone still gets a replacement later than the phone's cursor (no client error)", async () => {
    const [b] = await registerFamily(t, 0);
    const bPhone = device(b);
    await bPhone.sync();
    const bRecord = await bPhone.create('transfusions', { date: 1, notes: 'B' });
    await bPhone.sync(); // family B's last write: its version stays below what the phone pulls next
    const [a] = await registerFamily(t, 0);
    const phone = device(a);
    await phone.sync();
    await phone.create('transfusions', { date: 2, notes: 'A' });
    await phone.sync();
    await phone.sync();
    // Versions follow the database's clock; this app instance's clock is 15 minutes behind it.
    const realNow = Date.now;
    Date.now = () => realNow() - 15 * 60 * 1000;
    try {
      phone.token = b.token;
      phone.familyId = b.familyId;
      await phone.sync();
    } finally {
      Date.now = realNow;
    }
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect((await phone.all('transfusions')).map((r) => r.id)).toEqual([bRecord]);
    await converge(bPhone, phone);
  });

  it("versions ahead of the database's clock by more than ten minutes (a clock that ran fast, then was set back): a cursor the server issued is still met by a replacement later than it (no client error)", async () => {
    const [b] = await registerFamily(t, 0);
    const bPhone = device(b);
    await bPhone.sync();
    const bRecord = await bPhone.create('transfusions', { date: 1, notes: 'B' });
    await bPhone.sync();
    const [a] = await registerFamily(t, 0);
    const phone = device(a);
    await phone.sync();
    // Family A's versions were taken while the database's clock ran an hour fast; it was set right since.
    await t.db.query('UPDATE families SET sync_version = sync_version + 3600000 WHERE id = $1', [a.familyId]);
    await phone.create('transfusions', { date: 2, notes: 'A' });
    await phone.sync();
    await phone.sync(); // its cursor: an hour ahead of the database's clock, issued by the server
    phone.token = b.token;
    phone.familyId = b.familyId;
    await phone.sync();
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    expect((await phone.all('transfusions')).map((r) => r.id)).toEqual([bRecord]);
    await converge(bPhone, phone);
  });
});
