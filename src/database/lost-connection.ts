import {
  DataSource,
  QueryFailedError,
  QueryRunnerAlreadyReleasedError,
  QueryRunnerProviderAlreadyReleasedError,
  type QueryRunner,
} from 'typeorm';
import { IsoDatesClient } from './iso-dates-client.js';

/**
 * A statement of a transaction whose connection the server ended while the transaction held it
 * between two statements (a fail-over or restart, pg_terminate_backend): TypeORM releases the
 * runner as the connection reports its loss, and the runner's next statement threw
 * QueryRunnerAlreadyReleasedError (or, through its manager's `query`,
 * QueryRunnerProviderAlreadyReleasedError), a 500 logged as an unhandled error (found by review: a
 * REST write, and a push checking its documents' files, with the family locked). It fails instead
 * with the error the connection was lost with, as a QueryFailedError, the way a statement it was
 * running would have failed (57P01, "Connection terminated…"): isDatabaseUnavailable answers it 503
 * DATABASE_UNAVAILABLE. Only runners whose connection did report a loss (IsoDatesClient.lostWith):
 * a runner used after its own release() is a bug, and still says so.
 */
export function reportLostConnections(dataSource: DataSource): DataSource {
  const driver = dataSource.driver as unknown as { createQueryRunner(mode: string): QueryRunner };
  const create = driver.createQueryRunner.bind(driver);
  driver.createQueryRunner = (mode: string) => {
    const runner = create(mode);
    const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
    runner.query = (async (text: string, parameters?: unknown[], ...rest: unknown[]) =>
      query(text, parameters, ...rest).catch((error: unknown) => {
        throw lostConnectionError(error, runner, text, parameters);
      })) as QueryRunner['query'];
    return runner;
  };
  // EntityManager.query goes through here, which checks the runner's release itself.
  const query = dataSource.query.bind(dataSource) as (...args: unknown[]) => Promise<unknown>;
  dataSource.query = (async (text: string, parameters?: unknown[], runner?: QueryRunner) =>
    query(text, parameters, runner).catch((error: unknown) => {
      throw lostConnectionError(error, runner, text, parameters);
    })) as DataSource['query'];
  return dataSource;
}

function lostConnectionError(error: unknown, runner: QueryRunner | undefined, text: string, parameters: unknown[] | undefined): unknown {
  if (!(error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError)) return error;
  const client = (runner as { databaseConnection?: unknown } | undefined)?.databaseConnection;
  const lost = client instanceof IsoDatesClient ? client.lostWith : undefined;
  return lost ? new QueryFailedError(text, parameters, lost) : error;
}
