import { jest } from '@jest/globals';
import { ErrorCode, type DomainError } from '../../common/errors/domain-error.js';
import { RequestAbandonedError } from '../../database/abortable-query-runner.js';
import { FullPullLimiter } from './full-pull-limiter.js';

const limiter = (fullPullsMax: number, fullPullWaitSeconds = 60) => new FullPullLimiter({ fullPullsMax, fullPullWaitSeconds, fullPullTurnBytes: 0, familyMaxRecords: 1_000_000, newInstallationLimit: 20, newInstallationWindowSeconds: 3600 });

/** Whether `promise` has settled after the pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('FullPullLimiter', () => {
  it('runs up to the maximum at once; the next waits for a turn to end', async () => {
    const turns = limiter(2);
    const a = await turns.acquire('a');
    await turns.acquire('b');
    const c = turns.acquire('c');
    expect(await settled(c)).toBe(false);
    a();
    expect(await settled(c)).toBe(true);
  });

  it('one turn per user: a second full pull of the same user waits even with turns free, and others pass it', async () => {
    const turns = limiter(3);
    const first = await turns.acquire('a');
    const again = turns.acquire('a');
    const other = turns.acquire('b');
    expect(await settled(again)).toBe(false);
    expect(await settled(other)).toBe(true);
    first();
    expect(await settled(again)).toBe(true);
  });

  it('serves waiters first come, first served, skipping a user who already has a turn', async () => {
    const turns = limiter(1);
    const endA = await turns.acquire('a');
    const order: string[] = [];
    const waiters = ['b', 'c'].map((user) => turns.acquire(user).then((end) => (order.push(user), end)));
    endA();
    const endB = await waiters[0];
    endB();
    (await waiters[1])();
    expect(order).toEqual(['b', 'c']);
    // Ending a turn twice frees one place, not two.
    const endD = await turns.acquire('d');
    endD();
    endD();
    const e = await turns.acquire('e');
    const f = turns.acquire('f');
    expect(await settled(f)).toBe(false);
    e();
    await f;
  });

  // Found by mutation testing: granting a waiter without checking that its user already runs a turn
  // passed every test above (only a first acquire was checked for it).
  it('a freed turn is not given to a waiting user who already has one (their second waits for their first)', async () => {
    const turns = limiter(2);
    const endA = await turns.acquire('a');
    const endB = await turns.acquire('b');
    const again = turns.acquire('a');
    endB();
    expect(await settled(again)).toBe(false);
    endA();
    expect(await settled(again)).toBe(true);
  });

  it('serves users in rotation: one asking again and again does not keep a newcomer waiting', async () => {
    const turns = limiter(1);
    const endA = await turns.acquire('a');
    const order: string[] = [];
    const track = (user: string) => turns.acquire(user).then((end) => (order.push(user), end));
    const [a2, a3, b] = [track('a'), track('a'), track('b')];
    endA();
    (await b)();
    (await a2)();
    (await a3)();
    expect(order).toEqual(['b', 'a', 'a']);
  });

  it('a pull that waited too long is answered SERVER_BUSY (503) with a retry time, and leaves the queue', async () => {
    const turns = limiter(1, 0.05);
    const end = await turns.acquire('a');
    const error = (await turns.acquire('b').catch((e: unknown) => e)) as DomainError;
    expect([error.code, error.status, error.details]).toEqual([ErrorCode.SERVER_BUSY, 503, { retryAfterSeconds: 5 }]);
    end();
    // The one that gave up holds nothing: the next takes the free turn at once.
    expect(await settled(turns.acquire('c'))).toBe(true);
  });

  it('a pull whose client hangs up while waiting leaves the queue at once; the turn goes to the next', async () => {
    const turns = limiter(1);
    const end = await turns.acquire('a');
    const hangUp = new AbortController();
    const gone = turns.acquire('b', hangUp.signal).catch((e: unknown) => e);
    const next = turns.acquire('c');
    hangUp.abort();
    expect(await gone).toBeInstanceOf(RequestAbandonedError);
    end();
    // 'c' gets the turn 'b' would have had, and nothing is left holding one: 'd' passes once 'c' ends.
    (await next)();
    // Hanging up after the turn was given changes nothing here (the pull itself is cancelled
    // elsewhere): the turn is still held until it is ended, then free.
    const late = new AbortController();
    const endD = await turns.acquire('d', late.signal);
    late.abort();
    const e = turns.acquire('e');
    expect(await settled(e)).toBe(false);
    endD();
    expect(await settled(e)).toBe(true);
  });

  // Found by mutation testing: a granted waiter whose wait timer was left running later "timed out"
  // anyway, and its leave() took another waiter (the last in the queue) out of the queue: that pull
  // was never served. Only setTimeout is faked: the clock moves by the test, not by waiting.
  it('a waiter that got its turn is not timed out later: the wait timer of a granted pull is stopped', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const turns = limiter(1, 60);
      const endA = await turns.acquire('a');
      const b = turns.acquire('b');
      jest.advanceTimersByTime(30_000);
      endA();
      const endB = await b;
      const c = turns.acquire('c');
      // b's wait would have ended here (60 s after it queued); c has waited 30 s of its 60.
      jest.advanceTimersByTime(30_000);
      expect(await settled(c)).toBe(false);
      endB();
      expect(await settled(c)).toBe(true);
      (await c)();
    } finally {
      jest.useRealTimers();
    }
  });

  it('a client already gone never queues', async () => {
    const turns = limiter(1);
    const hangUp = new AbortController();
    hangUp.abort();
    await expect(turns.acquire('a', hangUp.signal)).rejects.toBeInstanceOf(RequestAbandonedError);
    expect(await settled(turns.acquire('b'))).toBe(true);
  });
});
