import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Response } from 'express';
import type { ScopedRequest } from '../../common/family-scope/family-scope.request.js';
import { authConfig } from '../../config/configuration.js';
import { parseClientAddress } from './client-address.js';
import { normalizeEmail } from './email.js';
import { AuthErrors } from './auth.errors.js';

interface Window {
  count: number;
  resetAt: number;
}

/** Past this many counters, expired ones are swept at once rather than once a minute. */
const SWEEP_AT_SIZE = 50_000;

/** Per client network, every attempt on a route may go up to this many times the account limit. */
const NETWORK_FACTOR = 3;
/** An IPv6 /48 (one site: up to 65,536 /64s) gets this many times the allowance of one /64. */
const SITE_FACTOR = 4;
/** The one bucket for client addresses that are not IP addresses (see `clientNetworks`). */
export const INVALID_NETWORK = 'invalid';
/** A proxy writing addresses the guard cannot read is worth a warning, but not one per request. */
const INVALID_WARNING_INTERVAL_MS = 60 * 60_000;

/**
 * Fixed-window limits for password and invite-code guessing:
 * - per route and client network (an IPv4 address, or an IPv6 /64 — one subscriber's whole prefix),
 *   3× the account limit since a household shares one IP: **every** attempt counts;
 * - invite-code guesses — join-family, and register with an `invite_code` — share **one** bucket per
 *   client network across both routes (3× the account limit; failures only, like the account), so
 *   alternating the two routes does not double the guesses;
 * - an IPv6 client is also counted per /48, at 4× the /64 allowance (per route, and for invite
 *   codes): a site routinely holds 65,536 /64s, and rotating through them would otherwise give
 *   65,536 fresh budgets;
 * - per account (the email being tried, or the signed-in user), per route: only **failed** attempts
 *   count (an attempt is held while in flight and given back when it succeeds), so signing in often
 *   from several phones never locks anyone out. A stranger who knows an email can still spend that
 *   account's failure budget from several networks and hold it for one window — the price of
 *   stopping distributed guessing; the window is short (AUTH_RATE_WINDOW_SECONDS).
 *
 * The client network is read from `request.ip` after normalising it (`parseClientAddress`): a
 * port a proxy wrote next to the address, brackets and IPv6 zone ids are dropped and IPv4-mapped
 * IPv6 counts as the IPv4 address, so a client cannot get a fresh budget by changing source port.
 *
 * In memory, per instance: with N instances an attacker gets at most N× the limit; see DEPLOYMENT.md.
 * What remains for invite codes (6 characters, many networks) is in ARCHITECTURE.md, "Decisions".
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  private readonly windows = new Map<string, Window>();
  private lastSweep = Date.now();
  private lastInvalidWarning = -Infinity;
  private readonly logger = new Logger(AuthRateLimitGuard.name);

  constructor(@Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<ScopedRequest>();
    const response = http.getResponse<Response>();
    const route = `${request.method} ${request.route?.path ?? request.path}`;
    const now = Date.now();
    this.sweep(now);
    const limit = this.config.rateLimit;
    const networks = clientNetworks(request.ip);
    if (networks[0].key === INVALID_NETWORK) this.warnInvalid(request.ip, now);

    // The networks first: a refused network creates no other counters (bounded memory).
    for (const { key, factor } of networks) this.take(response, `${route}|net:${key}`, limit * NETWORK_FACTOR * factor, now);
    const held: Window[] = [];
    if (isInviteCodeGuess(request)) {
      for (const { key, factor } of networks) held.push(this.take(response, `invite|net:${key}`, limit * NETWORK_FACTOR * factor, now));
    }
    const account = accountKey(request);
    if (account) held.push(this.take(response, `${route}|${account}`, limit, now));
    if (held.length) {
      // A success gives the attempt back; a failure, an error or a dropped connection keeps it.
      response.once('finish', () => {
        if (response.statusCode < 400) for (const window of held) window.count = Math.max(0, window.count - 1);
      });
    }
    return true;
  }

  /** Counts one attempt in the window of `key`, or refuses (429) when `max` attempts were made already. */
  private take(response: Response, key: string, max: number, now: number): Window {
    const window = this.window(key, now);
    if (window.count >= max) this.refuse(response, window, now);
    window.count++;
    return window;
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

  private warnInvalid(ip: string | undefined, now: number) {
    if (now - this.lastInvalidWarning < INVALID_WARNING_INTERVAL_MS) return;
    this.lastInvalidWarning = now;
    this.logger.warn(
      `client address ${JSON.stringify(String(ip).slice(0, 100))} is not an IP address; such clients share one rate-limit budget. ` +
        'Check what the reverse proxy writes into X-Forwarded-For and TRUST_PROXY (DEPLOYMENT.md).',
    );
  }

  private sweep(now: number) {
    if (now - this.lastSweep < 60_000 && this.windows.size < SWEEP_AT_SIZE) return;
    if (now - this.lastSweep < 1_000) return; // a flood of new keys sweeps at most once a second
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/** join-family always carries an invite code; register does when it joins a family. */
function isInviteCodeGuess(request: ScopedRequest): boolean {
  return (request.body as { invite_code?: unknown } | undefined)?.invite_code !== undefined;
}

function accountKey(request: ScopedRequest): string | undefined {
  if (request.user?.userId) return `user:${request.user.userId}`;
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? `email:${normalizeEmail(email)}` : undefined;
}

/**
 * The unit one client controls: an IPv4 address (also when written IPv4-mapped, `::ffff:a.b.c.d`,
 * or with a port, `a.b.c.d:port`), or the /64 of an IPv6 address — a subscriber usually gets a /64
 * or more, and can use any of its 2^64 addresses, so counting single IPv6 addresses would not limit
 * anyone. See `parseClientAddress` for the forms read.
 */
export function clientNetwork(ip: string | undefined): string {
  return clientNetworks(ip)[0].key;
}

/**
 * The networks an attempt is counted in, with their allowance factor: the client network
 * (`clientNetwork`), and for IPv6 also its /48, at SITE_FACTOR× — a site that rotates through its
 * 65,536 /64s gets 4 /64s' worth of attempts, not 65,536.
 *
 * No address at all (a closed socket) is counted as `unknown`; an address that is not an IP once
 * ports, brackets and zone ids are removed (with TRUST_PROXY set right only a proxy can write one:
 * the entries a client put into X-Forwarded-For itself are never read) is counted in **one** shared `invalid` bucket. Keyed
 * whole, every variant of such a string would be a fresh budget; shared, a misbehaving proxy makes
 * its clients limit each other, which shows (429s, and a warning in the log) instead of hiding.
 */
export function clientNetworks(ip: string | undefined): Array<{ key: string; factor: number }> {
  if (!ip) return [{ key: 'unknown', factor: 1 }];
  const address = parseClientAddress(ip);
  if (!address) return [{ key: INVALID_NETWORK, factor: 1 }];
  if (address.family === 4) return [{ key: address.address, factor: 1 }];
  const hex = address.groups.map((g) => g.toString(16));
  return [
    { key: `${hex.slice(0, 4).join(':')}::/64`, factor: 1 },
    { key: `${hex.slice(0, 3).join(':')}::/48`, factor: SITE_FACTOR },
  ];
}
