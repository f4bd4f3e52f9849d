/** What the rate-limit tests share (apps made with TRUST_PROXY=1, so X-Forwarded-For picks the client). */
import { randomInt } from 'node:crypto';

/** A random private IPv4 address: a client network no other test counts in. */
export const newClientIp = (): string => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/** A 429 RATE_LIMITED with a Retry-After (1 to 60 s, the tests' window) and the same value in its details. */
export function expectRateLimited(res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }): void {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ statusCode: 429, details: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}
