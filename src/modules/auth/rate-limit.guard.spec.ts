import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger, type CallHandler, type ExecutionContext } from '@nestjs/common';
import { lastValueFrom, of, throwError } from 'rxjs';
import { DataSource } from 'typeorm';
import { AuthRateLimits1764800000000 } from '../../../migrations/1764800000000-AuthRateLimits.js';
import { scratchDatabases } from '../../../test/setup/scratch-databases.js';
import { sessionsWaitingBehind, until } from '../../../test/setup/wait.js';
import { buildDataSourceOptions } from '../../database/data-source-options.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AuthRateLimitGuard, clientNetworks } from './rate-limit.guard.js';
import { AuthRateLimitInterceptor } from './rate-limit.interceptor.js';
import { AuthRateLimitRepository } from './rate-limit.repository.js';

interface FakeRequest {
  method: string;
  path: string;
  route: { path: string };
  ip: string;
  body?: unknown;
  user?: { userId: string };
}

class FakeResponse {
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: string) {
    this.headers[name] = value;
  }
}

/** A route handler without `passwordCheck` (AuthRateLimited's default). */
const handler = () => undefined;

function context(request: FakeRequest, response: FakeResponse): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }), getHandler: () => handler } as unknown as ExecutionContext;
}

const login = (ip: string, email: unknown): FakeRequest => ({ method: 'POST', path: '/api/v1/auth/login', route: { path: '/api/v1/auth/login' }, ip, body: { email } });
const join = (userId: string, ip: string): FakeRequest => ({
  method: 'POST', path: '/api/v1/auth/join-family', route: { path: '/api/v1/auth/join-family' }, ip, body: { invite_code: 'AAAAAA' }, user: { userId },
});
const register = (ip: string, email: string, inviteCode?: string): FakeRequest => ({
  method: 'POST', path: '/api/v1/auth/register', route: { path: '/api/v1/auth/register' }, ip, body: { email, password: 'long enough pw', ...(inviteCode && { invite_code: inviteCode }) },
});

/**
 * Real PostgreSQL: the counters are SQL, so they are tested as SQL. In a database of their own (the
 * table as its migration makes it, emptied before each test): the run's database is shared with the
 * apps of the e2e tests, which count their own attempts from some of these addresses (127.0.0.1).
 */
