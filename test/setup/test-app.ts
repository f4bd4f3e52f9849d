import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/configure-app.js';

export interface TestApp {
  app: NestExpressApplication;
  /** http://127.0.0.1:<port> of the running app. */
  baseUrl: string;
  http: () => ReturnType<typeof request>;
  close(): Promise<void>;
}

/** Environment every test app starts with; tests override single values. */
export function testEnv(): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: process.env.TEST_DATABASE_URL!,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  };
}

/**
 * The real application (same module, same set-up as server.ts) listening on a
 * free port, against the run's real PostgreSQL.
 */
export async function createTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (global set-up)');
  // Scratch folders of this app, removed when it closes (a test passing its own keeps it).
  const scratch = [
    ...(overrides.UPLOAD_DIR ? [] : [['UPLOAD_DIR', mkdtempSync(join(tmpdir(), 'hemoday-uploads-'))]]),
    ...(overrides.DATA_DIR ? [] : [['DATA_DIR', mkdtempSync(join(tmpdir(), 'hemoday-data-'))]]),
  ];
  const env = { ...testEnv(), ...Object.fromEntries(scratch), ...overrides };
  return withEnv(env, async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, bufferLogs: true });
    configureApp(app);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };
    const baseUrl = `http://127.0.0.1:${port}`;
    const close = async () => {
      await app.close();
      for (const [, dir] of scratch) rmSync(dir, { recursive: true, force: true });
    };
    return { app, baseUrl, http: () => request(baseUrl), close };
  });
}

/**
 * Runs `work` with `env` in process.env, restored afterwards: the app reads its
 * configuration while its module is compiled, so the values only need to hold until then.
 */
export async function withEnv<T>(env: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await work();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
