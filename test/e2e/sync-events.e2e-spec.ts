/**
 * Real-time "sync now" events (SSE): committed writes reach the family's
 * connected devices, through PostgreSQL LISTEN/NOTIFY, and nobody else's.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { from, switchMap, VirtualTimeScheduler } from 'rxjs';
import { DataSource } from 'typeorm';
import { AppLogger, createPino } from '../../src/common/logging/app-logger.js';
import { connectionName } from '../../src/database/connection-name.js';
import { HEARTBEAT_MS, HEARTBEAT_SCHEDULER } from '../../src/modules/sync/sync-events.service.js';
import { SyncRepository } from '../../src/modules/sync/sync.repository.js';
import { bearer, familyWithMember, registerFamily, resignToken } from '../factories/auth.factory.js';
import { expectEnded, openEvents } from '../setup/event-stream.js';
import { useTestApp, type RunningApp } from '../setup/test-app.js';
import { until } from '../setup/wait.js';

/**
 * Holds the next stream between the guards and its subscription to the end signals (the window
 * the guards' check and the stream's subscription leave between them), until `release()`.
 */
async function holdNextStream(t: RunningApp) {
  const { SyncEventsService } = await import('../../src/modules/sync/sync-events.service.js');
  const service = t.app.get(SyncEventsService);
  const stream = service.stream;
  let reached!: () => void;
  let release!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const gate = new Promise<void>((r) => (release = r));
  service.stream = (...args: Parameters<typeof stream>) => {
    service.stream = stream;
    reached();
    return from(gate).pipe(switchMap(() => stream.apply(service, args)));
  };
  return {
    atGate,
    release,
    restore: () => {
      service.stream = stream;
      release();
    },
  };
}

const transfusion = () => ({
  id: randomUUID(),
  date: Date.now(),
  volume_ml: 250,
  created_at: Date.now(),
  updated_at: Date.now(),
});

/** One committed write to the family: a new transfusion pushed by `owner`. */
function pushTransfusion(t: RunningApp, owner: { token: string; family: { id: string } }) {
  return t
    .http()
    .post('/api/v1/sync?last_pulled_at=0')
    .set(bearer(owner.token))
    .send({ changes: { transfusions: { created: [{ ...transfusion(), family_id: owner.family.id }], updated: [], deleted: [] } } })
    .expect(200);
}

/**
 * The stream (`opening`) announced `written`; `release` lets go of whatever the test held, and a
 * later write is the barrier (whatever the held step sent went out before its event): the stream
 * announced each version once, in order. Closes the stream.
 */
async function expectEachVersionOnce(
  t: RunningApp,
  opening: ReturnType<typeof openEvents>,
  owner: { token: string; family: { id: string } },
  written: number,
  release: () => void,
): Promise<void> {
  const stream = await opening;
  try {
    await stream.waitFor((e) => e.type === 'sync' && e.data.version === written);
    release();
    const later = (await pushTransfusion(t, owner)).body.timestamp as number;
    await stream.waitFor((e) => e.type === 'sync' && e.data.version === later);
    expect(stream.events.filter((e) => e.type === 'sync').map((e) => e.data.version)).toEqual([written, later]);
  } finally {
    await stream.close();
  }
}

/**
 * Opens a stream with `token` and holds it between the guards and its subscription while `change`
 * commits and a later write by `witness.caller` reaches `witness.stream` — so the change's
 * notification has gone by with no stream of `token` listening — then lets it go: it must end at
 * once, having sent no version. Returns the later write's version.
 */
