import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
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
      useFactory: () => ({
        // Replaced by the real URL (DATABASE_URL or the embedded server) in CliDatabaseService.connect().
        ...buildDataSourceOptions('postgres://unresolved@127.0.0.1:1/unresolved', { poolSize: 4 }),
        manualInitialization: true,
      }),
    }),
  ],
  providers: [CliDatabaseService],
  exports: [CliDatabaseService],
})
export class CliDatabaseModule {}
