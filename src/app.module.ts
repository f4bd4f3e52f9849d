import { Inject, MiddlewareConsumer, Module, NestModule, OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER } from '@nestjs/core';
import { CommonModule } from './common/common.module.js';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter.js';
import { JsonBodyMiddleware } from './common/http/body-parser.middleware.js';
import { allConfigs } from './config/configuration.js';
import { DatabaseModule } from './database/database.module.js';
import { AuthModule } from './modules/auth/auth.module.js';
import { DocumentsModule } from './modules/documents/documents.module.js';
import { FILE_STORAGE, type FileStorage } from './modules/documents/storage/file-storage.js';
import { LocalFileStorage } from './modules/documents/storage/local-file-storage.js';
import { FamiliesModule } from './modules/families/families.module.js';
import { HealthModule } from './modules/health/health.module.js';
import { SyncModule } from './modules/sync/sync.module.js';

@Module({
  imports: [
    // No `validate` here: the namespaces validate the environment (once: validatedEnv) when the app
    // is created, not when this file is imported, so every app gets the environment of its start.
    // ignoreEnvFile: `.env` is read by loadDotEnv (server.ts, cli.ts), by the rules the README gives.
    // Nest's own reader (the dotenv package) ran when this file was imported, before loadDotEnv, and
    // won: it cuts an unquoted value at any `#` (`…/reset-password#token={token}` lost its token, so
    // the app refused a PASSWORD_RESET_URL the CLI accepted), and it read the checkout's `.env` into
    // the test workers' apps.
    ConfigModule.forRoot({ isGlobal: true, cache: true, load: allConfigs, ignoreEnvFile: true }),
    DatabaseModule,
    CommonModule,
    HealthModule,
    AuthModule,
    FamiliesModule,
    SyncModule,
    DocumentsModule,
  ],
  providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
})
export class AppModule implements NestModule, OnModuleInit {
  constructor(@Inject(FILE_STORAGE) private readonly storage: FileStorage) {}

  /** Refuses to start (one line, as for a bad variable) on an UPLOAD_DIR the app cannot write. */
  async onModuleInit(): Promise<void> {
    if (this.storage instanceof LocalFileStorage) await this.storage.assertWritable();
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(JsonBodyMiddleware).forRoutes('*path');
  }
}