async function expectEndedByChangeInWindow(
  t: RunningApp,
  token: string,
  witness: { caller: { token: string; family: { id: string } }; stream: Awaited<ReturnType<typeof openEvents>> },
  change: () => Promise<unknown>,
  what: string,
): Promise<number> {
  const hold = await holdNextStream(t);
  try {
    const opening = openEvents(t, token);
    await hold.atGate;
    await change();
    const later = await pushTransfusion(t, witness.caller);
    await witness.stream.waitFor((e) => e.type === 'sync' && e.data.version === later.body.timestamp);
    hold.release();
    const stream = await opening;
    try {
      await expectEnded(stream, what, 5_000);
      expect(stream.events.filter((e) => e.type === 'sync')).toEqual([]);
    } finally {
      await stream.close();
    }
    return later.body.timestamp;
  } finally {
    hold.restore();
  }
}

describe('sync events (SSE)', () => {
  const t = useTestApp();

  it('tells every device of the family, and only that family, about a committed write', async () => {
    const { owner, member } = await familyWithMember(t);
    const stranger = await registerFamily(t);
    const mine = await openEvents(t, member.token);
    const theirs = await openEvents(t, stranger.token);
    try {
      expect(mine.response.status).toBe(200);
      expect(mine.response.headers.get('content-type')).toMatch(/text\/event-stream/);
      const initial = await mine.waitFor((e) => e.type === 'sync');
      await theirs.waitFor((e) => e.type === 'sync');

      const push = await pushTransfusion(t, owner);
      const version = push.body.timestamp as number;
      expect(version).toBeGreaterThan(initial.data.version!);

      const event = await mine.waitFor((e) => e.type === 'sync' && e.data.version === version);
      expect(event.id).toBe(String(version));
      // The other family's stream saw only its own versions: a later write of theirs is the barrier
      // (one listening connection, notifications in commit order), not a wait of some milliseconds.
      const strangers = (await pushTransfusion(t, stranger)).body.timestamp as number;
      await theirs.waitFor((e) => e.type === 'sync' && e.data.version === strangers);
      expect(theirs.events.filter((e) => e.type === 'sync').map((e) => e.data.version)).toEqual([expect.any(Number), strangers]);
      expect(theirs.events.some((e) => e.data.version === version)).toBe(false);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  // Found by mutation testing: a notification sent outside the write's transaction (so also for a write
  // that then rolls back) passed every test. The device would pull for a version that never existed.
  it('a write that rolls back (a push refused with 409) tells nobody; the next committed write does', async () => {
    const { owner, member } = await familyWithMember(t);
    const stream = await openEvents(t, member.token);
    try {
      const initial = await stream.waitFor((e) => e.type === 'sync');
      const record = { ...transfusion(), family_id: owner.family.id };
      const push = (lastPulledAt: number, changes: Record<string, unknown[]>) =>
        t
          .http()
          .post(`/api/v1/sync?last_pulled_at=${lastPulledAt}`)
          .set(bearer(owner.token))
          .send({ changes: { transfusions: { created: [], updated: [], deleted: [], ...changes } } });
      const created = (await push(0, { created: [record] }).expect(200)).body.timestamp as number;
      // A phone that has not pulled that write edits the record: a conflict, nothing applied.
      await push(0, { updated: [{ ...record, volume_ml: 300 }] }).expect(409);
      const next = (await push(created, { updated: [{ ...record, volume_ml: 310 }] }).expect(200)).body.timestamp as number;
      await stream.waitFor((e) => e.type === 'sync' && e.data.version === next);
      expect(stream.events.filter((e) => e.type === 'sync').map((e) => e.data.version)).toEqual([initial.data.version, created, next]);
    } finally {
      await stream.close();
    }
  });

  // Found by review: the version a new stream reads and the notifications it hears race. A write
  // committed after that read's snapshot is announced by the listener, and could be sent before the
  // read's answer, which then went out after it: the stream went back to an older version (and its
  // pings' id with it). An app that keeps the latest event while a sync runs (README: "compared once
  // that sync has finished") then compared that older version, and skipped the write.
  it('never announces a version below one it already sent: a write committed while the stream reads the current version', async () => {
    const { owner, member } = await familyWithMember(t);
    const repository = t.app.get(SyncRepository);
    const streamState = repository.streamState;
    let read!: (version: number | null) => void;
    let release!: () => void;
    const snapshotRead = new Promise<number | null>((r) => (read = r));
    const gate = new Promise<void>((r) => (release = r));
    // The real query, its answer held back until the write below has been announced: the interleaving
    // a slow answer produces, made certain. The stream's own read, not SyncListeningGuard's before it.
    let reads = 0;
    repository.streamState = async (...args: Parameters<typeof streamState>) => {
      if (++reads === 1) return streamState.apply(repository, args);
      repository.streamState = streamState;
      const state = await streamState.apply(repository, args);
      read(state.version);
      await gate;
      return state;
    };
    const opening = openEvents(t, member.token);
    try {
      const before = await snapshotRead;
      const written = (await pushTransfusion(t, owner)).body.timestamp as number;
      expect(written).toBeGreaterThan(before!);
      await expectEachVersionOnce(t, opening, owner, written, release);
    } finally {
      repository.streamState = streamState;
      release();
    }
  });

  it('never announces the same version twice: a write notified before the stream has read the current version, which the read then finds', async () => {
    const { owner, member } = await familyWithMember(t);
    const repository = t.app.get(SyncRepository);
    const streamState = repository.streamState;
    let reached!: () => void;
    let release!: () => void;
    const atRead = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    // The stream's own read (not SyncListeningGuard's before it) held before it runs, while a write commits and is
    // announced: the read then finds that write's version, already sent by its notification.
    let reads = 0;
    repository.streamState = async (...args: Parameters<typeof streamState>) => {
      if (++reads === 1) return streamState.apply(repository, args);
      repository.streamState = streamState;
      reached();
      await gate;
      return streamState.apply(repository, args);
    };
    const opening = openEvents(t, member.token);
    try {
      await atRead;
      const written = (await pushTransfusion(t, owner)).body.timestamp as number;
      await expectEachVersionOnce(t, opening, owner, written, release);
    } finally {
      repository.streamState = streamState;
      release();
    }
  });

  it('ends the stream of a member who is removed, and refuses their reconnection', async () => {
    const { owner, member } = await familyWithMember(t);
    const stream = await openEvents(t, member.token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      await t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stream.ended,
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('stream still open after removal')), 10_000))),
      ]).finally(() => clearTimeout(timer));
      // The removal ended their sign-ins (401); signed in again, they are in no family (403).
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(member.token) });
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ statusCode: 401 }); // a body left unread holds its socket open
      const token = (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token;
      const signedIn = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(token) });
      expect(signedIn.status).toBe(403);
      expect(await signedIn.json()).toMatchObject({ statusCode: 403, details: { code: 'NO_FAMILY' } });
    } finally {
      await stream.close();
    }
  });

  it('ends the stream of a member removed by their id in upper case (the notification names them as their tokens do)', async () => {
    const { owner, member } = await familyWithMember(t);
    const stream = await openEvents(t, member.token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      await t.http().delete(`/api/v1/families/me/members/${member.user.id.toUpperCase()}`).set(bearer(owner.token)).expect(204);
      await expectEnded(stream, 'removal by an upper-case id');
    } finally {
      await stream.close();
    }
  });

  it('ends the stream of a member who leaves (POST /families/me/leave); the same token then gets 403 NO_FAMILY, and the owner\'s stream goes on', async () => {
    const { owner, member } = await familyWithMember(t);
    const leaver = await openEvents(t, member.token);
    const staying = await openEvents(t, owner.token);
    try {
      await leaver.waitFor((e) => e.type === 'sync');
      await staying.waitFor((e) => e.type === 'sync');
      await t.http().post('/api/v1/families/me/leave').set(bearer(member.token)).expect(204);
      await expectEnded(leaver, 'leave');
      // The leave replaced the invite code: a write the owner's stream announces.
      const [{ version }] = await t.app.get(DataSource).query('SELECT sync_version::float8 AS version FROM families WHERE id = $1', [owner.family.id]);
      await staying.waitFor((e) => e.type === 'sync' && e.data.version === version);
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(member.token) });
      expect(again.status).toBe(403);
      expect(await again.json()).toMatchObject({ statusCode: 403, details: { code: 'NO_FAMILY' } });
    } finally {
      await Promise.all([leaver.close(), staying.close()]);
    }
  });

  it('ends the streams of a user whose password is reset, and refuses their reconnection with an earlier token', async () => {
    const { AuthService } = await import('../../src/modules/auth/auth.service.js');
    const { owner, member } = await familyWithMember(t);
    const phone = await openEvents(t, member.token);
    const tablet = await openEvents(t, (await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password }).expect(200)).body.access_token);
    const others = await openEvents(t, owner.token);
    try {
      await Promise.all([phone, tablet, others].map((s) => s.waitFor((e) => e.type === 'sync')));
      await t.app.get(AuthService).resetPassword(member.email, 'a brand new password');
      await expectEnded(phone, 'the password reset');
      await expectEnded(tablet, 'the password reset');
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(member.token) });
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ statusCode: 401 });
      // Only that user: the owner's stream still gets the family's events.
      const push = await pushTransfusion(t, owner);
      await others.waitFor((e) => e.type === 'sync' && e.data.version === push.body.timestamp);
    } finally {
      await Promise.all([phone.close(), tablet.close(), others.close()]);
    }
  });

  it('a logout ends the streams of that sign-in and refuses their reconnection; the user\'s other sign-in keeps its stream', async () => {
    const user = await registerFamily(t);
    const tablet = (await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    const phone = await openEvents(t, user.token);
    const tabletStream = await openEvents(t, tablet.access_token);
    try {
      await Promise.all([phone, tabletStream].map((s) => s.waitFor((e) => e.type === 'sync')));
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);
      await expectEnded(phone, 'logout');
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(user.token) });
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ statusCode: 401 });
      const push = await pushTransfusion(t, { ...user, token: tablet.access_token });
      await tabletStream.waitFor((e) => e.type === 'sync' && e.data.version === push.body.timestamp);
    } finally {
      await Promise.all([phone.close(), tabletStream.close()]);
    }
  });

  // Found by mutation testing: no test opened a stream with a token that names no sign-in.
  it('a logout also ends a stream opened with a token that names no sign-in (issued before the claim existed): its sign-in cannot be told', async () => {
    const user = await registerFamily(t);
    const legacy = await resignToken(user.token, ({ sid: _sid, ...claims }) => claims);
    const stream = await openEvents(t, legacy);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);
      await expectEnded(stream, 'a logout of its user');
    } finally {
      await stream.close();
    }
  });

  it('ends a stream whose member was removed after the guards let it through but before it listened (the notification went by unheard)', async () => {
    const { owner, member } = await familyWithMember(t);
    // The owner's stream: the listening connection is up, and it hears a later write.
    const owners = await openEvents(t, owner.token);
    try {
      await owners.waitFor((e) => e.type === 'sync');
      await expectEndedByChangeInWindow(
        t,
        member.token,
        { caller: owner, stream: owners },
        () => t.http().delete(`/api/v1/families/me/members/${member.user.id}`).set(bearer(owner.token)).expect(204),
        'the removal in the window',
      );
      const again = await fetch(`${t.baseUrl}/api/v1/sync/events`, { headers: bearer(member.token) });
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ statusCode: 401 });
    } finally {
      await owners.close();
    }
  });

  it('ends a stream whose user joined another family after the guards let it through but before it listened (the sign-in stays live)', async () => {
    const joined = await registerFamily(t);
    const mover = await registerFamily(t);
    const joinedStream = await openEvents(t, joined.token);
    try {
      await joinedStream.waitFor((e) => e.type === 'sync');
      const later = await expectEndedByChangeInWindow(
        t,
        mover.token,
        { caller: joined, stream: joinedStream },
        () => t.http().post('/api/v1/auth/join-family').set(bearer(mover.token)).send({ invite_code: joined.inviteCode }).expect(200),
        'the join in the window',
      );
      // Reconnected with the same token, the stream is the family joined's.
      const again = await openEvents(t, mover.token);
      try {
        const first = await again.waitFor((e) => e.type === 'sync');
        expect(first.data.version).toBeGreaterThanOrEqual(later);
      } finally {
        await again.close();
      }
    } finally {
      await joinedStream.close();
    }
  });

  it('ends a stream whose sign-in was logged out after the guards let it through but before it listened; the user\'s other sign-in keeps its stream', async () => {
    const user = await registerFamily(t);
    const tablet = (await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    const tabletStream = await openEvents(t, tablet.access_token);
    try {
      await tabletStream.waitFor((e) => e.type === 'sync');
      await expectEndedByChangeInWindow(
        t,
        user.token,
        { caller: { ...user, token: tablet.access_token }, stream: tabletStream },
        () => t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204),
        'the logout in the window',
      );
      // The other sign-in's stream is still open: the next write reaches it.
      const push = await pushTransfusion(t, { ...user, token: tablet.access_token });
      await tabletStream.waitFor((e) => e.type === 'sync' && e.data.version === push.body.timestamp);
    } finally {
      await tabletStream.close();
    }
  });

  it('a logout with an unknown token ends nobody\'s stream', async () => {
    const user = await registerFamily(t);
    const stream = await openEvents(t, user.token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      // Well-formed and naming this very sign-in, with a wrong secret: it gets as far as the token's
      // look-up (a malformed one, as `<user id>.not-the-secret` was, is dropped before it).
      const [tokenId, secret] = user.refreshToken.split('.');
      const forged = `${tokenId}.${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: forged }).expect(204);
      // Still open: the next write reaches it. No wait needed first: an end the logout sent would come
      // before this write's event (one listening connection, notifications in commit order).
      await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ notes: 'still listening' }).expect(200);
      await stream.waitFor((e) => e.type === 'sync' && e.data.version !== stream.events[0].data.version);
    } finally {
      await stream.close();
    }
  });

  it('ends every stream when its LISTEN connection is lost (events sent meanwhile are gone), and listens again for the next', async () => {
    const db = t.app.get(DataSource);
    const user = await registerFamily(t);
    const stream = await openEvents(t, user.token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      const [{ terminated }] = await db.query(
        `SELECT count(*)::int AS terminated FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) x`,
        [connectionName('sync-events')],
      );
      expect(terminated).toBe(1);
      await expectEnded(stream, 'the listener connection was lost');
    } finally {
      await stream.close();
    }
    // The device reconnects: a new listening connection carries the next write.
    const again = await openEvents(t, user.token);
    try {
      const first = await again.waitFor((e) => e.type === 'sync');
      await t.http().patch('/api/v1/families/me').set(bearer(user.token)).send({ notes: 'after the reconnect' }).expect(200);
      await again.waitFor((e) => e.type === 'sync' && e.data.version! > first.data.version!);
    } finally {
      await again.close();
    }
  });

  it("logs the loss of the LISTEN connection without the request id of the stream that opened it (an instance's event, not a request's)", async () => {
    const db = t.app.get(DataSource);
    // No listener left by an earlier test: the next stream opens one.
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [connectionName('sync-events')]);
    const lines: Array<{ msg: string; reqId?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as { msg: string; reqId?: string });
        callback();
      },
    });
    t.app.useLogger(new AppLogger(createPino('info', sink)));
    try {
      const user = await registerFamily(t);
      const stream = await openEvents(t, user.token);
      const streamReqId = stream.response.headers.get('x-request-id');
      await stream.waitFor((e) => e.type === 'sync');
      await stream.close();
      await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [connectionName('sync-events')]);
      await until(() => lines.some((l) => l.msg.startsWith('sync event listener lost its connection')), 'the warning of the lost listener');
      const warning = lines.find((l) => l.msg.startsWith('sync event listener lost its connection'))!;
      // It carried streamReqId: an operator looking up that (long finished) request found an outage in it.
      expect(streamReqId).toMatch(/^[0-9a-f-]{36}$/);
      expect(warning).not.toHaveProperty('reqId');
    } finally {
      t.app.useLogger(new AppLogger(createPino(process.env.TEST_LOG_LEVEL ?? 'silent')));
    }
  });

  it('holds at most MAX_STREAMS_PER_USER open streams per user: a newer one ends their oldest; closed ones free their place; other users are not counted', async () => {
    const { MAX_STREAMS_PER_USER } = await import('../../src/modules/sync/sync-events.service.js');
    const { owner, member } = await familyWithMember(t);
    const open = async (token: string) => {
      const stream = await openEvents(t, token);
      await stream.waitFor((e) => e.type === 'sync');
      return stream;
    };
    const theirs = await open(member.token);
    const mine = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_USER; i++) mine.push(await open(owner.token));
      const newest = await open(owner.token); // one past the cap: the owner's oldest ends
      mine.push(newest);
      await expectEnded(mine[0], 'a newer stream took its place');
      // Closed by their clients, the others free their places: as many new ones end none of them.
      for (const stream of mine.splice(1, MAX_STREAMS_PER_USER - 1)) await stream.close();
      for (let i = 0; i < MAX_STREAMS_PER_USER - 1; i++) mine.push(await open(owner.token));
      const version = (await pushTransfusion(t, owner)).body.timestamp as number;
      for (const stream of [theirs, ...mine.slice(1)]) await stream.waitFor((e) => e.type === 'sync' && e.data.version === version);
    } finally {
      for (const stream of [theirs, ...mine]) await stream.close();
    }
  });

  // Found by mutation testing: with closed streams never giving their place back (no release on
  // finalize), the test above still passed: the streams it closed were the oldest, so the newer ones
  // pushed out only dead places. Here the oldest stream stays open and newer ones come and go.
  it('a stream the device closed gives its place back: an open older stream is not ended by streams opened and closed after it', async () => {
    const { MAX_STREAMS_PER_USER, SyncEventsService } = await import('../../src/modules/sync/sync-events.service.js');
    const owner = await registerFamily(t);
    const places = () => (t.app.get(SyncEventsService) as unknown as { openStreams: Map<string, unknown[]> }).openStreams.get(owner.user.id)?.length ?? 0;
    const oldest = await openEvents(t, owner.token);
    try {
      await oldest.waitFor((e) => e.type === 'sync');
      for (let i = 0; i < MAX_STREAMS_PER_USER; i++) {
        const passing = await openEvents(t, owner.token);
        await passing.waitFor((e) => e.type === 'sync');
        await passing.close();
        // The server has seen it closed (not a pause that hopes it has): only the oldest holds a place.
        await until(() => places() === 1, 'the closed stream to give its place back');
      }
      const version = (await pushTransfusion(t, owner)).body.timestamp as number;
      await oldest.waitFor((e) => e.type === 'sync' && e.data.version === version);
    } finally {
      await oldest.close();
    }
  });

  // Found in review: Node hands pipelined requests to the app at once, and their answers waited behind
  // the stream (up to 15 min) out of the send timeout's reach: full pulls sent that way held their bodies.
  it('a request pipelined behind a stream on its connection is not carried out: 400 MALFORMED_REQUEST once the stream ends, then the connection is closed', async () => {
    const user = await registerFamily(t);
    const record = { ...transfusion(), family_id: user.family.id };
    const push = JSON.stringify({ changes: { transfusions: { created: [record], updated: [], deleted: [] } } });
    const head = (line: string, extra = '') => `${line} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${user.token}\r\n${extra}\r\n`;
    const socket = connect(Number(new URL(t.baseUrl).port), '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    const statuses = () => [...received.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
    try {
      // One write: the stream, then a full pull and a push on the same connection.
      socket.write(
        head('GET /api/v1/sync/events') +
          head('GET /api/v1/sync') +
          head('POST /api/v1/sync?last_pulled_at=0', `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(push)}\r\n`) +
          push,
      );
      await until(async () => received.includes('event: sync'), 'the stream\'s first event');
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);
      await until(async () => closed || statuses().length >= 3, 'the answers behind the stream');
      expect({ statuses: statuses(), closed }).toEqual({ statuses: [200, 400], closed: true });
      expect(received).toMatch(/^HTTP\/1\.1 400 [^]*?\r\nConnection: close\r\n/im);
      expect(received).toContain('"code":"MALFORMED_REQUEST"');
      const stored = await t.app.get(DataSource).query('SELECT 1 FROM transfusions WHERE id = $1', [record.id]);
      expect(stored).toEqual([]);
    } finally {
      socket.destroy();
    }
  });

  it('refuses a stream without a token', async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/sync/events`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ statusCode: 401 });
  });
});

