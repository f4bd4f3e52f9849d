import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/postgres-errors.js';
import { databaseConfig } from '../config/configuration.js';
import { connectionName } from './connection-name.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { resolveDatabaseUrl } from './database-url.js';
import { reportLostConnections } from './lost-connection.js';
import { runPendingMigrations } from './migration-runner.js';

/** TypeORM on DATABASE_URL or the embedded PostgreSQL; pending migrations run at start-up. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: async (db: ConfigType<typeof databaseConfig>) => ({
        ...buildDataSourceOptions(await resolveDatabaseUrl(db), {
          poolSize: db.poolSize,
          // Named per process and host, as the sync-events listener is: an operator can tell instances apart.
          applicationName: connectionName('api'),
          statementTimeoutSeconds: db.statementTimeoutSeconds,
          preparedStatements: db.preparedStatements,
        }),
        // Start-up fails at once on a failing migration (it would fail again) and on the embedded server
        // (it is up by now); server.ts then logs one line and stops the embedded PostgreSQL. Only an external
        // server not taking work yet is waited for, 5 tries, ~8 s: not accepting connections (a container
        // starting beside us), or refusing the migrations' writes for now (a standby being promoted, a full disk).
        retryAttempts: db.url ? 5 : 0,
        retryDelay: 2000,
        // Each "Unable to connect to the database … Retrying (n)" line names its cause (refused, timed out, bad password).
        verboseRetryLog: true,
        toRetry: (error: unknown) => Boolean(db.url) && isDatabaseUnavailable(error),
      }),
      // Pending migrations run under the lock every migration run takes (migration-runner.ts), not
      // TypeORM's migrationsRun: two instances starting together must not both apply them. They run on
      // a connection of their own, without the app's statement limits: a schema change on a large
      // table, or the wait for another instance's, may take longer than any request should.
      dataSourceFactory: async (options) => {
        const { url } = options as { url: string };
        const migrator = await new DataSource(buildDataSourceOptions(url, { poolSize: 1, applicationName: connectionName('migrations') })).initialize();
        try {
          await runPendingMigrations(migrator);
        } finally {
          await migrator.destroy();
        }
        return reportLostConnections(await new DataSource(options!).initialize());
      },
    }),
  ],
})
export class DatabaseModule {}
