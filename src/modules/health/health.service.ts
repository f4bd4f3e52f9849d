import { Injectable, Logger, OnApplicationShutdown, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Socket } from 'node:net';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { connectionName } from '../../database/connection-name.js';
import { HealthResponse } from './dto/health.response.js';

/**
 * A database that does not answer within this is reported down (a dropped network never refuses).
 * Read at each check: a test of a frozen database shortens it.
 */
export const PING_TIMEOUT = { ms: 5_000 };

/** Whether the database would take a write: not a hot standby, not read-only by default. */
interface WritableState {
  standby: boolean;
  readOnly: boolean;
}

/**
 * GET /health pings PostgreSQL on a connection of its own, outside the app's pool. Through the pool,
 * a busy instance — every connection borrowed for longer than the ping may wait — was reported
 * "Database unreachable", and an orchestrator restarts an instance whose health check fails: load
 * would have been answered with restarts (found in review). Checks that arrive while a ping is in
 * flight share its answer, so a flood of them is one statement at a time on that one connection.
 */
@Injectable()
export class HealthService implements OnApplicationShutdown {
  private readonly logger = new Logger(HealthService.name);
  /** The health connection: connected, or connecting (undefined until the first check, and after a failure). */
  private connection?: { client: pg.Client; ready: Promise<void> };
  private ping?: Promise<WritableState>;
  private closed = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * One round trip to the database; 503 "Database unreachable" when it does not answer, 503
   * "Database read-only" when it answers but would refuse every write.
   */
  async check(): Promise<HealthResponse> {
    const started = process.hrtime.bigint();
    let state: WritableState;
    try {
      state = await (this.ping ??= this.pingWithin(PING_TIMEOUT.ms).finally(() => (this.ping = undefined)));
    } catch (error) {
      // Expected while the database is down or restarting: a warning with the cause, not an "unhandled error".
      const cause = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || error.name : String(error);
      this.logger.warn({ cause }, 'health check: database unreachable');
      throw new ServiceUnavailableException('Database unreachable');
    }
    // A hot standby (DATABASE_URL still names a primary a fail-over demoted) or a database set
    // default_transaction_read_only: it answers reads, and every write, a sign-in's, a push's, the
    // cursor record of a pull with X-Device-Id, answers 503 DATABASE_UNAVAILABLE. Reported "up"
    // before (found by review), the instance looked healthy to its orchestrator and its monitoring
    // while it could do almost nothing.
    if (state.standby || state.readOnly) {
      const cause = state.standby ? 'the server is a hot standby (in recovery): DATABASE_URL must name the primary' : 'default_transaction_read_only is on';
      this.logger.warn({ cause }, 'health check: database read-only');
      throw new ServiceUnavailableException('Database read-only');
    }
    return { status: 'ok', database: { status: 'up', latencyMs: Number(process.hrtime.bigint() - started) / 1e6 } };
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const client = this.connection?.client;
    this.connection = undefined;
    await client?.end().catch(() => undefined);
  }

  private async pingWithin(ms: number): Promise<WritableState> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = { passed: false };
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        deadline.passed = true;
        reject(new Error(`no answer within ${ms / 1000}s`));
      }, ms);
    });
    try {
      return await Promise.race([this.askWritableWithRetry(deadline), timedOut]);
    } catch (error) {
      this.drop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A kept connection may have been closed since the last check without a word (the server restarted,
   * an idle timeout, a fail-over): that is no outage, and only a new connection failing too is.
   */
  private async askWritableWithRetry(deadline: { passed: boolean }): Promise<WritableState> {
    const kept = this.connection !== undefined;
    try {
      return await this.askWritable();
    } catch (error) {
      // Past the deadline the check has answered 503 already, and its connection was dropped for it.
      if (deadline.passed) throw error;
      this.drop();
      if (!kept || this.closed) throw error;
      return await this.askWritable();
    }
  }

  /**
   * Still one statement: whether this server would take a write. `transaction_read_only` is this
   * session's: a database made read-only by `ALTER DATABASE … SET default_transaction_read_only` after
   * this connection opened is seen once it is replaced; a standby, or `ALTER SYSTEM` and a reload, at once.
   */
  private async askWritable(): Promise<WritableState> {
    const { client, ready } = (this.connection ??= this.connect());
    await ready;
    const { rows } = await client.query<{ standby: boolean; read_only: string }>(
      `SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only`,
    );
    return { standby: rows[0].standby, readOnly: rows[0].read_only === 'on' };
  }

  private connect(): { client: pg.Client; ready: Promise<void> } {
    const { url } = this.dataSource.options as { url?: string };
    // Named, as the pool's and the listener's are: an operator can tell it in pg_stat_activity.
    const client = new pg.Client({ connectionString: url, application_name: connectionName('health') });
    const forget = () => {
      if (this.connection?.client === client) this.connection = undefined;
    };
    // A connection lost between checks: the next check opens a new one (an unhandled 'error' would end the process).
    client.on('error', forget);
    client.on('end', forget);
    return { client, ready: client.connect().then(() => undefined) };
  }

  /** Not end(): it waits for the server to acknowledge, which a vanished or frozen server never does. */
  private drop(): void {
    const client = this.connection?.client;
    this.connection = undefined;
    (client as unknown as { connection?: { stream?: Socket } } | undefined)?.connection?.stream?.destroy();
  }
}
