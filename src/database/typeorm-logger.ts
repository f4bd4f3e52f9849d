import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerInterface } from 'typeorm';
import { requestContext } from '../common/logging/request-context.js';

/**
 * TypeORM's messages through Nest's logger (JSON lines in the app, with the
 * request id), instead of TypeORM's own console output. Migration progress is
 * logged at info, the schema builder's reasoning at debug; failed queries are not (the caller reports the error, and a query's
 * parameters may hold medical data or password hashes); slow-query warnings
 * carry the SQL only.
 */
export class TypeOrmLogger implements TypeOrmLoggerInterface {
  private readonly logger = new Logger('TypeORM');

  logQuery(): void {}

  logQueryError(): void {}

  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ durationMs: time, query }, 'slow query');
  }

  /** TypeORM reports migration progress here too ("Migration X has been executed successfully."). */
  logSchemaBuild(message: string): void {
    if (/migration/i.test(message)) this.logger.log(message);
    else this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  /**
   * The pool's 'error': a connection that failed while idle in the pool (a database restart or
   * fail-over ends them all). node-postgres opens a connection in the context of the request that
   * first needed it, and its socket's events run in that context for good: TypeORM's own handler
   * logged each such failure with the request id of a request long finished. Logged as the pool's.
   */
  poolError(error: unknown): void {
    requestContext.exit(() => this.logger.warn(`Postgres pool raised an error. ${String(error)}`));
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}
