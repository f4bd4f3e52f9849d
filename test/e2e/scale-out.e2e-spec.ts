/**
 * Scale-out (DESIGN.md "Scale-out", "Real time"): two instances of the app on one PostgreSQL, and
 * nothing else between them — no sticky sessions, no shared memory (each has its own pool, its own
 * listening connection and its own event fan-out). Whatever a device sees must not depend on which
 * instance answers: writes through one are announced on the other's event streams, a removal or a
 * sign-out through one ends the other's streams and is refused there, phones whose requests land on
 * either instance converge, and a push retried on the other instance is still the same push.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { bearer, familyWithMember, registerFamily as registerUser } from '../factories/auth.factory.js';
import { changesOf, pull, push, type SyncCaller } from '../factories/sync.factory.js';
import { expectEnded, openEvents, type SseEvent } from '../setup/event-stream.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { clientLog, Device, LostResponseError, syncProblems, type SyncRequest } from '../sync-client/device.js';
import { register, registerFamily } from '../sync-client/family.js';

const isSync = (e: SseEvent) => e.type === 'sync';
const versionsOf = (events: SseEvent[]) => events.filter(isSync).map((e) => e.data.version);

/** One committed write to the caller's family through `t`: a new transfusion. Its version. */
async function pushTransfusion(t: TestApp, caller: SyncCaller): Promise<number> {
  const record = { id: randomUUID(), date: Date.now(), volume_ml: 250, created_at: Date.now(), updated_at: Date.now() };
  return (await push(t, caller, 0, changesOf('transfusions', { created: [record] })).expect(200)).body.timestamp;
}

