import { randomInt } from 'node:crypto';
import { uniqueEmail } from '../factories/auth.factory.js';
import { scratchDatabases } from '../setup/scratch-databases.js';
import { createTestApp, useTestApp, type RunningApp, type TestApp } from '../setup/test-app.js';

/**
 * TRUST_PROXY decides which X-Forwarded-For entry is the client IP that the
 * per-IP login limit counts (3× AUTH_RATE_LIMIT = 9 attempts here). A client
 * can write anything into the header; a reverse proxy appends the address it
 * saw. Only that appended (right-most) entry may be believed.
 */
describe('TRUST_PROXY and the client IP (e2e)', () => {
  const octet = () => randomInt(1, 255);
  const spoofed = () => `203.0.113.${octet()}`;

  async function sprayLogins(t: RunningApp, forwardedFor: () => string): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await t.http().post('/api/v1/auth/login').set('X-Forwarded-For', forwardedFor()).send({ email: uniqueEmail('spray'), password: 'wrong password' });
      statuses.push(res.status);
    }
    return statuses;
  }

  describe.each(['1', 'loopback'])('TRUST_PROXY=%s (one proxy: the test client)', (trustProxy) => {
    const t = useTestApp({ AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60', TRUST_PROXY: trustProxy });

    it('a new left-most X-Forwarded-For on every attempt does not escape the per-IP limit', async () => {
      const client = `10.${octet()}.${octet()}.${octet()}`;
      // What the proxy forwards when the client sent its own forged X-Forwarded-For: "<forged>, <real client>".
      const statuses = await sprayLogins(t, () => `${spoofed()}, ${client}`);
      expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
      expect(statuses[9]).toBe(429);
      // The limit is on the address the proxy saw: another real client still gets in.
      const other = await t.http().post('/api/v1/auth/login').set('X-Forwarded-For', `${spoofed()}, 10.${octet()}.${octet()}.${octet()}`).send({ email: uniqueEmail(), password: 'wrong password' });
      expect(other.status).toBe(401);
    });
  });

  describe('TRUST_PROXY unset (false)', () => {
    // The client is the socket's 127.0.0.1, whose budget every app of the run spends in the run's
    // database: this app counts in a database of its own.
    const scratch = scratchDatabases('hemoday_trust_proxy');
    let t: TestApp;
    beforeAll(async () => {
      await scratch.open();
      t = await createTestApp({ DATABASE_URL: await scratch.create(), AUTH_RATE_LIMIT: '3', AUTH_RATE_WINDOW_SECONDS: '60' });
    });
    afterAll(async () => {
      await t?.close();
      await scratch.dropAll();
    });

    it('X-Forwarded-For is ignored: the socket address is the client', async () => {
      const statuses = await sprayLogins(t, () => `10.${octet()}.${octet()}.${octet()}`);
      expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
      expect(statuses[9]).toBe(429);
    });
  });
});
