import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { httpConfig } from './config/configuration.js';
import { ConfigValidationError, validateEnv } from './config/env.validation.js';
import { configureApp } from './configure-app.js';
import { stopEmbeddedDatabase } from './database/database-url.js';
import { loadDotEnv } from './config/dotenv.js';

async function bootstrap(): Promise<void> {
  loadDotEnv();
  validateEnv(process.env); // fail before anything starts, with one line per bad variable
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, bufferLogs: true });
  configureApp(app);
  const http = app.get<ConfigType<typeof httpConfig>>(httpConfig.KEY);
  await app.listen(http.port, http.host);
  const logger = new Logger('Bootstrap');
  logger.log(`HemoDay API listening on http://${http.host}:${http.port} (docs at /docs)`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: closing HTTP server, then the database`);
    const force = setTimeout(() => process.exit(1), 20_000).unref();
    try {
      await app.close();
    } finally {
      await stopEmbeddedDatabase();
      clearTimeout(force);
      process.exit(0);
    }
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

bootstrap().catch(async (error: unknown) => {
  const message =
    error instanceof ConfigValidationError || error instanceof Error ? error.message : `Start-up failed: ${String(error)}`;
  console.error(`HemoDay failed to start: ${message}`);
  await stopEmbeddedDatabase().catch(() => undefined);
  process.exit(1);
});
