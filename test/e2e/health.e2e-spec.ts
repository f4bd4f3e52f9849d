import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { DataSource, type QueryRunner } from 'typeorm';
import { connectionName } from '../../src/database/connection-name.js';
import { PING_TIMEOUT } from '../../src/modules/health/health.service.js';
import { createTestApp, useTestApp } from '../setup/test-app.js';
import { until } from '../setup/wait.js';

describe('health and docs', () => {
  const t = useTestApp();

  it('GET /health pings the database and carries a request id', async () => {
    const res = await t.http().get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', database: { status: 'up' } });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a well-formed incoming x-request-id', async () => {
    const res = await t.http().get('/health').set('x-request-id', 'proxy-abc-123').expect(200);
    expect(res.headers['x-request-id']).toBe('proxy-abc-123');
  });

  it('serves the OpenAPI document with bearer auth', async () => {
    const res = await t.http().get('/docs-json').expect(200);
    expect(res.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(res.body.paths['/api/v1/auth/register']).toBeDefined();
    await t.http().get('/docs').expect(200);
  });

  it('serves /docs with a CSP that works over plain HTTP (no upgrade-insecure-requests: Swagger UI at a LAN address stayed blank)', async () => {
    const res = await t.http().get('/docs/').expect(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
  });

  describe('on a connection of its own, outside the pool', () => {
    const healthBackends = async () =>
      (await t.db.query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [connectionName('health')])).map((r: { pid: number }) => r.pid) as number[];

    // Found in review: pinged through the pool, an instance whose every connection was busy for 5 s was
    // reported "Database unreachable", and an orchestrator restarts an instance whose check fails.
    it('answers 200 while every connection of the pool is taken', async () => {
      const busy = await createTestApp({ DB_POOL_SIZE: '2' });
      const held: QueryRunner[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const runner = busy.app.get(DataSource).createQueryRunner();
          await runner.connect();
          held.push(runner);
        }
        const res = await busy.http().get('/health');
        expect([res.status, res.body.database?.status]).toEqual([200, 'up']);
      } finally {
        await Promise.all(held.map((runner) => runner.release()));
        await busy.close();
      }
    });

    it('concurrent checks share one ping on one connection; a connection closed under it is replaced, not reported', async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => t.http().get('/health')));
      expect(answers.map((res) => res.status)).toEqual(Array(20).fill(200));
      const [first, ...others] = await healthBackends();
      expect(others).toEqual([]);

      await t.db.query('SELECT pg_terminate_backend($1)', [first]);
      await t.http().get('/health').expect(200);
      const [second, ...more] = await healthBackends();
      expect(more).toEqual([]);
      expect(second).not.toBe(first);
    });

    // Found by mutation testing: a check that never ran its statement again on a new connection (only
    // `pg_terminate_backend`, which the client hears of before the next check, was tested) passed every test.
    it('a kept connection lost without a word (it fails only once the next check sends on it) is replaced within that check: 200, not 503', async () => {
      // The app reaches PostgreSQL through this proxy; `cut` connections are dropped, unforwarded, when the app next sends on them.
      const real = new URL(process.env.TEST_DATABASE_URL!);
      const links: Array<{ app: Socket; db: Socket; cut: boolean }> = [];
      const proxy = createServer((app) => {
        const db = connect(Number(real.port || 5432), real.hostname);
        const link = { app, db, cut: false };
        links.push(link);
        app.on('data', (chunk: Buffer) => (link.cut ? (app.destroy(), db.destroy()) : db.write(chunk)));
        db.on('data', (chunk: Buffer) => app.write(chunk));
        for (const [a, b] of [[app, db], [db, app]]) {
          a.on('error', () => b.destroy());
          a.on('close', () => b.destroy());
        }
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      const viaProxy = new URL(real.href);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String((proxy.address() as AddressInfo).port);
      const app = await createTestApp({ DATABASE_URL: viaProxy.href });
      try {
        const before = links.length;
        await app.http().get('/health').expect(200);
        const health = links.slice(before);
        expect(health).toHaveLength(1);
        health[0].cut = true;
        const res = await app.http().get('/health');
        expect([res.status, res.body.database?.status]).toEqual([200, 'up']);
        expect(health[0].app.destroyed).toBe(true);
        expect(links.length).toBe(before + 2);
      } finally {
        await app.close();
        for (const link of links) link.app.destroy();
        proxy.close();
      }
    });

    it('a health connection that stops answering (no error, no close) answers 503, and is replaced by the next check', async () => {
      await t.http().get('/health').expect(200);
      const [frozen] = await healthBackends();
      const timeout = PING_TIMEOUT.ms;
      PING_TIMEOUT.ms = 500;
      process.kill(frozen, 'SIGSTOP');
      try {
        const res = await t.http().get('/health');
        expect([res.status, res.body.message]).toEqual([503, 'Database unreachable']);
        await t.http().get('/health').expect(200);
        expect((await healthBackends()).filter((pid) => pid !== frozen)).toHaveLength(1);
      } finally {
        PING_TIMEOUT.ms = timeout;
        process.kill(frozen, 'SIGCONT');
      }
      // Its socket was closed, not left open: once it runs again, the frozen backend finds that and ends.
      await until(async () => !(await healthBackends()).includes(frozen), 'the frozen health backend to end');
    });
  });
});
