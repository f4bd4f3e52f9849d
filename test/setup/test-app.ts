import 'reflect-metadata';
import { afterAll, beforeAll } from '@jest/globals';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/configure-app.js';
import { PasswordService, type PasswordHashCost } from '../../src/modules/auth/password.service.js';
import { scratchDatabases } from './scratch-databases.js';

/** What tests and factories use of a running app. */
export interface RunningApp {
  app: NestExpressApplication;
  /** http://127.0.0.1:<port> of the running app. */
  baseUrl: string;
  http: () => ReturnType<typeof request>;
}

/** An app started by createTestApp: its caller closes it. */
export interface TestApp extends RunningApp {
  close(): Promise<void>;
}

/** The app of a describe block (useTestApp): started in its beforeAll, closed in its afterAll. */
export interface SharedTestApp extends RunningApp {
  /** The app's own DataSource (its pool), for reading and arranging rows behind the API. */
  readonly db: DataSource;
}

/** How a test app differs from the real one beyond its environment. */
export interface TestAppOptions {
  /** Replaces providers before the module compiles: a seam such as the heartbeat's scheduler (HEARTBEAT_SCHEDULER). */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

/**
 * argon2id at its cheapest (1 MiB, 1 pass, 1 lane, ~1 ms) for the apps tests create in-process: the
 * suite registers and logs in thousands of users, and at the lowest cost PASSWORD_HASH_* accepts
 * (OWASP's minimum, 19 MiB × 2 passes: ~45 ms of CPU each) hashing was about a quarter of the CPU of
 * the files that register many users. Not a setting the app accepts (its floors stay): the test app is given a PasswordService
 * made with this cost, the real class over the real argon2. The processes the tests spawn (the built
 * app, the CLI) hash at the OWASP minimum the global set-up sets, PasswordService's spec checks the
 * default cost, and a test app started with PASSWORD_HASH_* overrides hashes at what they say.
 */
export const IN_PROCESS_PASSWORD_HASH_COST: PasswordHashCost = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

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
export async function createTestApp(overrides: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  if (!process.env.TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (global set-up)');
  // Scratch folders of this app, removed when it closes (a test passing its own keeps it).
  const scratch = [
    ...(overrides.UPLOAD_DIR ? [] : [['UPLOAD_DIR', mkdtempSync(join(tmpdir(), 'hemoday-uploads-'))]]),
    ...(overrides.DATA_DIR ? [] : [['DATA_DIR', mkdtempSync(join(tmpdir(), 'hemoday-data-'))]]),
  ];
  const env = { ...testEnv(), ...Object.fromEntries(scratch), ...overrides };
  return withEnv(env, async () => {
    const module = Test.createTestingModule({ imports: [AppModule] });
    const builder = Object.keys(overrides).some((name) => name.startsWith('PASSWORD_HASH_'))
      ? module
      : module.overrideProvider(PasswordService).useValue(new PasswordService({ passwordHash: IN_PROCESS_PASSWORD_HASH_COST }));
    const moduleRef = await (options.override?.(builder) ?? builder).compile();
    const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, bufferLogs: true });
    configureApp(app);
    // A start that fails (a start-up check) leaves no pool open behind it.
    await app.listen(0, '127.0.0.1').catch(async (error: unknown) => {
      await app.close().catch(() => undefined);
      for (const [, dir] of scratch) rmSync(dir, { recursive: true, force: true });
      throw error;
    });
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
 * Registers, where it is called (a describe body or the file's top level), a beforeAll that starts
 * the app with `overrides` and an afterAll that closes it, and answers a handle to that app. Jest
 * runs both kinds of hook in the order they are declared: a beforeAll declared after this call
 * sees the app started, an afterAll declared after it runs once the app is closed. The handle's
 * members work from that beforeAll to that afterAll and throw outside it (read in a describe body
 * itself, say). An app a test starts and closes itself, or one that needs something else started
 * first (a proxy, a database server), uses createTestApp.
 */
export function useTestApp(overrides: Record<string, string> = {}, options: TestAppOptions = {}): SharedTestApp {
  let current: TestApp | undefined;
  beforeAll(async () => {
    current = await createTestApp(overrides, options);
  });
  afterAll(async () => {
    const app = current;
    current = undefined;
    await app?.close();
  });
  const started = (): TestApp => {
    if (!current) throw new Error('useTestApp: the app is only running between its beforeAll and afterAll (use it inside a test or a later hook)');
    return current;
  };
  return {
    get app() {
      return started().app;
    },
    get baseUrl() {
      return started().baseUrl;
    },
    http: () => started().http(),
    get db() {
      return started().app.get(DataSource);
    },
  };
}

/**
 * For tests of the app on a database set up as the suite's must not be (`ALTER DATABASE … SET …`):
 * registers, where it is called, the hooks that open the admin connection and, at the end, close the
 * apps started with `app()` before dropping the databases made with `database()`.
 */
export function useScratchDatabaseApps(prefix: string): { database: () => Promise<string>; app: (env: Record<string, string>) => Promise<TestApp> } {
  const scratch = scratchDatabases(prefix);
  const apps: TestApp[] = [];
  beforeAll(() => scratch.open());
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    await scratch.dropAll();
  });
  return {
    database: () => scratch.create(),
    app: async (env) => {
      const app = await createTestApp(env);
      apps.push(app);
      return app;
    },
  };
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
