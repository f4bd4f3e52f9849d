import { useTestApp } from '../setup/test-app.js';

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
});
