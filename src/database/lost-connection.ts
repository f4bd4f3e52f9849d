import { DataSource, QueryFailedError, QueryRunnerAlreadyReleasedError, type QueryRunner } from 'typeorm';
import { IsoDatesClient } from './iso-dates-client.js';

/**
 * A statement of a transaction whose connection the server ended while the transaction held it
 * between two statements (a fail-over or restart, pg_terminate_backend): TypeORM releases the
 * runner as the connection reports its loss, and the runner's next statement threw
 * QueryRunnerAlreadyReleasedError, a 500 logged as an unhandled error (found by review: a REST write
 * whose family lock was held when its session was terminated). It fails instead with the error the
 * connection was lost with, as a QueryFailedError, the way a statement it was running would have
 * failed (57P01, "Connection terminated…"): isDatabaseUnavailable answers it 503 DATABASE_UNAVAILABLE.
 * Only runners whose connection did report a loss (IsoDatesClient.lostWith): a runner used after its
 * own release() is a bug, and still says so.
 */
export function reportLostConnections(dataSource: DataSource): DataSource {
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const create = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode: string) => {
    const runner = create(mode) as QueryRunner & { databaseConnection?: unknown };
    const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
    runner.query = (async (text: string, parameters?: unknown[], ...rest: unknown[]) => {
      try {
        return await query(text, parameters, ...rest);
      } catch (error) {
        const client = runner.databaseConnection;
        const lost = error instanceof QueryRunnerAlreadyReleasedError && client instanceof IsoDatesClient ? client.lostWith : undefined;
        if (lost) throw new QueryFailedError(text, parameters, lost);
        throw error;
      }
    }) as QueryRunner['query'];
    return runner;
  };
  return dataSource;
}