describe('AuthRateLimitGuard, with AuthRateLimitInterceptor', () => {
  const scratch = scratchDatabases('hemoday_rate_limit');
  const config = { rateLimit: 3, rateWindowSeconds: 60 } as never;
  /** Two instances of the app: two connection pools on one database. */
  let databases: DataSource[];
  /** One instance of the app: the guard and its interceptor over one pool. */
  interface Instance {
    guard: AuthRateLimitGuard;
    interceptor: AuthRateLimitInterceptor;
  }
  let instance: Instance;
  beforeAll(async () => {
    await scratch.open();
    const url = await scratch.create();
    databases = [new DataSource(buildDataSourceOptions(url, { poolSize: 4 })), new DataSource(buildDataSourceOptions(url, { poolSize: 4 }))];
    for (const db of databases) await db.initialize();
    const runner = databases[0].createQueryRunner();
    await new AuthRateLimits1764800000000().up(runner);
    await runner.release();
  });
  afterAll(async () => {
    for (const db of databases ?? []) if (db.isInitialized) await db.destroy();
    await scratch.dropAll();
  });
  const newInstance = (db = databases[0]): Instance => {
    const limits = new AuthRateLimitRepository(db);
    return { guard: new AuthRateLimitGuard(config, limits), interceptor: new AuthRateLimitInterceptor(limits) };
  };
  beforeEach(async () => {
    await databases[0].query('TRUNCATE auth_rate_limits');
    instance = newInstance();
  });
  afterEach(() => jest.restoreAllMocks());

  const rows = async (): Promise<number> => (await databases[0].query('SELECT count(*)::int AS n FROM auth_rate_limits'))[0].n;
  /** Moves the end of every window: `now()` ends them, `now() + interval '15 seconds'` leaves 15 s. */
  const windowsEndAt = (sql: string) => databases[0].query(`UPDATE auth_rate_limits SET window_ends_at = ${sql}`);
  /** The instance's clock moved on (it schedules sweeps and warnings; windows are the database's). */
  const clockAhead = (ms: number) => {
    const now = Date.now() + ms;
    jest.spyOn(Date, 'now').mockReturnValue(now);
  };

  interface Attempt {
    allowed: boolean;
    retryAfter?: string;
    error?: DomainError;
    /** Ends an attempt left in flight as its handler would: a success (< 400) or a failure. */
    settle(status: number): Promise<void>;
  }

  /**
   * One attempt through the guard and then, when `status` is given, through its interceptor around a
   * handler that succeeds (< 400) or throws, as Nest runs them. Without `status` it stays in flight (it
   * counts, as a failure would).
   */
  async function attempt(request: FakeRequest, status?: number, via = instance): Promise<Attempt> {
    const response = new FakeResponse();
    const ctx = context(request, response);
    const settle = async (s: number) => {
      const handler: CallHandler = { handle: () => (s < 400 ? of({}) : throwError(() => new Error(`${s}`))) };
      await lastValueFrom(via.interceptor.intercept(ctx, handler)).catch(() => undefined);
    };
    try {
      await via.guard.canActivate(ctx);
    } catch (error) {
      return { allowed: false, retryAfter: response.headers['Retry-After'], error: error as DomainError, settle };
    }
    if (status !== undefined) await settle(status);
    return { allowed: true, settle };
  }

  it('allows the limit per account, then refuses with RATE_LIMITED and Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.0.${i}`, 'a@b.c'))).allowed).toBe(true);
    const refused = await attempt(login('10.0.0.9', 'a@b.c'));
    expect(refused.allowed).toBe(false);
    expect(refused.error).toBeInstanceOf(DomainError);
    expect(refused.error!.code).toBe(ErrorCode.RATE_LIMITED);
    expect(refused.error!.status).toBe(429);
    expect(refused.retryAfter).toBe('60');
    expect(refused.error!.details).toEqual({ retryAfterSeconds: 60 });
  });

  it('normalizes the email so case and spaces do not reset the budget', async () => {
    for (const email of ['a@b.c', 'A@B.C', ' a@b.c ']) expect((await attempt(login('10.0.0.1', email))).allowed).toBe(true);
    expect((await attempt(login('10.0.0.2', 'a@B.c'))).allowed).toBe(false);
  });

  it('normalizes non-ASCII emails the way accounts are stored (case, Unicode form)', async () => {
    for (const email of ['ÄBC@b.c', 'äbc@b.c', 'A\u0308BC@b.c']) expect((await attempt(login('10.0.0.1', email))).allowed).toBe(true);
    expect((await attempt(login('10.0.0.2', 'a\u0308bc@B.C'))).allowed).toBe(false);
  });

  it('limits one IP at 3× the account limit across accounts', async () => {
    for (let i = 0; i < 9; i++) expect((await attempt(login('10.0.0.1', `u${i}@b.c`))).allowed).toBe(true);
    expect((await attempt(login('10.0.0.1', 'u99@b.c'))).allowed).toBe(false);
    expect((await attempt(login('10.0.0.2', 'u99@b.c'))).allowed).toBe(true);
  });

  it('Retry-After is what is left of the window, rounded up, and the window resets after it', async () => {
    for (let i = 0; i < 3; i++) await attempt(login('10.0.0.1', 'a@b.c'));
    await windowsEndAt(`now() + interval '15 seconds'`);
    expect((await attempt(login('10.0.0.1', 'a@b.c'))).retryAfter).toBe('15');
    await windowsEndAt('now()');
    expect((await attempt(login('10.0.0.1', 'a@b.c'))).allowed).toBe(true);
  });

  it('keys a signed-in caller by user id (join-family), separately per route', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt(join('u1', `10.0.1.${i}`))).allowed).toBe(true);
    expect((await attempt(join('u1', '10.0.1.9'))).allowed).toBe(false);
    expect((await attempt(join('u2', '10.0.1.9'))).allowed).toBe(true);
    // Login counters are separate from join-family counters.
    expect((await attempt(login('10.0.1.9', 'x@y.z'))).allowed).toBe(true);
  });

  it('counts only the IP when the body has no usable email, once per attempt', async () => {
    for (let i = 0; i < 9; i++) expect((await attempt(login('10.0.0.1', i % 2 ? 42 : undefined))).allowed).toBe(true);
    expect((await attempt(login('10.0.0.1', undefined))).allowed).toBe(false);
  });

  it('forgets expired windows a minute after its last sweep (no unbounded growth)', async () => {
    for (let i = 0; i < 50; i++) await attempt(login(`10.0.2.${i}`, `u${i}@b.c`));
    expect(await rows()).toBe(100);
    await windowsEndAt('now()');
    await attempt(login('10.0.3.1', 'new@b.c'));
    expect(await rows()).toBe(102); // within the minute: not swept yet
    clockAhead(61_000);
    await attempt(login('10.0.3.2', 'newer@b.c'));
    expect(await rows()).toBe(4); // the last two attempts' IP and account windows
  });

  it('under a flood of new keys, sweeps every 1,000 attempts', async () => {
    for (let i = 0; i < 999; i += 111) {
      await Promise.all(Array.from({ length: 111 }, (_, j) => attempt(login(`10.1.${(i + j) >> 8}.${(i + j) & 255}`, `flood${i + j}@b.c`))));
    }
    expect(await rows()).toBe(1998);
    await windowsEndAt('now()');
    await attempt(login('10.0.3.1', 'new@b.c'));
    expect(await rows()).toBe(2);
  });

  describe('per account, only failures count', () => {
    it('successful sign-ins never use up the account budget', async () => {
      for (let i = 0; i < 8; i++) expect((await attempt(login(`10.0.4.${i}`, 'busy@b.c'), 200)).allowed).toBe(true);
      for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.4.${i}`, 'busy@b.c'), 401)).allowed).toBe(true);
      expect((await attempt(login('10.0.4.9', 'busy@b.c'))).allowed).toBe(false);
    });

    it('after the limit of failures the account is refused for the window, the right password too', async () => {
      for (let i = 0; i < 3; i++) await attempt(login(`10.0.5.${i}`, 'target@b.c'), 401);
      const refused = await attempt(login('10.0.5.9', 'target@b.c'), 200);
      expect(refused.error?.code).toBe(ErrorCode.RATE_LIMITED);
      await windowsEndAt('now()');
      expect((await attempt(login('10.0.5.9', 'target@b.c'), 200)).allowed).toBe(true);
    });

    it('attempts in flight count, so a burst cannot slip past the limit before the answers come back', async () => {
      for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.6.${i}`, 'burst@b.c'))).allowed).toBe(true);
      expect((await attempt(login('10.0.6.9', 'burst@b.c'))).allowed).toBe(false);
    });

    it('per network, every attempt counts, successes too', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(login('10.0.7.1', `ok${i}@b.c`), 200)).allowed).toBe(true);
      expect((await attempt(login('10.0.7.1', 'ok9@b.c'), 200)).allowed).toBe(false);
    });

    it('a refused network leaves no account counter behind (memory stays bounded)', async () => {
      for (let i = 0; i < 9; i++) await attempt(login('10.0.8.1', `spray${i}@b.c`), 401);
      const before = await rows();
      for (let i = 0; i < 100; i++) expect((await attempt(login('10.0.8.1', `more${i}@b.c`))).allowed).toBe(false);
      expect(await rows()).toBe(before);
    });
  });

  describe('one budget for every instance, kept in PostgreSQL', () => {
    it('attempts through two instances add up: the account and the network are refused at their limits', async () => {
      const other = newInstance(databases[1]);
      for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.13.${i}`, 'split@b.c'), 401, i % 2 ? other : instance)).allowed).toBe(true);
      expect((await attempt(login('10.0.13.9', 'split@b.c'), 200, other)).error?.code).toBe(ErrorCode.RATE_LIMITED);
      for (let i = 0; i < 9; i++) expect((await attempt(login('10.0.14.1', `split-${i}@b.c`), 401, i % 2 ? other : instance)).allowed).toBe(true);
      expect((await attempt(login('10.0.14.1', 'split-x@b.c'), 401, other)).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(login('10.0.14.1', 'split-y@b.c'), 401, instance)).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });

    it('a burst of concurrent attempts through both instances is admitted exactly the limit', async () => {
      const other = newInstance(databases[1]);
      const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(login(`10.0.15.${i}`, 'race@b.c'), undefined, i % 2 ? other : instance)));
      expect(burst.filter((a) => a.allowed)).toHaveLength(3);
      expect(burst.filter((a) => a.error?.code === ErrorCode.RATE_LIMITED)).toHaveLength(21);
    });

    // Found by mutation testing: the burst above seldom overlaps enough for an attempt to wait on a bucket
    // that another fills meanwhile, so the count checked under the row's lock (w.count < max) went untested.
    it('an attempt that waits for a bucket another attempt fills meanwhile is refused: the count is the row\'s, not the snapshot\'s', async () => {
      const bucket = [{ key: 'filled-while-waiting', max: 3 }];
      const limits = new AuthRateLimitRepository(databases[0]);
      for (let i = 0; i < 2; i++) expect((await limits.take(bucket, 60)).counted).toBe(true);
      const third = databases[0].createQueryRunner();
      await third.connect();
      await third.startTransaction();
      try {
        expect((await limits.take(bucket, 60, third.manager)).counted).toBe(true);
        const [{ pid }] = await third.query('SELECT pg_backend_pid() AS pid');
        // Its snapshot sees 2 of 3: it goes on to count, and waits for the third's row lock.
        const fourth = new AuthRateLimitRepository(databases[1]).take(bucket, 60);
        const observer = { query: async (sql: string, params: unknown[]) => ({ rows: await databases[1].query(sql, params) }) };
        await until(async () => (await sessionsWaitingBehind(observer as never, pid)) > 0, 'the fourth attempt to wait for the third');
        await third.commitTransaction();
        expect((await fourth).counted).toBe(false);
      } finally {
        if (third.isTransactionActive) await third.rollbackTransaction();
        await third.release();
      }
      expect(await databases[0].query("SELECT count FROM auth_rate_limits WHERE key = 'filled-while-waiting'")).toEqual([{ count: 3 }]);
    });

    it('a limit larger than a counter can hold (AUTH_RATE_LIMIT=100000000000000000000) admits every attempt', async () => {
      // Was a 500 on every attempt: 3× and 12× the limit, sent as they were, were no bigint.
      const limits = new AuthRateLimitRepository(databases[0]);
      const unlimited = { guard: new AuthRateLimitGuard({ rateLimit: 1e20, rateWindowSeconds: 60 } as never, limits), interceptor: new AuthRateLimitInterceptor(limits) };
      for (let i = 0; i < 3; i++) {
        expect((await attempt(login('10.0.30.1', 'unlimited@b.c'), 401, unlimited)).allowed).toBe(true);
        expect((await attempt(join('unlimited-user', '2001:db8:30::1'), 404, unlimited)).allowed).toBe(true);
      }
      const counts: Array<{ count: number }> = await databases[0].query("SELECT count FROM auth_rate_limits WHERE key LIKE '%10.0.30.1' OR key LIKE '%2001:db8:30:%'");
      expect(counts.map((c) => c.count)).toEqual(Array(counts.length).fill(3));
    });

    it("windows are the database's: an instance whose clock is an hour off counts in the same window, with the same Retry-After", async () => {
      for (let i = 0; i < 3; i++) await attempt(login(`10.0.16.${i}`, 'skew@b.c'), 401);
      clockAhead(3_600_000);
      const skewed = newInstance(databases[1]);
      const refused = await attempt(login('10.0.16.9', 'skew@b.c'), 401, skewed);
      expect(refused.error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(refused.retryAfter).toBe('60');
    });

    it('a refused attempt is not counted: a success given back afterwards makes room for one attempt', async () => {
      const inFlight = [];
      for (let i = 0; i < 3; i++) inFlight.push(await attempt(login(`10.0.17.${i}`, 'held@b.c')));
      for (let i = 0; i < 5; i++) expect((await attempt(login(`10.0.17.${10 + i}`, 'held@b.c'))).allowed).toBe(false);
      await inFlight[0].settle(200);
      expect((await attempt(login('10.0.17.20', 'held@b.c'))).allowed).toBe(true);
      expect((await attempt(login('10.0.17.21', 'held@b.c'))).allowed).toBe(false);
    });

    it('a success is given back only to the window it was counted in', async () => {
      const early = await attempt(login('10.0.18.1', 'late@b.c'));
      await windowsEndAt('now()');
      for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.18.${2 + i}`, 'late@b.c'), 401)).allowed).toBe(true);
      await early.settle(200);
      expect((await attempt(login('10.0.18.9', 'late@b.c'))).allowed).toBe(false);
    });

    it('any email is a key, however long (hashed: the body is not validated yet)', async () => {
      const long = `${'x'.repeat(1024 * 1024)}@b.c`;
      for (let i = 0; i < 3; i++) expect((await attempt(login(`10.0.19.${i}`, long), 401)).allowed).toBe(true);
      expect((await attempt(login('10.0.19.9', long.toUpperCase()))).allowed).toBe(false);
      const [{ longest }] = await databases[0].query('SELECT max(length(key))::int AS longest FROM auth_rate_limits');
      expect(longest).toBeLessThan(100);
    });
  });

  describe('invite-code guesses: one bucket per network, across join-family and register', () => {
    it('failed joins and failed registrations with a code add up: 3× the account limit in all', async () => {
      for (let i = 0; i < 5; i++) expect((await attempt(join(`guesser-${i}`, '10.0.9.1'), 404)).allowed).toBe(true);
      for (let i = 0; i < 4; i++) expect((await attempt(register('10.0.9.1', `g${i}@b.c`, 'BBBBBB'), 404)).allowed).toBe(true);
      expect((await attempt(register('10.0.9.1', 'g9@b.c', 'CCCCCC'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(join('guesser-9', '10.0.9.1'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // Not a guess: a registration without a code, a login.
      expect((await attempt(register('10.0.9.1', 'plain@b.c'), 201)).allowed).toBe(true);
      expect((await attempt(login('10.0.9.1', 'someone@b.c'), 401)).allowed).toBe(true);
      // Another network guesses on.
      expect((await attempt(join('guesser-9', '10.0.9.2'))).allowed).toBe(true);
    });

    it('a successful join gives its guess back: only failures use up the invite-code bucket', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(join(`joiner-${i}`, '10.0.10.1'), 200)).allowed).toBe(true);
      // join-family's own network budget is spent (every attempt counts there), the guesses are not.
      expect((await attempt(join('joiner-9', '10.0.10.1'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      for (let i = 0; i < 9; i++) expect((await attempt(register('10.0.10.1', `r${i}@b.c`, 'DDDDDD'), 404)).allowed).toBe(true);
      expect((await attempt(register('10.0.10.1', 'r9@b.c', 'DDDDDD'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });
  });

  describe('client addresses written by a proxy', () => {
    it('a new source port is not a new client (IPv4 address:port, as Azure Application Gateway writes it)', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(login(`203.0.113.7:${40_000 + i}`, `port-${i}@b.c`), 401)).allowed).toBe(true);
      expect((await attempt(login('203.0.113.7:50000', 'port-x@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(login('203.0.113.7', 'port-y@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(login('203.0.113.8:50000', 'port-z@b.c'))).allowed).toBe(true);
    });

    it('nor is a bracketed IPv6 address with a new port', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(login(`[2001:db8:5:6::1]:${40_000 + i}`, `port6-${i}@b.c`), 401)).allowed).toBe(true);
      expect((await attempt(login('2001:db8:5:6::2', 'port6-x@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });

    it('IPv4-mapped IPv6 is the IPv4 address: each its own budget, shared with the dotted form', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(login('::ffff:7f00:1', `mapped-${i}@b.c`), 401)).allowed).toBe(true);
      expect((await attempt(login('127.0.0.1', 'mapped-x@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(login('::ffff:127.0.0.1', 'mapped-y@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // Another mapped address is another client, not the same ::/64.
      expect((await attempt(login('::ffff:a00:1', 'mapped-z@b.c'))).allowed).toBe(true);
    });

    it('addresses that are not IPs share one budget, and the guard warns (once an hour)', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        for (let i = 0; i < 9; i++) expect((await attempt(login(`garbage-${i}`, `bad-${i}@b.c`), 401)).allowed).toBe(true);
        expect((await attempt(login('203.0.113.7:http', 'bad-x@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(warn.mock.calls[0][0]).toMatch(/^client address "garbage-0" is not an IP address/);
        clockAhead(3_600_000);
        await attempt(login('still garbage', 'bad-y@b.c'));
        expect(warn).toHaveBeenCalledTimes(2);
      } finally {
        warn.mockRestore();
      }
    });
  });

  describe('IPv6', () => {
    it('one /48 rotating through its /64s: 4× the /64 allowance in all, per route', async () => {
      for (let i = 0; i < 36; i++) expect((await attempt(login(`2001:db8:7:${i.toString(16)}::1`, `site-${i}@b.c`), 401)).allowed).toBe(true);
      expect((await attempt(login('2001:db8:7:ffff::1', 'site-x@b.c'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // The next /48 is another site.
      expect((await attempt(login('2001:db8:8:1::1', 'site-y@b.c'))).allowed).toBe(true);
    });

    it('one /48 rotating through its /64s guesses invite codes 36 times in all, across both routes', async () => {
      for (let i = 0; i < 36; i++) {
        const ip = `2001:db8:9:${i.toString(16)}::1`;
        expect((await attempt(i % 2 ? join(`v6-guesser-${i}`, ip) : register(ip, `v6g${i}@b.c`, 'EEEEEE'), 404)).allowed).toBe(true);
      }
      expect((await attempt(join('v6-guesser-x', '2001:db8:9:abcd::1'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect((await attempt(register('2001:db8:9:abce::1', 'v6g-x@b.c', 'EEEEEE'))).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });

    it.each([
      ['2001:db8:1:2:aaaa::1', ['2001:db8:1:2::/64', '2001:db8:1::/48']],
      ['2001:0DB8:0001:ffff::', ['2001:db8:1:ffff::/64', '2001:db8:1::/48']],
      ['::1', ['0:0:0:0::/64', '0:0:0::/48']],
      ['10.1.2.3', ['10.1.2.3']],
      ['::ffff:10.1.2.3', ['10.1.2.3']],
      ['::ffff:a01:203', ['10.1.2.3']],
      ['10.1.2.3:4567', ['10.1.2.3']],
      ['[2001:db8:1:2::1]:443', ['2001:db8:1:2::/64', '2001:db8:1::/48']],
      ['[fe80::1%eth0]:443', ['fe80:0:0:0::/64', 'fe80:0:0::/48']],
      ['proxy.internal', ['invalid']],
      ['10.1.2.3:http', ['invalid']],
      ['', ['unknown']],
    ])('clientNetworks(%s) = %j', (ip, keys) => {
      expect(clientNetworks(ip).map((n) => n.key)).toEqual(keys);
    });

    it('one /64 is one client: hopping between its addresses does not reset the budget', async () => {
      for (let i = 0; i < 9; i++) expect((await attempt(login(`2001:db8:1:2::${(i + 1).toString(16)}`, `v6-${i}@b.c`), 401)).allowed).toBe(true);
      expect((await attempt(login('2001:db8:1:2:ffff:ffff:ffff:ffff', 'v6-x@b.c'))).allowed).toBe(false);
      expect((await attempt(login('2001:db8:1:3::1', 'v6-y@b.c'))).allowed).toBe(true);
    });

    it.each([
      ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
      ['2001:0DB8:0001:0002:bbbb:cccc:dddd:eeee', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['64:ff9b::10.0.0.1', '64:ff9b:0:0::/64'],
      ['::ffff:10.1.2.3', '10.1.2.3'],
      ['::ffff:7f00:1', '127.0.0.1'],
      ['::ffff:a00:1', '10.0.0.1'],
      ['10.1.2.3', '10.1.2.3'],
      ['203.0.113.7:51234', '203.0.113.7'],
      ['[2001:db8::1]:443', '2001:db8:0:0::/64'],
      ['not an address', 'invalid'],
      [undefined, 'unknown'],
    ])('the client network of %s is %s', (ip, network) => {
      expect(clientNetworks(ip)[0].key).toBe(network);
    });
  });
});
