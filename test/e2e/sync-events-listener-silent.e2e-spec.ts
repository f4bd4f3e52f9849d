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
// Accepts, reads, never answers: PostgreSQL's reply to the start-up packet never comes.
const silent = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.resume();
});

// What the process does with a silent server, not SQL: the DATABASE_URL run would repeat it (test/setup/test-runs.ts).
describeOnEmbeddedRun('the "sync now" listener on a database that never answers', () => {
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