/** Moves a virtual clock on `ms`, running every action due by then (and none due later). */
function advance(clock: VirtualTimeScheduler, ms: number): void {
  const to = clock.frame + ms;
  clock.maxFrames = to;
  clock.flush();
  clock.frame = to;
}

// README and the controller promise a `ping` every 25 s, so that proxies with an idle timeout keep
// the stream open; nothing tested it. The heartbeat runs on HEARTBEAT_SCHEDULER: here a virtual
// clock the tests move on, 25 s at a time, without waiting; its queue shows each heartbeat scheduled.
describe('sync events (SSE): the heartbeat', () => {
  const clock = new VirtualTimeScheduler();
  const t = useTestApp({}, { override: (app) => app.overrideProvider(HEARTBEAT_SCHEDULER).useValue(clock) });

  const pings = (stream: Awaited<ReturnType<typeof openEvents>>) => stream.events.filter((e) => e.type === 'ping');
  /** Resolves once `stream` has received everything the server sent it before now: a write's event comes after it. */
  async function caughtUp(stream: Awaited<ReturnType<typeof openEvents>>, writer: { token: string; family: { id: string } }) {
    const push = await pushTransfusion(t, writer);
    await stream.waitFor((e) => e.type === 'sync' && e.data.version === push.body.timestamp);
  }

  it('a connected stream gets a `ping` HEARTBEAT_MS (25 s) after it opened, and then every HEARTBEAT_MS', async () => {
    expect(HEARTBEAT_MS).toBe(25_000);
    const owner = await registerFamily(t);
    const stream = await openEvents(t, owner.token);
    try {
      await stream.waitFor((e) => e.type === 'sync');
      advance(clock, HEARTBEAT_MS - 1);
      await caughtUp(stream, owner);
      expect(pings(stream)).toEqual([]);

      advance(clock, 1);
      await stream.waitFor((e) => e.type === 'ping');
      // The ping repeats the last version's id: a client's last event id stays the family's version
      // (Nest numbered it `id: 1` otherwise).
      const lastVersion = stream.events.filter((e) => e.type === 'sync').at(-1)!.id;
      expect(lastVersion).toMatch(/^\d{13,}$/);
      expect(pings(stream)).toEqual([{ type: 'ping', id: lastVersion, data: {} }]);

      advance(clock, HEARTBEAT_MS - 1);
      await caughtUp(stream, owner);
      expect(pings(stream)).toHaveLength(1);
      advance(clock, 1 + 2 * HEARTBEAT_MS);
      await caughtUp(stream, owner);
      expect(pings(stream)).toHaveLength(4);
    } finally {
      await stream.close();
    }
  });

  it('each stream has a heartbeat of its own, and one that ends leaves none behind: ended by the server (a logout) or closed by the device', async () => {
    // Streams of earlier tests closed by their client: the server notices that a moment later.
    await until(() => clock.actions.length === 0, 'the heartbeats of earlier tests to stop');
    const user = await registerFamily(t);
    const tablet = (await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(200)).body;
    const phone = await openEvents(t, user.token);
    const tabletStream = await openEvents(t, tablet.access_token);
    try {
      await Promise.all([phone, tabletStream].map((s) => s.waitFor((e) => e.type === 'sync')));
      expect(clock.actions).toHaveLength(2);

      // The stream's end and its heartbeat's are one unsubscription: done before the response ends.
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: user.refreshToken }).expect(204);
      await expectEnded(phone, 'logout');
      expect(clock.actions).toHaveLength(1);
      advance(clock, HEARTBEAT_MS);
      await tabletStream.waitFor((e) => e.type === 'ping');
      expect(pings(phone)).toEqual([]);

      await tabletStream.close();
      await until(() => clock.actions.length === 0, 'the heartbeat of the stream its device closed to stop');
    } finally {
      await Promise.all([phone.close(), tabletStream.close()]);
    }
  });
});

