import { Inject, Injectable, Logger, type MessageEvent, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Socket } from 'node:net';
import pg from 'pg';
import { catchError, defer, EMPTY, filter, finalize, from, interval, map, merge, mergeMap, Observable, of, ReplaySubject, type SchedulerLike, Subject, takeUntil, tap, timer } from 'rxjs';
import { DataSource } from 'typeorm';
import type { FamilyScope } from '../../common/family-scope/family-context.js';
import { requestContext } from '../../common/logging/request-context.js';
import { isDatabaseUnavailable, isTransientConflict } from '../../common/postgres-errors.js';
import { FAMILY_SYNC_CHANNEL, MEMBERSHIP_CHANNEL } from '../../common/versioning/family-version.service.js';
import { databaseConfig } from '../../config/configuration.js';
import { connectionName } from '../../database/connection-name.js';
import { SyncRepository } from './sync.repository.js';

interface FamilyChange {
  familyId: string;
  version: number;
}

/** Whose open streams must end: a user's, or only those of one of their sign-ins (a logout). */
interface StreamsToEnd {
  userId: string;
  signInId: string | null;
}

export const HEARTBEAT_MS = 25_000;
/**
 * Injection token of the RxJS scheduler that times the heartbeat: `asyncScheduler` (Node's timers),
 * provided by SyncModule. Tests put a VirtualTimeScheduler in its place, to move the heartbeat on
 * 25 s at a time without waiting, and to see that an ended stream leaves no heartbeat scheduled.
 */
export const HEARTBEAT_SCHEDULER = Symbol('HEARTBEAT_SCHEDULER');
/** The longest delay Node's timers take (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * How often the listening connection is asked a trivial query, and how long it has to answer.
 * Read when the listener connects: the database-recovery e2e test shortens them before its app
 * starts, instead of waiting the 25 s a real loss takes to notice.
 */
export const LISTENER_CHECK = { everyMs: 15_000, answerWithinMs: 10_000 };
/**
 * How long the listener's connection may take to be made, as the pool's connections (10 s): a
 * server that takes the connection and never answers held every stream waiting for the listener
 * (SyncListeningGuard) for as long as TCP kept trying. Read at each connection: a test shortens it.
 */
export const LISTENER_CONNECT_TIMEOUT = { ms: 10_000 };
/**
 * Open streams one user may hold on an instance; a new one past it ends their oldest. A phone has
 * one (one that moved to another network may leave its old one half-open for a while); without a
 * cap one signed-in account could open streams until the instance runs out of memory or sockets,
 * and every family's notification is checked against every open stream (found by review).
 */
export const MAX_STREAMS_PER_USER = 20;

/**
 * "Sync now" events for connected devices. Every versioned write does
 * `pg_notify(channel, '<familyId>:<version>')` inside its transaction, so the
 * notification is delivered only if it commits, and to every app instance
 * listening on the database: no extra message broker for scaling out.
 * One LISTEN connection per instance, opened on the first subscriber.
 */
