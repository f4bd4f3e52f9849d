import { jest } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AuthRateLimitGuard } from './rate-limit.guard.js';

interface FakeRequest {
  method: string;
  path: string;
  route: { path: string };
  ip: string;
  body?: unknown;
  user?: { userId: string };
}

function context(request: FakeRequest, headers: Record<string, string> = {}): ExecutionContext {
  const response = { setHeader: (name: string, value: string) => (headers[name] = value) };
  return { switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }) } as unknown as ExecutionContext;
}

const login = (ip: string, email: unknown): FakeRequest => ({ method: 'POST', path: '/api/v1/auth/login', route: { path: '/api/v1/auth/login' }, ip, body: { email } });

describe('AuthRateLimitGuard', () => {
  let guard: AuthRateLimitGuard;
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    guard = new AuthRateLimitGuard({ rateLimit: 3, rateWindowSeconds: 60 } as never);
  });
  afterEach(() => jest.useRealTimers());

  function attempt(request: FakeRequest): { allowed: boolean; retryAfter?: string; error?: DomainError } {
    const headers: Record<string, string> = {};
    try {
      return { allowed: guard.canActivate(context(request, headers)) };
    } catch (error) {
      return { allowed: false, retryAfter: headers['Retry-After'], error: error as DomainError };
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
    const join = (userId: string, ip: string): FakeRequest => ({
      method: 'POST', path: '/api/v1/auth/join-family', route: { path: '/api/v1/auth/join-family' }, ip, body: { invite_code: 'AAAAAA' }, user: { userId },
    });
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
});
