/**
 * The limit on new installations (NewInstallationLimiter): a member's client that sends a new
 * X-Device-Id with every sync added a sync_cursors row (and, pushing, a sync_last_pushes row) each
 * time, for good. SYNC_NEW_INSTALLATION_LIMIT=3 per user per window here; the window is ended by
 * moving the stored counter's end (no waiting).
 */
import { randomUUID } from 'node:crypto';
import { familyWithMember, type RegisteredUser } from '../factories/auth.factory.js';
import { changesOf, newTransfusion, pull, push, type SyncCaller } from '../factories/sync.factory.js';
import { expectRateLimited } from '../setup/rate-limits.js';
import { useTestApp } from '../setup/test-app.js';

describe('new installations per user (e2e)', () => {
  const t = useTestApp({ SYNC_NEW_INSTALLATION_LIMIT: '3', SYNC_NEW_INSTALLATION_WINDOW_SECONDS: '60' });

  const caller = (u: RegisteredUser): SyncCaller => ({ token: u.token, familyId: u.family.id });
  /** What a refused sync must leave as it was: every row the device, the user and the family have. */
  async function footprint(u: RegisteredUser, device: string) {
    const [row] = await t.db.query(
      `SELECT (SELECT count(*)::int FROM sync_cursors WHERE device_id = $1) AS cursors,
              (SELECT count(*)::int FROM sync_last_pushes WHERE device_id = $1 OR user_id = $2) AS last_pushes,
              (SELECT count(*)::int FROM transfusions WHERE family_id = $3) AS transfusions,
              (SELECT sync_version::text FROM families WHERE id = $3) AS version,
              (SELECT count FROM auth_rate_limits WHERE key = 'new-installation|user:' || $2) AS counted`,
      [device, u.user.id, u.family.id],
    );
    return row as { cursors: number; last_pushes: number; transfusions: number; version: string; counted: number | null };
  }
  /** A phone's first sync: a full pull, then a push of one record, both with its new id. Its cursor: the pull's timestamp. */
  async function firstSync(u: RegisteredUser, device: string): Promise<number> {
    const pulled = await pull(t, caller(u), null, device).expect(200);
    await push(t, caller(u), pulled.body.timestamp, changesOf('transfusions', { created: [newTransfusion()] }), device).expect(200);
    return pulled.body.timestamp;
  }
  /** The user's window ends now, as if it had run out. */
  const endWindow = (u: RegisteredUser) => t.db.query(`UPDATE auth_rate_limits SET window_ends_at = now() WHERE key = 'new-installation|user:' || $1`, [u.user.id]);

  it('the 4th new X-Device-Id of a user within the window is refused 429 with Retry-After, pull and push, writing nothing; known ids, id-less pulls and the other member go on; the next window lets it through', async () => {
    const { owner, member } = await familyWithMember(t);
    // Three phones, each pulled then pushed from: one new installation each (the push finds the pull's cursor).
    const known = randomUUID();
    let cursor = await firstSync(owner, known);
    for (let i = 0; i < 2; i++) await firstSync(owner, randomUUID());

    const fourth = randomUUID();
    const before = await footprint(owner, fourth);
    expect(before).toMatchObject({ cursors: 0, counted: 3 });
    expectRateLimited(await pull(t, caller(owner), null, fourth));
    expectRateLimited(await pull(t, caller(owner), cursor, fourth));
    expectRateLimited(await push(t, caller(owner), cursor, changesOf('transfusions', { created: [newTransfusion()] }), fourth));
    expect(await footprint(owner, fourth)).toEqual(before);

    // The phone already known syncs on, incrementally, pulling and pushing; a pull without an id too.
    const incremental = await pull(t, caller(owner), cursor, known).expect(200);
    expect(incremental.body.experimentalStrategy).toBeUndefined();
    cursor = (await push(t, caller(owner), incremental.body.timestamp, changesOf('transfusions', { created: [newTransfusion()] }), known).expect(200)).body.timestamp;
    await pull(t, caller(owner), cursor).expect(200);
    // Another member of the family counts their own new installations, and may sync on the owner's known phone.
    await firstSync(member, randomUUID());
    await pull(t, caller(member), null, known).expect(200);
    expect(await footprint(owner, fourth)).toMatchObject({ cursors: 0, counted: 3 });

    await endWindow(owner);
    await firstSync(owner, fourth);
    expect(await footprint(owner, fourth)).toMatchObject({ cursors: 1, counted: 1 });
  });

  it('a push from a new id never pulled with is counted once, and refused past the limit with the whole push rolled back', async () => {
    const { owner } = await familyWithMember(t);
    const pulled = await pull(t, caller(owner), null).expect(200);
    let cursor: number = pulled.body.timestamp;
    for (let i = 0; i < 3; i++) {
      const device = randomUUID();
      cursor = (await push(t, caller(owner), cursor, changesOf('transfusions', { created: [newTransfusion()] }), device).expect(200)).body.timestamp;
      // Its next push, and its first pull, find the installation known: not counted again.
      cursor = (await push(t, caller(owner), cursor, changesOf('transfusions', { created: [newTransfusion()] }), device).expect(200)).body.timestamp;
      await pull(t, caller(owner), cursor, device).expect(200);
    }
    const fourth = randomUUID();
    const before = await footprint(owner, fourth);
    expect(before).toMatchObject({ transfusions: 6, counted: 3 });
    expectRateLimited(await push(t, caller(owner), cursor, changesOf('transfusions', { created: [newTransfusion()] }), fourth));
    expect(await footprint(owner, fourth)).toEqual(before);
  });
});
