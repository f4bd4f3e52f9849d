import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Response } from 'express';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import type { ScopedRequest } from '../../common/family-scope/family-scope.request.js';
import { authConfig } from '../../config/configuration.js';
import { normalizeEmail } from './email.js';

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Fixed-window limits for password and invite-code guessing: per client IP
 * (3× the account limit, since a household shares one IP) and per account
 * (the email being tried, or the signed-in user). In memory, per instance:
 * with N instances an attacker gets at most N× the limit; see DEPLOYMENT.md.
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  private readonly windows = new Map<string, Window>();
  private lastSweep = Date.now();

  constructor(@Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const route = `${request.method} ${request.route?.path ?? request.path}`;
    const now = Date.now();
    this.sweep(now);
    const limit = this.config.rateLimit;
    const account = accountKey(request);
    const retryAfter = Math.max(
      this.hit(`${route}|ip:${request.ip}`, limit * 3, now),
      // Without an account (no email in the body) only the IP counts; counting the IP key twice would halve its budget.
      account ? this.hit(`${route}|${account}`, limit, now) : 0,
    );
    if (retryAfter > 0) {
      context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(retryAfter));
      throw new DomainError(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfter} s`, { retryAfterSeconds: retryAfter });
    }
    return true;
  }

  /** Counts one attempt; returns 0 when allowed, else seconds until the window resets. */
  private hit(key: string, limit: number, now: number): number {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + this.config.rateWindowSeconds * 1000 };
      this.windows.set(key, window);
    }
    window.count++;
    return window.count > limit ? Math.ceil((window.resetAt - now) / 1000) : 0;
  }

  private sweep(now: number) {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

function accountKey(request: ScopedRequest): string | undefined {
  if (request.user?.userId) return `user:${request.user.userId}`;
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? `email:${normalizeEmail(email)}` : undefined;
}
