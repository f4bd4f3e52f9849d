/**
 * What a phone holds, decided from its cursor (SyncRepository.pullState), with the real WatermelonDB
 * client: phones handed from one user to another without clearing their database, replacement
 * answers lost on the way, and phones restored from another's backup that send the same
 * X-Device-Id. Two reviews found sequences here that left one family's records on a phone of
 * another family, or a phone without part of its family's history; these are those sequences.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SyncInstallationsRepository } from '../../src/modules/sync/sync-installations.repository.js';
import { useTestApp } from '../setup/test-app.js';
import { clientLog, Device, LostResponseError } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';

describe('what an installation holds (real WatermelonDB client)', () => {
  const t = useTestApp();

  const phoneOf = (m: Member, deviceId: string = randomUUID()) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId, deviceId });
  /** The phone's user signs out, `m` signs in: same installation, database not cleared. */
  const handTo = (phone: Device, m: Member) => {
    phone.token = m.token;
    phone.familyId = m.familyId;
  };
  const strategyOf = (phone: Device) => phone.lastPull?.experimentalStrategy ?? 'incremental';
  /** A family F of two members with a record in its history, and a family G of one. */
  async function twoFamilies() {
    const [a, b] = await registerFamily(t, 1);
    const [c] = await registerFamily(t);
    const fPhone = phoneOf(a);
    await fPhone.sync();
    const fHistory = await fPhone.create('transfusions', { date: 1, volume_ml: 111, notes: 'F history' });
    await fPhone.sync();
    return { a, b, c, fPhone, fHistory };
  }
  /** The phone holds exactly family F: none of G's records (nor G's families row), all of F's history. */
  async function expectHoldsOnly(phone: Device, family: { id: string; record: string }, other: { id: string; record: string }) {
    expect({
      other: await phone.find('transfusions', other.record),
      otherFamilyRow: await phone.find('families', other.id),
      history: (await phone.find('transfusions', family.record)) !== null,
    }).toEqual({ other: null, otherFamilyRow: null, history: true });
  }

  it.each([
    ['a user who never used the phone', false],
    ['a user who used the phone before the others', true],
  ])('handed G → F with the replacement answer lost → another member of F (%s): a replacement, and the phone holds only F', async (_who, usedBefore) => {
    const { a, b, c, fHistory } = await twoFamilies();
    const phone = phoneOf(usedBefore ? a : c);
    if (usedBefore) {
      await phone.sync();
      handTo(phone, c);
    }
    await phone.sync();
    const gPrivate = await phone.create('transfusions', { date: 2, volume_ml: 222, notes: 'G private' });
    await phone.sync();
    await phone.sync();
    handTo(phone, b);
    await expect(phone.sync({ losePullResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    expect(phone.lastPull?.experimentalStrategy).toBe('replacement');
    handTo(phone, a);
    const logFrom = clientLog.length;
    await phone.sync();
    expect(strategyOf(phone)).toBe('replacement');
    await expectHoldsOnly(phone, { id: a.familyId, record: fHistory }, { id: c.familyId, record: gPrivate });
    expect(clientLog.slice(logFrom)).toEqual([]);
  });

  it('one id on two phones of two families (a restored backup), nothing lost: a member of F signing in on the G phone gets a replacement, whatever F\'s phone with that id synced since', async () => {
    const { a, b, c, fPhone, fHistory } = await twoFamilies();
    const id = randomUUID();
    const p1 = phoneOf(c, id);
    await p1.sync();
    const gPrivate = await p1.create('transfusions', { date: 2, volume_ml: 222, notes: 'G private' });
    await p1.sync();
    await p1.sync();
    await fPhone.create('reminders', { title: 'F later', remind_at: 1, frequency: 'daily', is_completed: false });
    await fPhone.sync();
    await phoneOf(b, id).sync(); // the other phone with that id: a first sync of family F
    handTo(p1, a);
    const logFrom = clientLog.length;
    await p1.sync();
    expect(clientLog.slice(logFrom)).toEqual([]);
    expect(strategyOf(p1)).toBe('replacement');
    await expectHoldsOnly(p1, { id: a.familyId, record: fHistory }, { id: c.familyId, record: gPrivate });
  });

  it.each([
    ['its family busy between their syncs', true],
    ['each phone writing only its own records', false],
  ])('one user, two phones with one id (a restored backup), %s: incremental pulls, never a replacement', async (_how, othersWrite) => {
    const [a, other] = await registerFamily(t, 1);
    const otherPhone = phoneOf(other);
    await otherPhone.sync();
    const id = randomUUID();
    const [p1, p2] = [phoneOf(a, id), phoneOf(a, id)];
    const logFrom = clientLog.length;
    await p1.sync();
    await p1.create('transfusions', { date: 1, volume_ml: 100 });
    await p1.sync();
    await p2.sync();
    const strategies: string[] = [];
    for (let i = 0; i < 4; i++) {
      for (const [name, phone] of [['p1', p1], ['p2', p2]] as const) {
        const writer = othersWrite ? otherPhone : phone;
        await writer.create('reminders', { title: `${name}-${i}`, remind_at: 1, frequency: 'daily', is_completed: false });
        await writer.sync();
        await phone.sync();
        strategies.push(`${name}:${strategyOf(phone)}`);
      }
    }
    expect(strategies.filter((s) => s.endsWith('replacement'))).toEqual([]);
    await p1.sync();
    expect(strategyOf(p1)).toBe('incremental');
    expect(await p1.snapshot()).toEqual(await p2.snapshot());
    // One user's phones with one id are one device to the server (README): each gets the other's new
    // records as `updated`, which WatermelonDB logs and applies as a create. Nothing else is logged.
    const logged = clientLog.slice(logFrom).filter((l) => !/Server wants client to update record reminders#.*doesn't exist locally/.test(l));
    expect(logged).toEqual([]);
  });

  // Found in review: the DELETE did not see the row inserted in its own statement, and 51 stayed.
  it('an installation keeps the newest 50 cursors of a family (CURSORS_KEPT), the one just recorded among them', async () => {
    const [a] = await registerFamily(t);
    const id = randomUUID();
    const db = t.app.get(DataSource);
    const installations = t.app.get(SyncInstallationsRepository);
    for (let version = 1; version <= 60; version++) {
      for (const { text, values } of installations.recordCursor(id, a.familyId, version)) await db.query(text, values as unknown[]);
    }
    const kept = (await db.query('SELECT version FROM sync_cursors WHERE device_id = $1 ORDER BY version', [id])).map((r: { version: string }) => Number(r.version));
    expect(kept).toEqual(Array.from({ length: 50 }, (_, i) => 11 + i));
    // The same answer recorded again (ON CONFLICT DO NOTHING) keeps all 50.
    for (const { text, values } of installations.recordCursor(id, a.familyId, 60)) await db.query(text, values as unknown[]);
    expect(Number((await db.query('SELECT count(*) FROM sync_cursors WHERE device_id = $1', [id]))[0].count)).toBe(50);
  });

  // Found by mutation testing: keeping only the newest cursors of an installation (OFFSET 0 for
  // CURSORS_KEPT - 1) passed every test above, where the two phones alternate and neither falls more
  // than one pull behind the other. A phone that idles while its twin syncs on is still known.
  it('one user, two phones with one id: one phone idle while the other syncs several times still pulls incrementally (its cursor is still on record)', async () => {
    const [a] = await registerFamily(t);
    const id = randomUUID();
    const [p1, p2] = [phoneOf(a, id), phoneOf(a, id)];
    await p1.sync();
    await p1.create('transfusions', { date: 1, volume_ml: 100 });
    await p1.sync();
    await p2.sync();
    for (let i = 0; i < 4; i++) {
      await p2.create('reminders', { title: `p2-${i}`, remind_at: 1, frequency: 'daily', is_completed: false });
      await p2.sync();
    }
    await p1.sync();
    expect(strategyOf(p1)).toBe('incremental');
    expect(await p1.snapshot()).toEqual(await p2.snapshot());
  });

  it('one user, two phones with one id, after a join: one replacement each, then incremental', async () => {
    const [a] = await registerFamily(t);
    const [elsewhere] = await registerFamily(t);
    const id = randomUUID();
    const [p1, p2] = [phoneOf(a, id), phoneOf(a, id)];
    await p1.sync();
    await p2.sync();
    await t.http().post('/api/v1/auth/join-family').set('Authorization', `Bearer ${a.token}`).send({ invite_code: elsewhere.inviteCode }).expect(200);
    p1.familyId = p2.familyId = elsewhere.familyId;
    const strategies: string[] = [];
    for (let i = 0; i < 3; i++) {
      await p1.sync();
      await p2.sync();
      strategies.push(strategyOf(p1), strategyOf(p2));
    }
    expect(strategies).toEqual(['replacement', 'replacement', 'incremental', 'incremental', 'incremental', 'incremental']);
  });

  it('an installation the server has no record of at all (its app only now sends X-Device-Id), then another family\'s user signs in: a replacement listed by the cursor leaves only that family on it; the wrong guess is only logged', async () => {
    const { a, c, fPhone, fHistory } = await twoFamilies();
    const gPhone = phoneOf(c);
    await gPhone.sync();
    const gHistory = await gPhone.create('transfusions', { date: 1, volume_ml: 333, notes: 'G history' });
    await gPhone.sync();
    await t.app.get(DataSource).query('DELETE FROM sync_cursors WHERE device_id = $1', [fPhone.deviceId]); // as if it had synced without the header
    handTo(fPhone, c);
    const logFrom = clientLog.length;
    await fPhone.sync();
    // Nothing says what it holds: `held`, which keeps a deletion made offline on a phone of this family.
    // On a phone of another family it only makes WatermelonDB log, as it creates them, the records it gets as `updated`.
    expect(strategyOf(fPhone)).toBe('replacement');
    await expectHoldsOnly(fPhone, { id: c.familyId, record: gHistory }, { id: a.familyId, record: fHistory });
    expect(clientLog.slice(logFrom).filter((l) => !/Server wants client to update record (families|transfusions)#.*doesn't exist locally/.test(l))).toEqual([]);
    await fPhone.sync();
    await gPhone.sync();
    expect(await fPhone.snapshot()).toEqual(await gPhone.snapshot());
  });

  it("another family's answers under a phone's id (its id copied: a restored backup, or on purpose) never push that phone's own cursor off the record: it goes on incrementally and its offline deletion reaches the server", async () => {
    const [victim] = await registerFamily(t);
    const phone = phoneOf(victim);
    await phone.sync();
    const record = await phone.create('transfusions', { date: 1, volume_ml: 100, notes: 'entered by mistake' });
    await phone.sync();
    await phone.remove('transfusions', record); // deleted offline, not pushed yet
    // A member of another family sends the phone's id with more than 50 pulls that each move their cursor
    // (a cursor past their family's version: the server raises the version past it and answers above it).
    const [outsider] = await registerFamily(t);
    let cursor = 0;
    for (let i = 0; i < 51; i++) {
      const res = await t
        .http()
        .get('/api/v1/sync')
        .query(cursor ? { last_pulled_at: cursor + 1 } : {})
        .set({ Authorization: `Bearer ${outsider.token}`, 'X-Device-Id': phone.deviceId! })
        .expect(200);
      cursor = res.body.timestamp;
    }
    // Before, the installation kept its newest 50 answers whatever their family: the phone's cursor was
    // gone, its pull a replacement listing every record as `created`, and WatermelonDB re-created the
    // record over its unpushed deletion, which then never reached the server.
    await phone.sync();
    expect(strategyOf(phone)).toBe('incremental');
    const [row] = await t.db.query('SELECT deleted_at FROM transfusions WHERE id = $1', [record]);
    expect({ onPhone: await phone.find('transfusions', record), deletedOnServer: row.deleted_at !== null }).toEqual({ onPhone: null, deletedOnServer: true });
  });

  /** Ways a phone's cursor loses its record on the server (CURSORS_KEPT = 50 per installation). */
  const forget: Array<[string, (phone: Device, peer: Member) => Promise<void>]> = [
    [
      'only its first snapshot carried over from before sync_cursors existed (migration SyncCursors)',
      async (phone) => {
        const first = Math.min(...(await t.app.get(DataSource).query('SELECT version FROM sync_cursors WHERE device_id = $1', [phone.deviceId])).map((r: { version: string }) => Number(r.version)));
        await t.app.get(DataSource).query('DELETE FROM sync_cursors WHERE device_id = $1 AND version <> $2', [phone.deviceId, first]);
      },
    ],
    [
      'more than 50 of its pull answers lost in a busy family',
      async (phone, peer) => {
        const peerPhone = phoneOf(peer);
        await peerPhone.sync();
        for (let i = 0; i < 52; i++) {
          await peerPhone.create('reminders', { title: `r${i}`, remind_at: 1, frequency: 'daily', is_completed: false });
          await peerPhone.sync();
          await expect(phone.sync({ losePullResponse: true })).rejects.toBeInstanceOf(LostResponseError);
        }
      },
    ],
    [
      'a phone restored from its backup (same id) syncing more than 50 times since',
      async (phone, peer) => {
        const twin = phoneOf(peer, phone.deviceId!);
        for (let i = 0; i < 52; i++) {
          await twin.create('reminders', { title: `r${i}`, remind_at: 1, frequency: 'daily', is_completed: false });
          await twin.sync();
        }
      },
    ],
  ];

  it.each(forget)('a cursor the installation has no record of (%s), then another family\'s user signs in: a replacement, and the phone holds only that family (found by review)', async (_how, loseRecord) => {
    const [c] = await registerFamily(t); // family G, with history from before the phone's cursor
    const gPhone = phoneOf(c);
    await gPhone.sync();
    const gHistory = await gPhone.create('transfusions', { date: 1, volume_ml: 333, notes: 'G history' });
    await gPhone.sync();
    const [a, b] = await registerFamily(t, 1); // family F
    const phone = phoneOf(a);
    await phone.sync();
    const fPrivate = await phone.create('transfusions', { date: 2, volume_ml: 111, notes: 'F private' });
    await phone.sync();
    await phone.sync();
    await loseRecord(phone, b);
    handTo(phone, c);
    const logFrom = clientLog.length;
    await phone.sync();
    expect(strategyOf(phone)).toBe('replacement');
    await expectHoldsOnly(phone, { id: c.familyId, record: gHistory }, { id: a.familyId, record: fPrivate });
    expect(clientLog.slice(logFrom)).toEqual([]);
    await phone.sync();
    expect(strategyOf(phone)).toBe('incremental');
  });
});

