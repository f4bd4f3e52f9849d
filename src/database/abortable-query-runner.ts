import pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';

/** The client that asked stopped waiting (hung up): there is nobody left to answer. */
export class RequestAbandonedError extends Error {
  constructor() {
    super('The client hung up; its statement was cancelled');
    this.name = 'RequestAbandonedError';
  }
}

/** What node-postgres keeps of a connected client that @types/pg does not declare. */
interface ConnectedPgClient {
  host: string;
  port: number;
  processID: number | null;
  secretKey: number | null;
}

/** The parts of TypeORM's PostgresQueryRunner used here (`releasePostgresConnection` is not in its public typings). */
interface PostgresRunner extends QueryRunner {
  databaseConnection: ConnectedPgClient;
  releasePostgresConnection(err?: Error): Promise<void>;
}

/**
 * Runs `work` on a connection of its own that is given up as soon as `signal` aborts (the client
 * hung up): whatever statement runs then is cancelled — PostgreSQL's CancelRequest, sent over a
 * connection of its own, so no pool slot is needed while the pool may be full — and `work` fails
 * with RequestAbandonedError. Without this, a full pull whose client left ran on to its end, holding
 * a connection, a backend's memory and (for a large family) a full-pull turn.
 *
 * A cancelled connection is closed, never returned to the pool: a CancelRequest arriving late
 * cancels whatever that backend runs at the time, which must not be the next borrower's statement.
 */
export async function withAbortableRunner<T>(dataSource: DataSource, signal: AbortSignal | undefined, work: (runner: QueryRunner) => Promise<T>): Promise<T> {
  if (signal?.aborted) throw new RequestAbandonedError();
  const runner = dataSource.createQueryRunner() as PostgresRunner;
  await runner.connect();
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    sendCancelRequest(runner.databaseConnection);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  // It may have hung up while we waited for a connection (a full pool: when clients give up most):
  // nothing runs yet, so nothing to cancel; the connection is closed all the same (see finally).
  if (signal?.aborted) cancelled = true;
  try {
    if (cancelled) throw new RequestAbandonedError();
    const result = await work(runner);
    if (cancelled) throw new RequestAbandonedError();
    return result;
  } catch (error) {
    throw cancelled ? new RequestAbandonedError() : error;
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (cancelled) await runner.releasePostgresConnection(new RequestAbandonedError());
    else await runner.release();
  }
}

/**
 * PostgreSQL's out-of-band cancel: a new socket carrying the backend's process id and secret key,
 * which the server closes after reading (it needs no authentication). A backend that is idle
 * ignores it. Errors are ignored: at worst the statement runs to its end, as it would have.
 */
function sendCancelRequest(client: ConnectedPgClient): void {
  const { processID, secretKey } = client;
  if (processID === null || secretKey === null) return;
  const connection = new pg.Connection() as pg.Connection & {
    connect(port: number | string, host?: string): void;
    cancel(processID: number, secretKey: number): void;
  };
  connection.on('error', () => undefined);
  connection.once('connect', () => connection.cancel(processID, secretKey));
  if (client.host.startsWith('/')) connection.connect(`${client.host}/.s.PGSQL.${client.port}`);
  else connection.connect(client.port, client.host);
}
