import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig } from '../config/configuration.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { CliDatabaseService } from './cli-database.service.js';

/**
 * The app's DataSource (same entities, migrations, options: DatabaseModule's
 * buildDataSourceOptions) created without connecting; CliDatabaseService.connect()
 * resolves the URL and initializes it on first use.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (db: ConfigType<typeof databaseConfig>) => ({
        // Replaced by the real URL (DATABASE_URL or the embedded server) in CliDatabaseService.connect().
        // DB_PREPARED_STATEMENTS as the app reads it: the commands that write to a family (seed,
        // user:delete, family:*) go through the same batches, behind the same pooler.
        ...buildDataSourceOptions('postgres://unresolved@127.0.0.1:1/unresolved', { poolSize: 4, preparedStatements: db.preparedStatements }),
        manualInitialization: true,
      }),
    }),
  ],
  providers: [CliDatabaseService],
  exports: [CliDatabaseService],
})
export class CliDatabaseModule {}
