import { jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { Logger, type ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AuthRateLimitGuard, clientNetwork, clientNetworks } from './rate-limit.guard.js';

interface FakeRequest {
  method: string;
  path: string;
  route: { path: string };
  ip: string;
  body?: unknown;
  user?: { userId: string };
}

/** A response that can be finished with a status, as Express's would be after the handler. */
class FakeResponse extends EventEmitter {
  statusCode = 200;
  constructor(readonly headers: Record<string, string>) {
    super();
  }
  setHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  finish(status: number) {
    this.statusCode = status;
    this.emit('finish');
  }
}

function context(request: FakeRequest, response: FakeResponse): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }) } as unknown as ExecutionContext;
}

const login = (ip: string, email: unknown): FakeRequest => ({ method: 'POST', path: '/api/v1/auth/login', route: { path: '/api/v1/auth/login' }, ip, body: { email } });
const join = (userId: string, ip: string): FakeRequest => ({
  method: 'POST', path: '/api/v1/auth/join-family', route: { path: '/api/v1/auth/join-family' }, ip, body: { invite_code: 'AAAAAA' }, user: { userId },
});
const register = (ip: string, email: string, inviteCode?: string): FakeRequest => ({
  method: 'POST', path: '/api/v1/auth/register', route: { path: '/api/v1/auth/register' }, ip, body: { email, password: 'long enough pw', ...(inviteCode && { invite_code: inviteCode }) },
});

