import { Injectable, Logger, type MessageEvent, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { defer, filter, from, interval, map, merge, Observable, Subject, takeUntil } from 'rxjs';
import { DataSource } from 'typeorm';
import { FAMILY_SYNC_CHANNEL, MEMBERSHIP_CHANNEL } from '../../common/versioning/family-version.service.js';
import { SyncRepository } from './sync.repository.js';

interface FamilyChange {
  familyId: string;
  version: number;
}

const RECONNECT_DELAY_MS = 2_000;
const HEARTBEAT_MS = 25_000;

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
  /** User ids whose open streams must end (membership changed, signed out). */
  private readonly membershipChanges = new Subject<string>();
  /** Ends every open stream (and its heartbeat timer) when the app shuts down. */
  private readonly shuttingDown = new Subject<void>();
  private listener?: Promise<pg.Client>;
  private closed = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: SyncRepository,
  ) {}

  /**
   * The family's current version first, then one event per committed write, plus heartbeats.
   * Ends when a MEMBERSHIP_CHANNEL notification names the user: their membership changed (removed,
   * joined another family) or they were signed out (logout, password reset). Membership and token
   * are checked when a stream opens, so the device reconnects and is checked again (a token from
   * before a password reset is refused).
   */
  stream(familyId: string, userId: string): Observable<MessageEvent> {
    const current = defer(() =>
      from(this.ensureListening().then(() => this.repository.familyVersion(this.dataSource.manager, familyId))),
    ).pipe(map((version) => syncEvent(version ?? 0)));
    const changes = this.changes.pipe(
      filter((change) => change.familyId === familyId),
      map((change) => syncEvent(change.version)),
    );
    // Proxies close idle connections; a small event keeps the stream open.
    const heartbeat = interval(HEARTBEAT_MS).pipe(map((): MessageEvent => ({ type: 'ping', data: {} })));
    const membershipChanged = this.membershipChanges.pipe(filter((changed) => changed === userId));
    return merge(current, changes, heartbeat).pipe(takeUntil(merge(membershipChanged, this.shuttingDown)));
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.shuttingDown.next();
    this.shuttingDown.complete();
    this.changes.complete();
    this.membershipChanges.complete();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.then((client) => client.end()).catch(() => undefined);
  }

  private ensureListening(): Promise<pg.Client> {
    if (!this.listener) {
      this.listener = this.connect().catch((error: unknown) => {
        this.listener = undefined;
        throw error;
      });
    }
    return this.listener;
  }

  private async connect(): Promise<pg.Client> {
    const options = this.dataSource.options as { url?: string };
    const client = new pg.Client({ connectionString: options.url });
    client.on('notification', (message) => {
      if (message.channel === MEMBERSHIP_CHANNEL) {
        if (message.payload) this.membershipChanges.next(message.payload);
        return;
      }
      const [familyId, version] = (message.payload ?? '').split(':');
      if (familyId && version) this.changes.next({ familyId, version: Number(version) });
    });
    client.on('error', (error) => {
      this.logger.warn(`sync event listener lost its connection: ${error.message}; reconnecting`);
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureListening().catch(() => undefined), RECONNECT_DELAY_MS).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${FAMILY_SYNC_CHANNEL}; LISTEN ${MEMBERSHIP_CHANNEL}`);
    return client;
  }
}

function syncEvent(version: number): MessageEvent {
  return { type: 'sync', id: String(version), data: { version } };
}
