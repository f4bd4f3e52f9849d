import { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import pg from 'pg';
import { IsoDatesClient } from './iso-dates-client.js';
import { StatementBatch } from './statement-batch.js';

/**
 * How long past the server's own statement_timeout a statement may stay unanswered before its
 * connection is given up: time for PostgreSQL's cancellation to arrive, so only a server that
 * answers nothing at all (vanished, frozen, cut off) ever reaches the deadline.
 * Read as each statement is sent: the database-timeouts e2e test shortens it for its frozen-database
 * test only (each frozen connection costs a request the limit plus this margin), instead of
 * waiting 6 s per connection; the file's other tests keep the real margin.
 */
export const DEADLINE_MARGIN = { ms: 5_000 };

const logger = new Logger('Database');

/**
 * A node-postgres client (the pool's `Client`) that closes its connection when a statement got no
 * answer within `statementTimeoutMs` + DEADLINE_MARGIN. A database host that vanished, froze or was
 * cut off closes nothing: its sockets stay open, no error ever comes, and every request that had borrowed a connection waited for
 * ever — holding its pool slot, so the instance's pool drained away and it hung whole (found by review).
 * Closed, the statement fails at once as a lost connection does ("Connection terminated": 503
 * DATABASE_UNAVAILABLE), the pool drops the client, and the next request connects anew.
 *
 * node-postgres's own `query_timeout` is not used: it fails the statement but keeps the connection,
 * and the pool then hands it to the next request, whose statements queue behind the one that never
 * ends. Only the promise form and statement batches are watched: what TypeORM and runBatch send.
 */
export function deadlineClient(statementTimeoutMs: number): typeof pg.Client {
  class DeadlineClient extends IsoDatesClient {}
  const query = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
  DeadlineClient.prototype.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const pending = query.apply(this, args) as Promise<unknown> | StatementBatch | undefined;
    const arm = () => {
      const deadlineMs = statementTimeoutMs + DEADLINE_MARGIN.ms;
      return setTimeout(() => {
        logger.warn(`a statement got no answer from the database in ${deadlineMs} ms; its connection is closed`);
        // Not end(): it waits for the server to acknowledge, which a vanished server never does.
        (this as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
      }, deadlineMs);
    };
    if (pending instanceof StatementBatch) {
      // Each statement of a batch has its own statement_timeout (it starts as the previous one ends):
      // the deadline starts again as each one completes.
      let timer = arm();
      pending.onProgress = () => {
        clearTimeout(timer);
        timer = arm();
      };
      void pending.done.then(() => clearTimeout(timer));
      return pending;
    }
    // A callback or another submittable (a stream) returns no promise; TypeORM's queries do.
    if (typeof pending?.finally !== 'function') return pending;
    const timer = arm();
    return pending.finally(() => clearTimeout(timer));
  } as pg.Client['query'];
  return DeadlineClient;
}
