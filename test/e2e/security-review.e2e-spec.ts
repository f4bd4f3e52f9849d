import { bearer, registerFamily } from '../factories/auth.factory.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

/** Attacker-side probes of auth, families and documents: every odd input answers 4xx, never 500. */
describe('security review (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t.close());

  it('a refresh token whose id part is 36 hex/dash characters but not a UUID answers 401 (refresh) and 204 (logout), not 500', async () => {
    const user = await registerFamily(t);
    const secret = user.refreshToken.split('.')[1];
    for (const id of ['-'.repeat(36), 'f'.repeat(36), `${'a'.repeat(8)}-${'b'.repeat(27)}`]) {
      const refresh = await t.http().post('/api/v1/auth/refresh').send({ refresh_token: `${id}.${secret}` });
      expect([refresh.status, refresh.body.details?.code]).toEqual([401, 'INVALID_REFRESH_TOKEN']);
      await t.http().post('/api/v1/auth/logout').send({ refresh_token: `${id}.${secret}` }).expect(204);
    }
    // The real token still works afterwards.
    await t.http().post('/api/v1/auth/refresh').send({ refresh_token: user.refreshToken }).expect(200);
    expect((await t.http().get('/api/v1/auth/me').set(bearer(user.token))).status).toBe(200);
  });
});