describe('scale-out: two app instances on one database', () => {
  let a: TestApp;
  let b: TestApp;
  const logFrom = clientLog.length;
  beforeAll(async () => {
    // One after the other: createTestApp sets process.env while the app reads its configuration.
    a = await createTestApp();
    b = await createTestApp();
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('the two instances share nothing but the database (else the tests below would prove nothing)', async () => {
    const { SyncEventsService } = await import('../../src/modules/sync/sync-events.service.js');
    expect(a.baseUrl).not.toBe(b.baseUrl);
    expect(a.app.get(DataSource)).not.toBe(b.app.get(DataSource));
    expect(a.app.get(SyncEventsService)).not.toBe(b.app.get(SyncEventsService));
  });

  describe('"sync now" events', () => {
    it('a push and a PATCH of the family through A are announced with their versions on a stream opened on B, and not on another family\'s stream on B', async () => {
      const owner = await registerUser(a);
      const stranger = await registerUser(b);
      const mine = await openEvents(b, owner.token);
      const theirs = await openEvents(b, stranger.token);
      try {
        const [first] = versionsOf([await mine.waitFor(isSync)]);
        const [strangersFirst] = versionsOf([await theirs.waitFor(isSync)]);

        const pushed = await pushTransfusion(a, { token: owner.token, familyId: owner.family.id });
        await mine.waitFor((e) => isSync(e) && e.data.version === pushed);
        await a.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ notes: 'through A' }).expect(200);
        // The PATCH's version: what a pull since the push answers (it brings the family row only).
        const since = await pull(a, { token: owner.token, familyId: owner.family.id }, pushed).expect(200);
        expect(since.body.changes.families.updated).toEqual([expect.objectContaining({ id: owner.family.id, notes: 'through A' })]);
        const patched: number = since.body.timestamp;
        expect(patched).toBeGreaterThan(pushed);
        const event = await mine.waitFor((e) => isSync(e) && e.data.version === patched);
        expect(event.id).toBe(String(patched));
        expect(versionsOf(mine.events)).toEqual([first, pushed, patched]);

        // B's listener hears notifications in commit order: once the stranger's own later write has
        // reached their stream, the owner's writes have gone by it. They were not passed on.
        const strangers = await pushTransfusion(a, { token: stranger.token, familyId: stranger.family.id });
        await theirs.waitFor((e) => isSync(e) && e.data.version === strangers);
        expect(versionsOf(theirs.events)).toEqual([strangersFirst, strangers]);
      } finally {
        await Promise.all([mine.close(), theirs.close()]);
      }
    });
  });

  describe('access ends on every instance at once', () => {
    it('a member removed through A: their stream on B ends and B refuses their next request; the owner\'s stream on B hears the removal', async () => {
      const { owner, member } = await familyWithMember(a);
      const caller = { token: member.token, familyId: member.family.id };
      await pushTransfusion(b, caller); // B serves them until the removal
      const stream = await openEvents(b, member.token);
      const owners = await openEvents(b, owner.token);
      try {
        await stream.waitFor(isSync);
        const [before] = versionsOf([await owners.waitFor(isSync)]);
        await a.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);

        await expectEnded(stream, 'the removal through the other instance');
        expect((await pull(b, caller, 0)).status).toBe(401);
        expect((await push(b, caller, 0, changesOf('transfusions', { created: [{ id: randomUUID(), date: 1, volume_ml: 1, created_at: 1, updated_at: 1 }] }))).status).toBe(401);
        const again = await fetch(`${b.baseUrl}/api/v1/sync/events`, { headers: bearer(member.token) });
        expect(again.status).toBe(401);
        await again.json(); // a body left unread holds its socket open
        // The removal replaced the invite code: a write to the family, announced on B.
        await owners.waitFor((e) => isSync(e) && e.data.version! > before!);
      } finally {
        await Promise.all([stream.close(), owners.close()]);
      }
    });

    it('a logout through A ends that sign-in\'s stream on B and B refuses its token; the user\'s other sign-in keeps its stream on A, which hears writes made through B', async () => {
      const user = await registerUser(b);
      const tablet = (await a.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
      const phone = await openEvents(b, user.token);
      const tablets = await openEvents(a, tablet.access_token);
      try {
        await Promise.all([phone.waitFor(isSync), tablets.waitFor(isSync)]);
        await a.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);

        await expectEnded(phone, 'a logout through the other instance');
        await b.http().get('/api/v1/auth/me').set(bearer(user.token)).expect(401);
        const pushed = await pushTransfusion(b, { token: tablet.access_token, familyId: user.family.id });
        await tablets.waitFor((e) => isSync(e) && e.data.version === pushed);
      } finally {
        await Promise.all([phone.close(), tablets.close()]);
      }
    });

    it('a password reset on A (what `user:reset-password` runs) ends every stream of that user on B and B refuses their tokens; another member\'s stream on B goes on', async () => {
      const { AuthService } = await import('../../src/modules/auth/auth.service.js');
      const { owner, member } = await familyWithMember(a);
      const tablet = (await b.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      const phone = await openEvents(b, member.token);
      const tablets = await openEvents(b, tablet);
      const owners = await openEvents(b, owner.token);
      try {
        await Promise.all([phone, tablets, owners].map((s) => s.waitFor(isSync)));
        await a.app.get(AuthService).resetPassword(member.email, 'a brand new password');

        await expectEnded(phone, 'a password reset on the other instance');
        await expectEnded(tablets, 'a password reset on the other instance');
        for (const token of [member.token, tablet]) await b.http().get('/api/v1/auth/me').set(bearer(token)).expect(401);
        const pushed = await pushTransfusion(a, { token: owner.token, familyId: owner.family.id });
        await owners.waitFor((e) => isSync(e) && e.data.version === pushed);
      } finally {
        await Promise.all([phone.close(), tablets.close(), owners.close()]);
      }
    });

    it('a rotated-out refresh token presented to A (a copy) ends the stream its successor opened on B, and B refuses that token', async () => {
      const user = await registerUser(a);
      const rotated = (await a.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200)).body;
      const stream = await openEvents(b, rotated.access_token); // its first use: no longer a retry's to take over
      try {
        await stream.waitFor(isSync);
        await a.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(401);

        await expectEnded(stream, 'a refresh token reused on the other instance');
        await b.http().get('/api/v1/auth/me').set(bearer(rotated.access_token)).expect(401);
      } finally {
        await stream.close();
      }
    });
  });

  describe('real WatermelonDB phones behind a load balancer without sticky sessions', () => {
    /**
     * The balancer at its least convenient for a phone: each sync's pull and push go to different
     * instances, and the instance that pulls alternates from one sync to the next. Counts what each
     * instance served.
     */
    function balancer(offset: number, served: Map<TestApp, Record<SyncRequest, number>>) {
      let syncs = offset;
      return (request: SyncRequest) => {
        if (request === 'pull') syncs++;
        const app = [a, b][(syncs + (request === 'push' ? 1 : 0)) % 2];
        served.get(app)![request]++;
        return app.baseUrl;
      };
    }

    it('four phones of one family syncing concurrently through both instances (edits, deletions, the same columns edited by all) end equal to the server, record for record', async () => {
      const [owner] = await registerFamily(a);
      const member = await register(b, owner.inviteCode);
      const { familyId } = owner;
      const served = new Map([a, b].map((app) => [app, { pull: 0, push: 0 }]));
      const phones = [owner, owner, member, member].map((m, i) => new Device({ baseUrl: balancer(i, served), token: m.token, familyId }));
      // A record every phone holds, whose notes all of them edit in every round.
      await phones[0].sync();
      const shared = await phones[0].create('transfusions', { date: 1, volume_ml: 250, notes: 'shared' });
      for (const phone of phones) await phone.syncUntilClean();

      /** One round of offline work on phone `i`: a bit of everything, in every table. */
      const work = async (phone: Device, i: number, round: number, own: Record<string, string>, transfusions: string[]) => {
        transfusions.push(await phone.create('transfusions', { date: round, volume_ml: 100 + round, notes: `phone ${i} round ${round}` }));
        await phone.update('transfusions', shared, { notes: `phone ${i} round ${round}` });
        await phone.update('families', familyId, { patient_name: `P${i}.${round}` });
        if (round === 1) {
          own.test = await phone.create('blood_tests', { date: round, laboratory: `lab ${i}` });
          own.result = await phone.create('blood_test_results', { blood_test_id: own.test, name: 'Hb', value: 9, unit: 'g/dL' });
          own.reminder = await phone.create('reminders', { title: `phone ${i}`, remind_at: 1_764_100_000_000, frequency: 'daily', is_completed: false });
          own.template = await phone.create('analysis_templates', { name: `CBC ${i}`, indicators_json: JSON.stringify(['Hb', 'PLT']) });
          own.document = await phone.create('documents', { name: `scan ${i}`, category: 'other' });
        } else if (round === 2) {
          await phone.update('blood_test_results', own.result, { value: 9.5 });
          await phone.update('reminders', own.reminder, { is_completed: true, completed_at: 1_764_200_000_000 });
          await phone.update('analysis_templates', own.template, { indicators_json: JSON.stringify(['Hb']) });
          await phone.update('documents', own.document, { notes: 'original at home' });
        } else if (round === 3) {
          await phone.remove('blood_test_results', own.result);
          await phone.remove('blood_tests', own.test);
          await phone.remove('analysis_templates', own.template);
          await phone.remove('transfusions', transfusions.shift()!);
        } else {
          await phone.remove('documents', own.document);
          await phone.update('reminders', own.reminder, { notes: `round ${round}` });
        }
      };
      const ROUNDS = 4;
      await Promise.all(
        phones.map(async (phone, i) => {
          const own: Record<string, string> = {};
          const transfusions: string[] = [];
          for (let round = 1; round <= ROUNDS; round++) {
            await work(phone, i, round, own, transfusions);
            await phone.syncUntilClean();
          }
        }),
      );
      // Settle: every phone pushes what it has left, then pulls the others' last pushes.
      for (let pass = 0; pass < 2; pass++) for (const phone of phones) await phone.syncUntilClean();

      // The server's data as a new phone receives it, from either instance.
      const fresh = (app: TestApp) => new Device({ baseUrl: app.baseUrl, token: owner.token, familyId });
      const [fromA, fromB] = [fresh(a), fresh(b)];
      await fromA.sync();
      await fromB.sync();
      const server = await fromA.snapshot();
      expect(await fromB.snapshot()).toEqual(server);
      const db = a.app.get(DataSource);
      for (const table of fromA.tables.filter((t) => t !== 'families')) {
        const live: Array<{ id: string }> = await db.query(`SELECT id::text AS id FROM ${table} WHERE family_id = $1 AND deleted_at IS NULL ORDER BY id`, [familyId]);
        expect({ table, ids: server[table].map((r) => r.id) }).toEqual({ table, ids: live.map((r) => r.id) });
      }
      for (const [i, phone] of phones.entries()) {
        expect({ phone: i, unsynced: await phone.hasUnsyncedChanges() }).toEqual({ phone: i, unsynced: false });
        expect(await phone.snapshot()).toEqual(server);
      }
      // What the script leaves: per phone, the transfusions of rounds 2 to 4 and an edited reminder; the shared record.
      expect(server.transfusions).toHaveLength(1 + phones.length * (ROUNDS - 1));
      expect(server.reminders).toHaveLength(phones.length);
      for (const reminder of server.reminders) expect(reminder).toMatchObject({ is_completed: true, notes: `round ${ROUNDS}` });
      for (const table of ['blood_tests', 'blood_test_results', 'analysis_templates', 'documents']) expect({ table, rows: server[table] }).toEqual({ table, rows: [] });
      expect(server.transfusions.find((r) => r.id === shared)!.notes).toMatch(new RegExp(`^phone \\d round ${ROUNDS}$`));
      expect(server.families[0].patient_name).toMatch(new RegExp(`^P\\d\\.${ROUNDS}$`));
      // Both instances served pulls and pushes.
      for (const app of [a, b]) expect(Math.min(served.get(app)!.pull, served.get(app)!.push)).toBeGreaterThan(0);
    });

    it('a push applied by A whose answer was lost, sent again through B, is the same push: nothing duplicated, nothing reverted', async () => {
      const [owner, member] = await registerFamily(a, 1);
      const { familyId } = owner;
      let via = a;
      const phone = new Device({ baseUrl: () => via.baseUrl, token: owner.token, familyId });
      const other = new Device({ baseUrl: b.baseUrl, token: member.token, familyId });
      await phone.sync();
      const edited = await phone.create('transfusions', { date: 1, volume_ml: 250, hospital: 'City', notes: 'n0' });
      await phone.sync();
      await other.sync();

      // On the phone: an edit and a new record. A applies them; the answer never arrives.
      await phone.update('transfusions', edited, { notes: 'from the phone' });
      const added = await phone.create('transfusions', { date: 2, volume_ml: 300, notes: 'new on the phone' });
      await expect(phone.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
      expect(await phone.hasUnsyncedChanges()).toBe(true);
      // Another phone gets both and corrects the edit.
      await other.sync();
      expect(await other.find('transfusions', edited)).toMatchObject({ notes: 'from the phone' });
      await other.update('transfusions', edited, { notes: 'corrected', hospital: 'North' });
      await other.sync();

      // The phone's next syncs land on B: it pushes the same edit and the same new record again.
      via = b;
      await phone.sync();
      await phone.sync(); // the retry gave the row a new version: the phone pulls it as it is
      await other.sync();
      expect(await phone.hasUnsyncedChanges()).toBe(false);
      expect(await phone.find('transfusions', edited)).toMatchObject({ notes: 'corrected', hospital: 'North' });
      expect(await phone.snapshot()).toEqual(await other.snapshot());
      const rows: Array<{ id: string; notes: string; deleted: boolean }> = await a.app
        .get(DataSource)
        .query('SELECT id::text AS id, notes, deleted_at IS NOT NULL AS deleted FROM transfusions WHERE family_id = $1 ORDER BY notes', [familyId]);
      expect(rows).toEqual([
        { id: edited, notes: 'corrected', deleted: false },
        { id: added, notes: 'new on the phone', deleted: false },
      ]);
    });
  });

  afterAll(() => {
    // The client never reported a sync anomaly ("serious bug", a record it already had sent as created…).
    expect(clientLog.slice(logFrom).filter((line) => syncProblems().includes(line))).toEqual([]);
  });
});