@Injectable()
export class SyncEventsService implements OnApplicationShutdown {
  private readonly logger = new Logger(SyncEventsService.name);
  private readonly changes = new Subject<FamilyChange>();
  /** Users (or sign-ins) whose open streams must end: membership changed, signed out. */
  private readonly membershipChanges = new Subject<StreamsToEnd>();
  /**
   * Ends every open stream (and its heartbeat timer) when the app shuts down; replayed, so a
   * stream opened on a kept-alive connection after that ends at once too.
   */
  private readonly shuttingDown = new ReplaySubject<void>(1);
  private streamsEnded = false;
  /** The LISTEN connection closed: the streams it fed may have missed events. */
  private readonly listenerLost = new Subject<void>();
  private listener?: Promise<pg.Client>;
  private closed = false;
  /** Each user's open streams on this instance, oldest first: a stream ends when its subject fires. */
  private readonly openStreams = new Map<string, Array<Subject<void>>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: SyncRepository,
    @Inject(HEARTBEAT_SCHEDULER) private readonly heartbeatScheduler: SchedulerLike,
    @Inject(databaseConfig.KEY) private readonly database: ConfigType<typeof databaseConfig>,
  ) {}

  /**
   * The family's current version first, then one event per committed write, plus heartbeats; never
   * a version at or below one already sent.
   * Ends when a MEMBERSHIP_CHANNEL notification names the user: their membership changed (removed,
   * joined another family) or they were signed out (password reset: every stream; logout: the
   * streams of that sign-in, `signInId`, and those opened with a token that names none). The guards
   * checked membership and token before the stream subscribed to those notifications, so one sent
   * in between would be missed: once subscribed and listening, the statement that reads the
   * version checks again that the user is still in the scope's family since the same join and
   * that the sign-in is live, and the stream ends at once if not. Either way the device
   * reconnects and is checked again (a token of an ended sign-in is refused). It also ends when
   * the access token that opened it expires (`expiresAtMs`), and when the user opens more than
   * MAX_STREAMS_PER_USER on this instance (their oldest ends).
   */
  stream(scope: Pick<FamilyScope, 'familyId' | 'userId' | 'joinedVersion'>, signInId: string | null, expiresAtMs: number | null = null): Observable<MessageEvent> {
    const { familyId, userId, joinedVersion } = scope;
    return defer(() => {
      /** Fires when the check finds the guards' view outdated. */
      const outdated = new Subject<void>();
      // Subscribed after the end signals (takeUntil subscribes to them first), and queried once the
      // LISTEN is in place: a change committed before this statement's snapshot is seen by it, one
      // committed after is notified to a listener this stream already hears.
      const current = defer(() =>
        from(
          this.ensureListening().then(() => this.repository.streamState(this.dataSource.manager, userId, familyId, joinedVersion, signInId)),
        ),
      ).pipe(
        mergeMap((state) => {
          if (!state.live) {
            outdated.next();
            return EMPTY;
          }
          return of(state.version ?? 0);
        }),
        // SyncListeningGuard ran this read before the headers; one that fails now (the database went down
        // or a lock came since, ms later) came after them: Nest answered `event: error` and logged an
        // unhandled error with its stack. Ended instead, with a warning: the device reconnects, and the
        // guard answers 503 while it lasts.
        catchError((error: unknown) => {
          if (!isDatabaseUnavailable(error) && !isTransientConflict(error)) throw error;
          this.logger.warn({ cause: (error as Error).message || (error as { code?: unknown }).code }, 'sync event stream could not read the family\'s version; ended');
          outdated.next();
          return EMPTY;
        }),
      );
      const changes = this.changes.pipe(
        filter((change) => change.familyId === familyId),
        map((change) => change.version),
      );
      // Proxies close idle connections; a small event keeps the stream open. It repeats the id of the
      // last `sync` event sent (empty before the first: the id a new EventSource starts with), so that
      // the client's last event id stays the family's version: without an id of its own, Nest would
      // number the ping (`id: 1`, `2`, …).
      let lastId = '';
      const heartbeat = interval(HEARTBEAT_MS, this.heartbeatScheduler).pipe(map((): MessageEvent => ({ type: 'ping', id: lastId, data: {} })));
      const membershipChanged = this.membershipChanges.pipe(
        filter((end) => end.userId === userId && (end.signInId === null || signInId === null || end.signInId === signInId)),
      );
      // A stream lasts as long as the access token that opened it (found by review: it went on
      // telling an expired token's holder when the family changed); the app reopens it with a fresh one.
      // Node fires a timer of more than 2^31 - 1 ms (24.8 days) at once: such a token's stream ends then instead.
      const tokenExpired = expiresAtMs === null ? EMPTY : timer(Math.min(Math.max(0, expiresAtMs - Date.now()), MAX_TIMER_MS));
      const superseded = this.holdStreamSlot(userId);
      // Only versions above the last one sent. The current version's answer can come after the
      // notification of a write committed since its snapshot (found by review): sent then, it took the
      // stream back to an older version, and an app keeping the latest event while it syncs skipped the
      // write. Notifications come in commit order, so an older or equal version brings nothing new.
      let lastVersion = -1;
      const versions = merge(current, changes).pipe(
        filter((version) => version > lastVersion),
        tap((version) => {
          lastVersion = version;
          lastId = String(version);
        }),
        map(syncEvent),
      );
      return merge(versions, heartbeat).pipe(
        takeUntil(merge(membershipChanged, outdated, this.listenerLost, this.shuttingDown, tokenExpired, superseded)),
        finalize(() => this.releaseStreamSlot(userId, superseded)),
      );
    });
  }

  /**
   * Resolves once this instance listens (connecting if it does not) and the stream's first statement
   * (the family's version, the membership: SyncRepository.streamState) answers; rejects with the
   * connection's, the LISTEN's or the statement's error (SyncListeningGuard). The stream reads it again
   * once it is subscribed: this one only finds, before any header is sent, a database that cannot
   * answer it (a statement past DB_STATEMENT_TIMEOUT_SECONDS, no pooled connection free).
   */
  async ready(scope: Pick<FamilyScope, 'familyId' | 'userId' | 'joinedVersion'>, signInId: string | null): Promise<void> {
    await this.ensureListening();
    await this.repository.streamState(this.dataSource.manager, scope.userId, scope.familyId, scope.joinedVersion, signInId);
  }

  /** A slot among the user's open streams, fired when newer ones push it past MAX_STREAMS_PER_USER. */
  private holdStreamSlot(userId: string): Subject<void> {
    const slot = new Subject<void>();
    const open = this.openStreams.get(userId) ?? [];
    open.push(slot);
    this.openStreams.set(userId, open);
    if (open.length > MAX_STREAMS_PER_USER) open.shift()!.next();
    return slot;
  }

  private releaseStreamSlot(userId: string, slot: Subject<void>): void {
    const open = this.openStreams.get(userId);
    if (!open) return;
    const at = open.indexOf(slot);
    if (at >= 0) open.splice(at, 1);
    if (open.length === 0) this.openStreams.delete(userId);
  }

  /**
   * Ends every open stream. Called by the shutdown before it closes the HTTP server (an open
   * stream would keep it from closing), and again by Nest's shutdown hook.
   */
  endStreams(): void {
    if (this.streamsEnded) return;
    this.streamsEnded = true;
    this.shuttingDown.next();
    this.shuttingDown.complete();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.endStreams();
    this.changes.complete();
    this.membershipChanges.complete();
    this.listenerLost.complete();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.then((client) => client.end()).catch(() => undefined);
  }

  private ensureListening(): Promise<pg.Client> {
    if (!this.listener) {
      // Outside the request's logging context: the connection is the instance's, not this stream's. Made
      // inside it, its socket's events and its check timer ran in that context for good, so a lost
      // listener was logged with the request id of whichever stream opened it, maybe hours before.
      this.listener = requestContext.exit(() => this.connect()).catch((error: unknown) => {
        this.listener = undefined;
        throw error;
      });
    }
    return this.listener;
  }

  private async connect(): Promise<pg.Client> {
    // DATABASE_LISTEN_URL when set: LISTEN needs a session of its own, which a pooler in transaction
    // mode (DATABASE_URL's, say) does not keep; events would stop without an error.
    const url = this.database.listenUrl ?? (this.dataSource.options as { url?: string }).url;
    // Named, so an operator can tell it in pg_stat_activity (it is idle by design).
    const client = new pg.Client({ connectionString: url, application_name: connectionName('sync-events'), connectionTimeoutMillis: LISTENER_CONNECT_TIMEOUT.ms });
    client.on('notification', (message) => {
      if (message.channel === MEMBERSHIP_CHANNEL) {
        const [userId, signInId] = (message.payload ?? '').split(':');
        if (userId) this.membershipChanges.next({ userId, signInId: signInId || null });
        return;
      }
      const [familyId, version] = (message.payload ?? '').split(':');
      if (familyId && version) this.changes.next({ familyId, version: Number(version) });
    });
    // Notifications sent while the connection is down are lost, a removal's among them: end every
    // open stream, so devices reconnect (EventSource does by itself), are checked again and get
    // the current version. The next stream opens a new listening connection.
    client.on('error', (error) => this.logger.warn(`sync event listener lost its connection: ${error.message}`));
    let check: NodeJS.Timeout | undefined;
    let listening = false;
    client.on('end', () => {
      clearInterval(check);
      // A connection that never listened fed no stream (and this.listener may be another's by now).
      if (this.closed || !listening) return;
      this.listener = undefined;
      this.listenerLost.next();
    });
    await client.connect().catch((error: Error) => {
      // node-postgres's words for its connection timeout name no database: said as the pool says it,
      // which isDatabaseUnavailable knows (503).
      throw error.message === 'timeout expired' ? new Error(`timeout exceeded when trying to connect (${LISTENER_CONNECT_TIMEOUT.ms} ms)`) : error;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      // Within the same time as the connection: a server that took the connection and then never answers
      // (a pooler whose backend hangs) held every stream waiting for the listener as long as TCP kept trying.
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout exceeded when trying to connect (LISTEN not answered within ${LISTENER_CONNECT_TIMEOUT.ms} ms)`)), LISTENER_CONNECT_TIMEOUT.ms);
      });
      await Promise.race([client.query(`LISTEN ${FAMILY_SYNC_CHANNEL}; LISTEN ${MEMBERSHIP_CHANNEL}`), silent]);
    } catch (error) {
      // Connected, but refused LISTEN (a hot standby: "cannot execute LISTEN during recovery"): the
      // client was left open, one more connection for each stream asked for, until the server had
      // none left (found by review). Destroyed, not end()ed: end() waits for a server that may not answer.
      destroyConnection(client);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    listening = true;
    check = setInterval(() => void this.closeIfSilent(client), LISTENER_CHECK.everyMs).unref();
    return client;
  }

  /**
   * The listening connection is idle by design, so one whose server vanished without closing it (a
   * fail-over, a host that died, a NAT or load balancer dropping an idle flow) never reports an error:
   * its streams would wait for ever for events that no longer come (found in review). A trivial query
   * not answered in time closes it, which ends its streams as any other loss does.
   */
  private async closeIfSilent(client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      client.query('SELECT 1').then(
        () => true,
        () => true, // failed: the connection's own 'end' reports the loss
      ),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), LISTENER_CHECK.answerWithinMs))),
    ]).finally(() => clearTimeout(timer));
    if (answered || this.closed) return;
    this.logger.warn(`sync event listener did not answer within ${LISTENER_CHECK.answerWithinMs} ms; closing it`);
    destroyConnection(client);
  }
}

/** Closes a client's socket at once. Not end(): it waits for the server to acknowledge, which a vanished server never does. */
function destroyConnection(client: pg.Client): void {
  (client as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
}

function syncEvent(version: number): MessageEvent {
  return { type: 'sync', id: String(version), data: { version } };
}
