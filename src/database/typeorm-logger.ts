import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerInterface } from 'typeorm';

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

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}
