import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { HealthResponse } from './dto/health.response.js';

/** A database that does not answer within this is reported down (a dropped network never refuses). */
const PING_TIMEOUT_MS = 5_000;

@Injectable()
export class HealthService {
  private readonly logger = new Logger(HealthService.name);

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One round trip to the database; 503 "Database unreachable" when it does not answer. */
  async check(): Promise<HealthResponse> {
    const started = process.hrtime.bigint();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS / 1000}s`)), PING_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      // Expected while the database is down or restarting: a warning with the cause, not an "unhandled error".
      const cause = error instanceof Error ? error.message || (error as NodeJS.ErrnoException).code || error.name : String(error);
      this.logger.warn({ cause }, 'health check: database unreachable');
      throw new ServiceUnavailableException('Database unreachable');
    } finally {
      clearTimeout(timer);
    }
    return { status: 'ok', database: { status: 'up', latencyMs: Number(process.hrtime.bigint() - started) / 1e6 } };
  }
}
