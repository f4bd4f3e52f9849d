import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/postgres-errors.js';
import { databaseConfig } from '../config/configuration.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { resolveDatabaseUrl } from './database-url.js';
import { runPendingMigrations } from './migration-runner.js';

/** TypeORM on DATABASE_URL or the embedded PostgreSQL; pending migrations run at start-up. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: async (db: ConfigType<typeof databaseConfig>) => ({
        ...buildDataSourceOptions(await resolveDatabaseUrl(db), { poolSize: db.poolSize }),
        // Start-up fails at once on a failing migration (it would fail again) and on the embedded server
        // (it is up by now); server.ts then logs one line and stops the embedded PostgreSQL. Only an external
        // server that is not accepting connections yet (a container starting beside us) is waited for, ~10 s.
        retryAttempts: db.url ? 5 : 0,
        retryDelay: 2000,
        toRetry: (error: unknown) => Boolean(db.url) && isDatabaseUnavailable(error),
      }),
      // Pending migrations run under the lock every migration run takes (migration-runner.ts), not
      // TypeORM's migrationsRun: two instances starting together must not both apply them.
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        try {
          await runPendingMigrations(dataSource);
        } catch (error) {
          await dataSource.destroy();
          throw error;
        }
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
