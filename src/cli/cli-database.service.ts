import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { databaseConfig } from '../config/configuration.js';
import { resolveDatabaseUrl } from '../database/database-url.js';
import { runPendingMigrations } from '../database/migration-runner.js';

/**
 * Connects the app's DataSource when a command needs it, not when the CLI
 * boots: `--help`, a bad option or an unknown command then never start the
 * embedded PostgreSQL nor wait for a database, and the migration commands
 * see pending migrations instead of having them applied at boot.
 */
@Injectable()
export class CliDatabaseService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly config: ConfigType<typeof databaseConfig>,
  ) {}

  /** Connects (DATABASE_URL or the embedded server) and, like the app's start-up, applies pending migrations. */
  async connect(options: { migrate?: boolean } = {}): Promise<DataSource> {
    if (!this.dataSource.isInitialized) {
      // Next to a running `npm start` on the same DATA_DIR, its embedded server is used (and left running).
      const url = await resolveDatabaseUrl(this.config, { attachToRunning: true });
      this.dataSource.setOptions({ url });
      await this.dataSource.initialize();
    }
    if (options.migrate ?? true) await runPendingMigrations(this.dataSource);
    return this.dataSource;
  }
}