describe('sync events (SSE) and access token expiry', () => {
  const t = useTestApp();

  /** The same token, re-signed to expire `seconds` from now: what a token near its end looks like. */
  const expiringIn = (token: string, seconds: number) => resignToken(token, (claims) => ({ ...claims, exp: Math.floor(Date.now() / 1000) + seconds }));

  it('a stream ends when the access token that opened it expires (found by review: it went on announcing the family\'s changes); reopened with a fresh token, it works', async () => {
    const owner = await registerFamily(t);
    const ending = await expiringIn(owner.token, 2);
    const stream = await openEvents(t, ending);
    expect(stream.response.status).toBe(200);
    await stream.waitFor((e) => e.type === 'sync');
    await expectEnded(stream, 'its token expired', 5_000);
    await t.http().get('/api/v1/auth/me').set(bearer(ending)).expect(401);
    // The sign-in lives on: a fresh token opens a stream again.
    const fresh = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: owner.refreshToken }).expect(200);
    const again = await openEvents(t, fresh.body.access_token);
    expect(again.response.status).toBe(200);
    await again.waitFor((e) => e.type === 'sync');
    await again.close();
  });
});

describe('sync events (SSE) over DATABASE_LISTEN_URL', () => {
  // A role of its own for the listener's URL: which role the LISTEN session runs as tells which URL it used.
  const role = `hemoday_listen_${process.pid}_${Date.now()}`;
  const listenUrl = new URL(process.env.TEST_DATABASE_URL!);
  listenUrl.username = role;
  listenUrl.password = 'listen-password';
  let admin: DataSource;
  beforeAll(async () => {
    admin = await new DataSource({ type: 'postgres', url: process.env.TEST_DATABASE_URL }).initialize();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'listen-password'`);
  });
  const t = useTestApp({ DATABASE_LISTEN_URL: listenUrl.toString() });
  // After the app has closed (and its listener with it).
  afterAll(async () => {
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.destroy();
  });

  it('the listening connection uses DATABASE_LISTEN_URL (LISTEN needs a session a transaction-mode pooler on DATABASE_URL would not keep), and events arrive through it', async () => {
    const owner = await registerFamily(t);
    const stream = await openEvents(t, owner.token);
    const first = await stream.waitFor((e) => e.type === 'sync');
    const sessions = await admin.query(`SELECT usename FROM pg_stat_activity WHERE application_name = $1`, [connectionName('sync-events')]);
    expect(sessions).toEqual([{ usename: role }]);
    await t.http().patch('/api/v1/families/me').set(bearer(owner.token)).send({ patient_name: 'Listened' }).expect(200);
    await stream.waitFor((e) => e.type === 'sync' && e.data.version! > first.data.version!);
    await stream.close();
  });
});