describe('AuthRateLimitGuard', () => {
  let guard: AuthRateLimitGuard;
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    guard = new AuthRateLimitGuard({ rateLimit: 3, rateWindowSeconds: 60 } as never);
  });
  afterEach(() => jest.useRealTimers());

  /** One attempt; unless `status` is given the request is still in flight (it counts, as a failure would). */
  function attempt(request: FakeRequest, status?: number): { allowed: boolean; retryAfter?: string; error?: DomainError } {
    const response = new FakeResponse({});
    try {
      const allowed = guard.canActivate(context(request, response));
      if (status !== undefined) response.finish(status);
      return { allowed };
    } catch (error) {
      return { allowed: false, retryAfter: response.headers['Retry-After'], error: error as DomainError };
    }
  }

  it('allows the limit per account, then refuses with RATE_LIMITED and Retry-After', () => {
    for (let i = 0; i < 3; i++) expect(attempt(login(`10.0.0.${i}`, 'a@b.c')).allowed).toBe(true);
    const refused = attempt(login('10.0.0.9', 'a@b.c'));
    expect(refused.allowed).toBe(false);
    expect(refused.error).toBeInstanceOf(DomainError);
    expect(refused.error!.code).toBe(ErrorCode.RATE_LIMITED);
    expect(refused.error!.status).toBe(429);
    expect(refused.retryAfter).toBe('60');
    expect(refused.error!.details).toEqual({ retryAfterSeconds: 60 });
  });

  it('normalizes the email so case and spaces do not reset the budget', () => {
    for (const email of ['a@b.c', 'A@B.C', ' a@b.c ']) expect(attempt(login('10.0.0.1', email)).allowed).toBe(true);
    expect(attempt(login('10.0.0.2', 'a@B.c')).allowed).toBe(false);
  });

  it('normalizes non-ASCII emails the way accounts are stored (case, Unicode form)', () => {
    for (const email of ['ÄBC@b.c', 'äbc@b.c', 'A\u0308BC@b.c']) expect(attempt(login('10.0.0.1', email)).allowed).toBe(true);
    expect(attempt(login('10.0.0.2', 'a\u0308bc@B.C')).allowed).toBe(false);
  });

  it('limits one IP at 3× the account limit across accounts', () => {
    for (let i = 0; i < 9; i++) expect(attempt(login('10.0.0.1', `u${i}@b.c`)).allowed).toBe(true);
    expect(attempt(login('10.0.0.1', 'u99@b.c')).allowed).toBe(false);
    expect(attempt(login('10.0.0.2', 'u99@b.c')).allowed).toBe(true);
  });

  it('Retry-After counts down within the window, and the window resets after it', () => {
    for (let i = 0; i < 3; i++) attempt(login('10.0.0.1', 'a@b.c'));
    jest.advanceTimersByTime(45_500);
    expect(attempt(login('10.0.0.1', 'a@b.c')).retryAfter).toBe('15');
    jest.advanceTimersByTime(14_500);
    expect(attempt(login('10.0.0.1', 'a@b.c')).allowed).toBe(true);
  });

  it('keys a signed-in caller by user id (join-family), separately per route', () => {
    for (let i = 0; i < 3; i++) expect(attempt(join('u1', `10.0.1.${i}`)).allowed).toBe(true);
    expect(attempt(join('u1', '10.0.1.9')).allowed).toBe(false);
    expect(attempt(join('u2', '10.0.1.9')).allowed).toBe(true);
    // Login counters are separate from join-family counters.
    expect(attempt(login('10.0.1.9', 'x@y.z')).allowed).toBe(true);
  });

  it('counts only the IP when the body has no usable email, once per attempt', () => {
    for (let i = 0; i < 9; i++) expect(attempt(login('10.0.0.1', i % 2 ? 42 : undefined)).allowed).toBe(true);
    expect(attempt(login('10.0.0.1', undefined)).allowed).toBe(false);
  });

  it('forgets expired windows (no unbounded growth)', () => {
    for (let i = 0; i < 50; i++) attempt(login(`10.0.2.${i}`, `u${i}@b.c`));
    const windows = (guard as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBe(100);
    jest.advanceTimersByTime(61_000);
    attempt(login('10.0.3.1', 'new@b.c'));
    expect(windows.size).toBe(2); // the new attempt's IP and account windows
  });

  describe('per account, only failures count', () => {
    it('successful sign-ins never use up the account budget', () => {
      for (let i = 0; i < 8; i++) expect(attempt(login(`10.0.4.${i}`, 'busy@b.c'), 200).allowed).toBe(true);
      for (let i = 0; i < 3; i++) expect(attempt(login(`10.0.4.${i}`, 'busy@b.c'), 401).allowed).toBe(true);
      expect(attempt(login('10.0.4.9', 'busy@b.c')).allowed).toBe(false);
    });

    it('after the limit of failures the account is refused for the window, the right password too', () => {
      for (let i = 0; i < 3; i++) attempt(login(`10.0.5.${i}`, 'target@b.c'), 401);
      const refused = attempt(login('10.0.5.9', 'target@b.c'), 200);
      expect(refused.error?.code).toBe(ErrorCode.RATE_LIMITED);
      jest.advanceTimersByTime(60_000);
      expect(attempt(login('10.0.5.9', 'target@b.c'), 200).allowed).toBe(true);
    });

    it('attempts in flight count, so a burst cannot slip past the limit before the answers come back', () => {
      for (let i = 0; i < 3; i++) expect(attempt(login(`10.0.6.${i}`, 'burst@b.c')).allowed).toBe(true);
      expect(attempt(login('10.0.6.9', 'burst@b.c')).allowed).toBe(false);
    });

    it('per network, every attempt counts, successes too', () => {
      for (let i = 0; i < 9; i++) expect(attempt(login('10.0.7.1', `ok${i}@b.c`), 200).allowed).toBe(true);
      expect(attempt(login('10.0.7.1', 'ok9@b.c'), 200).allowed).toBe(false);
    });

    it('a refused network leaves no account counter behind (memory stays bounded)', () => {
      for (let i = 0; i < 9; i++) attempt(login('10.0.8.1', `spray${i}@b.c`), 401);
      const windows = (guard as unknown as { windows: Map<string, unknown> }).windows;
      const size = windows.size;
      for (let i = 0; i < 100; i++) expect(attempt(login('10.0.8.1', `more${i}@b.c`)).allowed).toBe(false);
      expect(windows.size).toBe(size);
    });
  });

  describe('invite-code guesses: one bucket per network, across join-family and register', () => {
    it('failed joins and failed registrations with a code add up: 3× the account limit in all', () => {
      for (let i = 0; i < 5; i++) expect(attempt(join(`guesser-${i}`, '10.0.9.1'), 404).allowed).toBe(true);
      for (let i = 0; i < 4; i++) expect(attempt(register('10.0.9.1', `g${i}@b.c`, 'BBBBBB'), 404).allowed).toBe(true);
      expect(attempt(register('10.0.9.1', 'g9@b.c', 'CCCCCC')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(attempt(join('guesser-9', '10.0.9.1')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // Not a guess: a registration without a code, a login.
      expect(attempt(register('10.0.9.1', 'plain@b.c'), 201).allowed).toBe(true);
      expect(attempt(login('10.0.9.1', 'someone@b.c'), 401).allowed).toBe(true);
      // Another network guesses on.
      expect(attempt(join('guesser-9', '10.0.9.2')).allowed).toBe(true);
    });

    it('a successful join gives its guess back: only failures use up the invite-code bucket', () => {
      for (let i = 0; i < 9; i++) expect(attempt(join(`joiner-${i}`, '10.0.10.1'), 200).allowed).toBe(true);
      // join-family's own network budget is spent (every attempt counts there), the guesses are not.
      expect(attempt(join('joiner-9', '10.0.10.1')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      for (let i = 0; i < 9; i++) expect(attempt(register('10.0.10.1', `r${i}@b.c`, 'DDDDDD'), 404).allowed).toBe(true);
      expect(attempt(register('10.0.10.1', 'r9@b.c', 'DDDDDD')).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });
  });

  describe('client addresses written by a proxy', () => {
    it('a new source port is not a new client (IPv4 address:port, as Azure Application Gateway writes it)', () => {
      for (let i = 0; i < 9; i++) expect(attempt(login(`203.0.113.7:${40_000 + i}`, `port-${i}@b.c`), 401).allowed).toBe(true);
      expect(attempt(login('203.0.113.7:50000', 'port-x@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(attempt(login('203.0.113.7', 'port-y@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(attempt(login('203.0.113.8:50000', 'port-z@b.c')).allowed).toBe(true);
    });

    it('nor is a bracketed IPv6 address with a new port', () => {
      for (let i = 0; i < 9; i++) expect(attempt(login(`[2001:db8:5:6::1]:${40_000 + i}`, `port6-${i}@b.c`), 401).allowed).toBe(true);
      expect(attempt(login('2001:db8:5:6::2', 'port6-x@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
    });

    it('IPv4-mapped IPv6 is the IPv4 address: each its own budget, shared with the dotted form', () => {
      for (let i = 0; i < 9; i++) expect(attempt(login('::ffff:7f00:1', `mapped-${i}@b.c`), 401).allowed).toBe(true);
      expect(attempt(login('127.0.0.1', 'mapped-x@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(attempt(login('::ffff:127.0.0.1', 'mapped-y@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // Another mapped address is another client, not the same ::/64.
      expect(attempt(login('::ffff:a00:1', 'mapped-z@b.c')).allowed).toBe(true);
    });

    it('addresses that are not IPs share one budget, and the guard warns (once an hour)', () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        for (let i = 0; i < 9; i++) expect(attempt(login(`garbage-${i}`, `bad-${i}@b.c`), 401).allowed).toBe(true);
        expect(attempt(login('203.0.113.7:http', 'bad-x@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
        expect(warn).toHaveBeenCalledTimes(1);
        expect(warn.mock.calls[0][0]).toMatch(/^client address "garbage-0" is not an IP address/);
        jest.advanceTimersByTime(3_600_000);
        attempt(login('still garbage', 'bad-y@b.c'));
        expect(warn).toHaveBeenCalledTimes(2);
      } finally {
        warn.mockRestore();
      }
    });
  });

  describe('IPv6', () => {
    it('one /48 rotating through its /64s: 4× the /64 allowance in all, per route', () => {
      for (let i = 0; i < 36; i++) expect(attempt(login(`2001:db8:7:${i.toString(16)}::1`, `site-${i}@b.c`), 401).allowed).toBe(true);
      expect(attempt(login('2001:db8:7:ffff::1', 'site-x@b.c')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      // The next /48 is another site.
      expect(attempt(login('2001:db8:8:1::1', 'site-y@b.c')).allowed).toBe(true);
    });

    it('one /48 rotating through its /64s guesses invite codes 36 times in all, across both routes', () => {
      for (let i = 0; i < 36; i++) {
        const ip = `2001:db8:9:${i.toString(16)}::1`;
        expect(attempt(i % 2 ? join(`v6-guesser-${i}`, ip) : register(ip, `v6g${i}@b.c`, 'EEEEEE'), 404).allowed).toBe(true);
      }
      expect(attempt(join('v6-guesser-x', '2001:db8:9:abcd::1')).error?.code).toBe(ErrorCode.RATE_LIMITED);
      expect(attempt(register('2001:db8:9:abce::1', 'v6g-x@b.c', 'EEEEEE')).error?.code).toBe(ErrorCode.RATE_LIMITED);
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

    it('one /64 is one client: hopping between its addresses does not reset the budget', () => {
      for (let i = 0; i < 9; i++) expect(attempt(login(`2001:db8:1:2::${(i + 1).toString(16)}`, `v6-${i}@b.c`), 401).allowed).toBe(true);
      expect(attempt(login('2001:db8:1:2:ffff:ffff:ffff:ffff', 'v6-x@b.c')).allowed).toBe(false);
      expect(attempt(login('2001:db8:1:3::1', 'v6-y@b.c')).allowed).toBe(true);
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
    ])('clientNetwork(%s) = %s', (ip, network) => {
      expect(clientNetwork(ip)).toBe(network);
    });
  });
});
