import { Logger } from '@nestjs/common';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { createServiceKit, unitEmail, type ServiceKit, domainFailure as failure } from '../../../test/factories/services.factory.js';
import { capturingLogger } from '../../../test/setup/captured-logs.js';
import { sessionsWaitingBehind, until } from '../../../test/setup/wait.js';
import { ErrorCode } from '../errors/domain-error.js';
import { FAMILY_SYNC_CHANNEL, NOTHING_TO_WRITE, type VersionedWrite } from './family-version.service.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A channel of this spec's own, for markers (the app's listeners never see them). */
const MARKER_CHANNEL = 'hemoday_test_marker';

/** A promise and the function that resolves it: holds a write inside its transaction until released. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** FamilyVersionService over the run's real PostgreSQL: the lock, the version rule, rollback and notification are the database's. */
describe('FamilyVersionService', () => {
  let kit: ServiceKit;
  /** A connection LISTENing on the family channel, as SyncEventsService does; payloads in arrival order. */
  let listener: pg.Client;
  const notified: string[] = [];
  /** Marker payloads received on MARKER_CHANNEL. */
  const markers: string[] = [];

  beforeAll(async () => {
    kit = await createServiceKit();
    listener = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await listener.connect();
    listener.on('notification', (message) => (message.channel === MARKER_CHANNEL ? markers : notified).push(message.payload ?? ''));
    await listener.query(`LISTEN ${FAMILY_SYNC_CHANNEL}; LISTEN ${MARKER_CHANNEL}`);
  });
  afterAll(async () => {
    await listener?.end();
    await kit?.close();
  });

  /** A new family (and its owner) per test. */
  const newFamily = async () => {
    const { user } = await kit.auth.register({ email: unitEmail('version'), password: 'correct horse battery' });
    return { familyId: user.family_id!, userId: user.id };
  };
  const syncVersion = async (familyId: string): Promise<number> =>
    Number((await kit.dataSource.query('SELECT sync_version FROM families WHERE id = $1', [familyId]))[0].sync_version);
  const setSyncVersion = (familyId: string, version: number) => kit.dataSource.query('UPDATE families SET sync_version = $2 WHERE id = $1', [familyId, version]);
  const patientName = async (familyId: string): Promise<string | null> =>
    (await kit.dataSource.query('SELECT patient_name FROM families WHERE id = $1', [familyId]))[0].patient_name;
  const rename = (write: VersionedWrite, name: string) =>
    write.manager.query('UPDATE families SET patient_name = $2, server_version = $3 WHERE id = $1', [write.familyId, name, write.version]);
  /** Notifications of this family so far (other spec files write other families at the same time). */
  const notificationsOf = (familyId: string) => notified.filter((payload) => payload.startsWith(`${familyId}:`));
  /**
   * Resolves once every notification committed before the call has reached the listener: a marker
   * notified now arrives after them (PostgreSQL delivers notifications in commit order). No wait
   * of a fixed time, which a slow machine could outlast.
   */
  const caughtUp = async () => {
    const marker = randomUUID();
    await kit.dataSource.query('SELECT pg_notify($1, $2)', [MARKER_CHANNEL, marker]);
    await until(() => markers.includes(marker), 'the marker notification');
  };
  /** The backend pid of a write's transaction, for seeing who waits for its locks. */
  const pidOf = async (write: VersionedWrite): Promise<number> => (await write.manager.query('SELECT pg_backend_pid() AS pid'))[0].pid;
  const observer = { query: async (sql: string, params: unknown[]) => ({ rows: await kit.dataSource.query(sql, params) }) };
  /** Until `done()` holds or some session waits for `pid`'s locks (a wait of no fixed length). */
  const doneOrWaitingBehind = (pid: number, done: () => boolean, what: string) =>
    until(async () => done() || (await sessionsWaitingBehind(observer as never, pid)) > 0, what);

  describe('the version rule: greatest(now_ms, sync_version + 1)', () => {
    it('follows the database clock when the family is behind it', async () => {
      const { familyId } = await newFamily();
      await setSyncVersion(familyId, 5);
      const before = Date.now();
      const { version } = await kit.versions.writeForFamily(familyId, async ({ previousVersion }) => {
        expect(previousVersion).toBe(5);
      });
      // Same machine, so the database clock is the test's give or take a little.
      expect(version).toBeGreaterThan(before - 1_000);
      expect(version).toBeLessThan(Date.now() + 1_000);
      expect(await syncVersion(familyId)).toBe(version);
    });

    it('is sync_version + 1 when the family is ahead of the clock (a fast clock elsewhere): versions never go back', async () => {
      const { familyId } = await newFamily();
      const ahead = Date.now() + 3_600_000;
      await setSyncVersion(familyId, ahead);
      const seen: VersionedWrite[] = [];
      const { version } = await kit.versions.writeForFamily(familyId, async (write) => void seen.push(write));
      expect(version).toBe(ahead + 1);
      expect(seen).toEqual([expect.objectContaining({ familyId, version: ahead + 1, previousVersion: ahead })]);
      expect(await syncVersion(familyId)).toBe(ahead + 1);
    });

    it('`leaving` raises the floor to the family left, read under its lock (a join: above every cursor of that family)', async () => {
      const [joined, left] = [await newFamily(), await newFamily()];
      const ahead = Date.now() + 7_200_000;
      await setSyncVersion(left.familyId, ahead);
      const { version } = await kit.versions.writeForFamily(joined.familyId, async () => undefined, { leaving: left.familyId });
      expect(version).toBe(ahead + 1);
      expect(await syncVersion(left.familyId)).toBe(ahead); // locked, not bumped (bumpLeft does that)
    });
  });

  describe('the lock', () => {
    it('`leaving` holds the family left for the whole write: its writers wait, then get versions above the join', async () => {
      const [joined, left] = [await newFamily(), await newFamily()];
      const hold = gate();
      const locked = gate();
      let joinVersion = 0;
      let joinPid = 0;
      const join = kit.versions.writeForFamily(
        joined.familyId,
        async (write) => {
          joinVersion = write.version;
          joinPid = await pidOf(write);
          locked.open();
          await hold.opened;
        },
        { leaving: left.familyId },
      );
      await locked.opened; // both families are locked
      let leftWritten = false;
      const leftWrite = kit.versions.writeForFamily(left.familyId, async () => void (leftWritten = true));
      await doneOrWaitingBehind(joinPid, () => leftWritten, "the left family's write to run or wait");
      expect(leftWritten).toBe(false);
      hold.open();
      await join;
      expect((await leftWrite).version).toBeGreaterThan(joinVersion);
    });

    it('two joins in opposite directions do not deadlock (both families locked in id order)', async () => {
      const [a, b] = [await newFamily(), await newFamily()];
      const writes = [];
      for (let i = 0; i < 10; i++) {
        writes.push(kit.versions.writeForFamily(a.familyId, () => sleep(5), { leaving: b.familyId }));
        writes.push(kit.versions.writeForFamily(b.familyId, () => sleep(5), { leaving: a.familyId }));
      }
      await expect(Promise.all(writes)).resolves.toHaveLength(20);
    });

    it('serializes writes to one family: the second waits for the first to commit, then gets a larger version', async () => {
      const { familyId } = await newFamily();
      const hold = gate();
      const locked = gate();
      const order: string[] = [];
      let firstPid = 0;
      const first = kit.versions.writeForFamily(familyId, async (write) => {
        order.push('first in');
        firstPid = await pidOf(write);
        locked.open();
        await hold.opened;
        await rename(write, 'first');
        order.push('first out');
      });
      await locked.opened; // the first has its lock
      const second = kit.versions.writeForFamily(familyId, async (write) => {
        order.push('second in');
        // It sees what the first committed: READ COMMITTED, after the lock was released.
        expect(await write.manager.query('SELECT patient_name FROM families WHERE id = $1', [familyId])).toEqual([{ patient_name: 'first' }]);
        return write.previousVersion;
      });
      await doneOrWaitingBehind(firstPid, () => order.includes('second in'), 'the second write to run or wait');
      expect(order).toEqual(['first in']);
      hold.open();
      const [a, b] = await Promise.all([first, second]);
      expect(order).toEqual(['first in', 'first out', 'second in']);
      expect(b.version).toBeGreaterThan(a.version);
      expect(b.result).toBe(a.version); // the second's "before" is the first's version
    });

    it('a write the database ends as a deadlock victim is run again, and both writes land', async () => {
      const [a, b] = [await newFamily(), await newFamily()];
      // Each write holds its own family and then reaches for the other's row: a deadlock, which
      // PostgreSQL resolves by ending one of them (40P01) after deadlock_timeout.
      const bothHoldTheirOwn = [gate(), gate()];
      const runs = { a: 0, b: 0 };
      const crossWrite = (own: typeof a, other: typeof a, key: 'a' | 'b', index: 0 | 1) =>
        kit.versions.writeForFamily(own.familyId, async (write) => {
          runs[key]++;
          if (runs[key] === 1) {
            bothHoldTheirOwn[index].open();
            await Promise.all(bothHoldTheirOwn.map((g) => g.opened));
          }
          await write.manager.query('SELECT 1 FROM families WHERE id = $1 FOR UPDATE', [other.familyId]);
          await rename(write, `written by ${key}`);
          return key;
        });
      const { logger, logged } = capturingLogger();
      Logger.overrideLogger(logger);
      const results = await Promise.all([crossWrite(a, b, 'a', 0), crossWrite(b, a, 'b', 1)]).finally(() =>
        Logger.overrideLogger(['warn', 'error', 'fatal']), // the run's level (test/setup/global-setup.mjs)
      );
      expect(results.map((r) => r.result)).toEqual(['a', 'b']);
      // One of them ran twice (the victim), the other once.
      expect([runs.a, runs.b].sort()).toEqual([1, 2]);
      // The operator sees the retry as one warning naming the victim's family and the cause.
      const victim = runs.a === 2 ? a : b;
      expect(logged).toEqual([
        {
          level: 'warn',
          message: { familyId: victim.familyId, attempt: 1, sqlState: '40P01' },
          rest: ['versioned write ended by the database (deadlock or serialization failure); running it again', 'FamilyVersionService'],
          reqId: undefined,
        },
      ]);
      expect([await patientName(a.familyId), await patientName(b.familyId)]).toEqual(['written by a', 'written by b']);
    });

    it('families never wait on each other', async () => {
      const [one, two] = [await newFamily(), await newFamily()];
      const hold = gate();
      const locked = gate();
      let heldPid = 0;
      const held = kit.versions.writeForFamily(one.familyId, async (write) => {
        heldPid = await pidOf(write);
        locked.open();
        await hold.opened;
      });
      await locked.opened; // `one` is locked from here on
      let result: string | undefined;
      const other = kit.versions.writeForFamily(two.familyId, async () => 'done').then((r) => (result = r.result));
      await doneOrWaitingBehind(heldPid, () => result !== undefined, "the other family's write to complete or wait");
      expect(result).toBe('done'); // completed while `one` is locked
      hold.open();
      await Promise.all([held, other]);
    });
  });

  describe('commit, rollback and notification', () => {
    it('commits the rows of the callback and notifies <familyId>:<version>, on commit only', async () => {
      const { familyId } = await newFamily();
      const hold = gate();
      const write = kit.versions.writeForFamily(familyId, async (w) => {
        await rename(w, 'Amira');
        await hold.opened;
        return 'written';
      });
      await caughtUp();
      expect(notificationsOf(familyId)).toEqual([]); // still in the transaction
      hold.open();
      const { result, version } = await write;
      await caughtUp();
      expect(result).toBe('written');
      expect(notificationsOf(familyId)).toEqual([`${familyId}:${version}`]);
      expect(await patientName(familyId)).toBe('Amira');
    });

    it('NOTHING_TO_WRITE rolls back without an error: no version, none of the callback\'s rows, no notification', async () => {
      const { familyId } = await newFamily();
      const before = await syncVersion(familyId);
      const outcome = await kit.versions.writeForFamily(familyId, async (w) => {
        await rename(w, 'not kept');
        return NOTHING_TO_WRITE;
      });
      // The version answered is the family's unchanged one.
      expect(outcome).toEqual({ result: NOTHING_TO_WRITE, version: before });
      await caughtUp();
      expect(await syncVersion(familyId)).toBe(before);
      expect(await patientName(familyId)).toBeNull();
      expect(notificationsOf(familyId)).toEqual([]);
      // The connection went back to the pool clean: the next write works as usual.
      const next = await kit.versions.writeForFamily(familyId, async (w) => rename(w, 'kept'));
      expect(next.version).toBeGreaterThan(before);
      expect(await patientName(familyId)).toBe('kept');
    });

    it('an error rolls everything back (version bump included) and reaches the caller', async () => {
      const { familyId } = await newFamily();
      const before = await syncVersion(familyId);
      const boom = new Error('boom');
      await expect(
        kit.versions.writeForFamily(familyId, async (w) => {
          await rename(w, 'not kept');
          throw boom;
        }),
      ).rejects.toBe(boom);
      await caughtUp();
      expect(await syncVersion(familyId)).toBe(before);
      expect(await patientName(familyId)).toBeNull();
      expect(notificationsOf(familyId)).toEqual([]);
    });

    it('`committing` is called as COMMIT is sent, after the record limit\'s check: not for a write that check refuses (rolled back for sure)', async () => {
      const { familyId } = await newFamily();
      await kit.dataSource.query('UPDATE families SET record_count = 1000000 WHERE id = $1', [familyId]); // the kit's limit
      const calls: string[] = [];
      const refused = await failure(() =>
        kit.versions.writeForFamily(
          familyId,
          async (w) => {
            await rename(w, 'not kept');
            w.addRecords(1);
          },
          { committing: () => void calls.push('refused') },
        ),
      );
      expect(refused.code).toBe(ErrorCode.RECORD_QUOTA_EXCEEDED);
      await kit.versions.writeForFamily(familyId, (w) => rename(w, 'kept'), { committing: () => void calls.push('kept') });
      expect(calls).toEqual(['kept']);
      expect(await patientName(familyId)).toBe('kept');
    });

    it('an unknown family is NOT_FOUND, before the callback runs', async () => {
      let ran = false;
      const error = await failure(() => kit.versions.writeForFamily(randomUUID(), async () => void (ran = true)));
      expect(error.code).toBe(ErrorCode.NOT_FOUND);
      expect(ran).toBe(false);
    });
  });

  describe('write()', () => {
    it("writes in the request scope's family, and refuses to run without a scope", async () => {
      const { familyId, userId } = await newFamily();
      const { result } = await kit.as(userId, () => kit.versions.write(async (w) => w.familyId));
      expect(result).toBe(familyId);
      expect((await failure(() => kit.versions.write(async () => undefined))).code).toBe(ErrorCode.FAMILY_SCOPE_MISSING);
    });

    it('refuses, writing nothing, a caller whose membership changed after the request read it (removed, or left and rejoined)', async () => {
      const { familyId, userId } = await newFamily();
      const scope = { userId, familyId, role: 'owner' as const, joinedVersion: 0 };
      const [{ family_joined_version: joined }] = await kit.dataSource.query('SELECT family_joined_version FROM users WHERE id = $1', [userId]);
      const before = await syncVersion(familyId);
      // The request began before a rejoin (another joined version), then after a removal (no family).
      for (const [stale, change] of [
        [{ ...scope, joinedVersion: Number(joined) - 1 }, undefined],
        [{ ...scope, joinedVersion: Number(joined) }, 'UPDATE users SET family_id = NULL, role = NULL WHERE id = $1'],
      ] as const) {
        if (change) await kit.dataSource.query(change, [userId]);
        const error = await failure(() => kit.familyContext.run(stale, () => kit.versions.write((w) => rename(w, 'written by a former member'))));
        expect(error.code).toBe(ErrorCode.MEMBERSHIP_CHANGED);
        expect(error.details).toEqual({ membership_changed: true });
      }
      expect(await patientName(familyId)).toBeNull();
      expect(await syncVersion(familyId)).toBe(before);
    });
  });
});
