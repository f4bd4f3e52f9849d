/**
 * GET /health while the database is down: 503 with a message that says so,
 * and a warning with the cause in the log, not an "unhandled error" with a stack.
 */
import { join } from 'node:path';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { capturingLogger } from '../setup/captured-logs.js';
import { freePort, removeDir, scratchDir, stopUnderTheApp } from '../setup/service-process.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun } from '../setup/test-runs.js';

// On an embedded server of its own (it stops it), never the suite's database: a DATABASE_URL run
// would repeat it exactly (test/setup/test-runs.ts).
describeOnEmbeddedRun('GET /health with the database down', () => {
  // Made in beforeAll: a skipped describe (the DATABASE_URL run) still runs its body, never its afterAll.
  let dir: string;
  let server: EmbeddedPostgres;
  let t: TestApp;
  const { logger, logged } = capturingLogger();

  beforeAll(async () => {
    dir = scratchDir('hemoday-health-');
    server = new EmbeddedPostgres({ dataDir: join(dir, 'postgres'), port: await freePort(), database: 'health_down' });
    t = await createTestApp({ DATABASE_URL: await server.start() });
    t.app.useLogger(logger);
  });
  afterAll(async () => {
    await t?.close();
    await server?.stop();
    if (dir) removeDir(dir);
  });

  it('answers 503 "Database unreachable" and logs the cause at warn; the API answers 503 DATABASE_UNAVAILABLE with Retry-After', async () => {
    await t.http().get('/health').expect(200);
    const { token } = await registerFamily(t);
    await stopUnderTheApp(server);
    const res = await t.http().get('/health').expect(503);
    expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'Database unreachable' });
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    const warning = logged.find((l) => l.level === 'warn' && l.rest.includes('HealthService'));
    expect(warning).toBeDefined();
    expect(warning!.message).toEqual({ cause: expect.any(String) });
    expect(warning!.rest[0]).toBe('health check: database unreachable');

    for (const path of ['/api/v1/families/me', '/api/v1/sync?last_pulled_at=0']) {
      const api = await t.http().get(path).set(bearer(token));
      expect([api.status, api.headers['retry-after'], api.body]).toEqual([
        503,
        '5',
        { statusCode: 503, error: 'Service Unavailable', message: 'The database is unavailable; try again shortly', details: { code: 'DATABASE_UNAVAILABLE', retryAfterSeconds: 5 } },
      ]);
    }
    const login = await t.http().post('/api/v1/auth/login').send({ email: 'someone@example.com', password: 'long enough' });
    expect([login.status, login.body.details]).toEqual([503, { code: 'DATABASE_UNAVAILABLE', retryAfterSeconds: 5 }]);
    expect(logged.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    expect(logged.filter((l) => l.level === 'warn' && l.rest[0] === 'database unavailable; answered 503')).toHaveLength(3);
  });
});
