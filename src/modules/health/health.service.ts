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
  private ping?: Promise<void>;
  private closed = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One round trip to the database; 503 "Database unreachable" when it does not answer. */
  async check(): Promise<HealthResponse> {
    const started = process.hrtime.bigint();
    try {
      await (this.ping ??= this.pingWithin(PING_TIMEOUT.ms).finally(() => (this.ping = undefined)));
    } catch (error) {
      // Expected while the database is down or restarting: a warning with the cause, not an "unhandled error".
      const cause = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || error.name : String(error);
      this.logger.warn({ cause }, 'health check: database unreachable');
      throw new ServiceUnavailableException('Database unreachable');
    }
    return { status: 'ok', database: { status: 'up', latencyMs: Number(process.hrtime.bigint() - started) / 1e6 } };
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const client = this.connection?.client;
    this.connection = undefined;
    await client?.end().catch(() => undefined);
  }

  private async pingWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = { passed: false };
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        deadline.passed = true;
        reject(new Error(`no answer within ${ms / 1000}s`));
      }, ms);
    });
    try {
      await Promise.race([this.selectOneWithRetry(deadline), timedOut]);
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
  private async selectOneWithRetry(deadline: { passed: boolean }): Promise<void> {
    const kept = this.connection !== undefined;
    try {
      await this.selectOne();
    } catch (error) {
      // Past the deadline the check has answered 503 already, and its connection was dropped for it.
      if (deadline.passed) throw error;
      this.drop();
      if (!kept || this.closed) throw error;
      await this.selectOne();
    }
  }

  private async selectOne(): Promise<void> {
    const { client, ready } = (this.connection ??= this.connect());
    await ready;
    await client.query('SELECT 1');
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
