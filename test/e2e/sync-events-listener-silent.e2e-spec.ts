/**
 * DATABASE_LISTEN_URL names a server that takes the connection and never answers (a host gone behind
 * a load balancer, a firewall that drops the flow): a "sync now" stream is refused 503 within the
 * listener's connection timeout, not held open without a first event for as long as TCP keeps trying.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { LISTENER_CONNECT_TIMEOUT } from '../../src/modules/sync/sync-events.service.js';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun } from '../setup/test-runs.js';

const sockets = new Set<Socket>();
/** PostgreSQL's "authentication ok" then "ready for query": what a server that took the connection answers to its start-up packet. */
const READY = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]);
// Accepts, reads, never answers (PostgreSQL's reply to the start-up packet never comes), or, `afterStartUp`,
// answers the start-up and then nothing (the LISTEN's answer never comes).
const silentServer = (afterStartUp: boolean) =>
  createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (afterStartUp) socket.once('data', () => socket.write(READY));
    socket.resume();
  });

// What the process does with a silent server, not SQL: the DATABASE_URL run would repeat it (test/setup/test-runs.ts).
describeOnEmbeddedRun.each([
  ['never answers', false],
  ['answers the start-up, then never again', true],
])('the "sync now" listener on a database that %s', (_, afterStartUp) => {
  const silent = silentServer(afterStartUp);
  // Made in beforeAll: a skipped describe (the DATABASE_URL run) still runs its body, never its afterAll.
  let t: TestApp | undefined;
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    t = await createTestApp({ DATABASE_LISTEN_URL: `postgres://u:p@127.0.0.1:${port}/silent` });
  });
  afterAll(async () => {
    await t?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => silent.close(r));
  });

  // The second found in review: the timeout covered the connection only, and a LISTEN never answered held the stream.
  it('a stream is refused 503 DATABASE_UNAVAILABLE with Retry-After once the connection timeout passes', async () => {
    const owner = await registerFamily(t!);
    const timeout = LISTENER_CONNECT_TIMEOUT.ms;
    LISTENER_CONNECT_TIMEOUT.ms = 300;
    try {
      const sse = await fetch(`${t!.baseUrl}/api/v1/sync/events`, { headers: bearer(owner.token), signal: AbortSignal.timeout(20_000) });
      expect([sse.status, sse.headers.get('retry-after'), await sse.text()]).toEqual([503, '5', expect.stringContaining('DATABASE_UNAVAILABLE')]);
    } finally {
      LISTENER_CONNECT_TIMEOUT.ms = timeout;
    }
  });
});
