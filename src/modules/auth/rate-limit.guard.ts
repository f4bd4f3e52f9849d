import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Response } from 'express';
import { isIPv6 } from 'node:net';
import type { ScopedRequest } from '../../common/family-scope/family-scope.request.js';
import { authConfig } from '../../config/configuration.js';
import { normalizeEmail } from './email.js';
import { AuthErrors } from './auth.errors.js';

interface Window {
  count: number;
  resetAt: number;
}

/** Past this many counters, expired ones are swept at once rather than once a minute. */
const SWEEP_AT_SIZE = 50_000;

/**
 * Fixed-window limits for password and invite-code guessing, per route:
 * - per client network (an IPv4 address, or an IPv6 /64 — one subscriber's whole prefix), 3× the
 *   account limit since a household shares one IP: **every** attempt counts;
 * - per account (the email being tried, or the signed-in user): only **failed** attempts count (an
 *   attempt is held while in flight and given back when it succeeds), so signing in often from
 *   several phones never locks anyone out. A stranger who knows an email can still spend that
 *   account's failure budget from several networks and hold it for one window — the price of
 *   stopping distributed guessing; the window is short (AUTH_RATE_WINDOW_SECONDS).
 *
 * In memory, per instance: with N instances an attacker gets at most N× the limit; see DEPLOYMENT.md.
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  private readonly windows = new Map<string, Window>();
  private lastSweep = Date.now();

  constructor(@Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<ScopedRequest>();
    const response = http.getResponse<Response>();
    const route = `${request.method} ${request.route?.path ?? request.path}`;
    const now = Date.now();
    this.sweep(now);
    const limit = this.config.rateLimit;

    // The network first: a refused network creates no account counters (bounded memory).
    const network = this.window(`${route}|net:${clientNetwork(request.ip)}`, now);
    if (network.count >= limit * 3) this.refuse(response, network, now);
    network.count++;

    const account = accountKey(request);
    if (account) {
      const window = this.window(`${route}|${account}`, now);
      if (window.count >= limit) this.refuse(response, window, now);
      window.count++;
      // A success gives the attempt back; a failure, an error or a dropped connection keeps it.
      response.once('finish', () => {
        if (response.statusCode < 400) window.count = Math.max(0, window.count - 1);
      });
    }
    return true;
  }

  private window(key: string, now: number): Window {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + this.config.rateWindowSeconds * 1000 };
      this.windows.set(key, window);
    }
    return window;
  }

  private refuse(response: Response, window: Window, now: number): never {
    const retryAfter = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
    response.setHeader('Retry-After', String(retryAfter));
    throw AuthErrors.rateLimited(retryAfter);
  }

  private sweep(now: number) {
    if (now - this.lastSweep < 60_000 && this.windows.size < SWEEP_AT_SIZE) return;
    if (now - this.lastSweep < 1_000) return; // a flood of new keys sweeps at most once a second
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

function accountKey(request: ScopedRequest): string | undefined {
  if (request.user?.userId) return `user:${request.user.userId}`;
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? `email:${normalizeEmail(email)}` : undefined;
}

/**
 * The unit one client controls: an IPv4 address (also when written IPv4-mapped, `::ffff:a.b.c.d`),
 * or the /64 of an IPv6 address — a subscriber usually gets a /64 or more, and can use any of its
 * 2^64 addresses, so counting single IPv6 addresses would not limit anyone.
 */
export function clientNetwork(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const address = ip.split('%')[0].toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const groups = (part: string): string[] =>
    part ? part.split(':').flatMap((g) => (g.includes('.') ? ipv4Groups(g) : [g])) : [];
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const full = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

function ipv4Groups(ipv4: string): string[] {
  const [a, b, c, d] = ipv4.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
