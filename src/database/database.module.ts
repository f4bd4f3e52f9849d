import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig } from '../config/configuration.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { resolveDatabaseUrl } from './database-url.js';

/** TypeORM on DATABASE_URL or the embedded PostgreSQL; pending migrations run at start-up. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: async (db: ConfigType<typeof databaseConfig>) =>
        buildDataSourceOptions(await resolveDatabaseUrl(db), { migrationsRun: true, poolSize: db.poolSize }),
    }),
  ],
})
export class DatabaseModule {}
