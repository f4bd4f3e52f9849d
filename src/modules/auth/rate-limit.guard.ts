import { applyDecorators, CanActivate, ExecutionContext, Inject, Injectable, Logger, SetMetadata, UseGuards, UseInterceptors } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ConfigType } from '@nestjs/config';
import type { Response } from 'express';
import { createHash } from 'node:crypto';
import { ApiRateLimitedError } from '../../common/errors/api-error-responses.js';
import type { ScopedRequest } from '../../common/family-scope/family-scope.request.js';
import { authConfig } from '../../config/configuration.js';
import { parseClientAddress } from './client-address.js';
import { normalizeEmail } from './email.js';
import { AuthErrors } from './auth.errors.js';
import { AuthRateLimitInterceptor, holdAttempt } from './rate-limit.interceptor.js';
import { AuthRateLimitRepository, type RateLimitBucket } from './rate-limit.repository.js';

/** An instance sweeps expired counters after this many attempts, or a minute after its last sweep. */
const SWEEP_EVERY_ATTEMPTS = 1_000;
const SWEEP_INTERVAL_MS = 60_000;
/** At most this many per sweep: twice what SWEEP_EVERY_ATTEMPTS attempts create (5 counters at most each), so sweeps keep ahead of a flood of new keys. */
const SWEEP_BATCH = 10_000;

/** Per client network, every attempt on a route may go up to this many times the account limit. */
const NETWORK_FACTOR = 3;
/** An IPv6 /48 (one site: up to 65,536 /64s) gets this many times the allowance of one /64. */
const SITE_FACTOR = 4;
/** The one bucket for client addresses that are not IP addresses (see `clientNetworks`). */
const INVALID_NETWORK = 'invalid';
/** Metadata of a rate-limited route: the options given to AuthRateLimited. */
const RATE_LIMIT_OPTIONS = 'hemoday:auth-rate-limit:options';

/** How AuthRateLimitGuard counts a route's account budget. */
interface AuthRateLimitOptions {
  /** The route checks the account's password: one budget with every other such route, keyed by the email. */
  passwordCheck?: boolean;
  /** Every attempt counts for the account, not only failures (a route that always answers success). */
  everyAttempt?: boolean;
}
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
 *   stopping distributed guessing; the window is short (AUTH_RATE_WINDOW_SECONDS). The routes that
 *   check the account's password (login, change-password, DELETE /auth/me, POST /families/me/owner: `passwordCheck`) share
 *   **one** such budget, keyed by the account's email: otherwise whoever holds a stolen access token
 *   could guess the password on each of them, one budget per route. On them only a wrong password
 *   is a failure (AuthRateLimitInterceptor's keepsAttempt); on the others, any error. A route that always succeeds
 *   (forgot-password answers 202 whatever the email: `everyAttempt`) counts every attempt instead:
 *   its cost to the account — an email — comes with each one;
 *
 * An attempt is counted in these buckets in this order, as far as the first full one, where it is
 * refused (429, Retry-After: what is left of that bucket's window): a refused attempt does not count
 * in the bucket that refused it, and a refused network creates no other counters (the table stays
 * bounded under a flood of new emails).
 *
 * The client network is read from `request.ip` after normalising it (`parseClientAddress`): a
 * port a proxy wrote next to the address, brackets and IPv6 zone ids are dropped and IPv4-mapped
 * IPv6 counts as the IPv4 address, so a client cannot get a fresh budget by changing source port.
 *
 * The counters are rows in PostgreSQL (AuthRateLimitRepository): every instance counts in the same
 * budget. What remains for invite codes (6 characters, many networks) is in ARCHITECTURE.md, "Decisions".
 * A success gives its held attempt back through AuthRateLimitInterceptor (`AuthRateLimited` applies both).
 */
@Injectable()
export class AuthRateLimitGuard implements CanActivate {
  private attemptsSinceSweep = 0;
  private lastSweep = Date.now();
  private lastInvalidWarning = -Infinity;
  private readonly logger = new Logger(AuthRateLimitGuard.name);

  constructor(
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
    private readonly limits: AuthRateLimitRepository,
    private readonly reflector: Reflector = new Reflector(),
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<ScopedRequest>();
    const route = `${request.method} ${request.route?.path ?? request.path}`;
    await this.sweep();
    const limit = this.config.rateLimit;
    const networks = clientNetworks(request.ip);
    if (networks[0].key === INVALID_NETWORK) this.warnInvalid(request.ip);

    const buckets: Array<RateLimitBucket & { held: boolean }> = networks.map(({ key, factor }) => ({
      key: `${route}|net:${key}`, max: limit * NETWORK_FACTOR * factor, held: false,
    }));
    if (isInviteCodeGuess(request)) {
      for (const { key, factor } of networks) buckets.push({ key: `invite|net:${key}`, max: limit * NETWORK_FACTOR * factor, held: true });
    }
    const options = this.reflector.get<AuthRateLimitOptions | undefined>(RATE_LIMIT_OPTIONS, context.getHandler()) ?? {};
    const account = await this.accountBucket(options, request, route);
    if (account) buckets.push({ key: account, max: limit, held: !options.everyAttempt });

    const attempt = await this.limits.take(buckets, this.config.rateWindowSeconds);
    if (!attempt.counted) {
      http.getResponse<Response>().setHeader('Retry-After', String(attempt.retryAfterSeconds));
      throw AuthErrors.rateLimited(attempt.retryAfterSeconds);
    }
    holdAttempt(request, attempt.buckets.filter((_, i) => buckets[i].held), options.passwordCheck);
    return true;
  }

  /** The account's bucket: per route, but one for every route that checks the account's password. */
  private async accountBucket(options: AuthRateLimitOptions, request: ScopedRequest, route: string): Promise<string | undefined> {
    if (!options.passwordCheck) {
      const account = accountKey(request);
      return account && `${route}|${account}`;
    }
    // A signed-in caller (the JWT guard ran first) is keyed by their stored email, as a login for it is.
    const email = request.user?.userId ? await this.limits.emailOf(request.user.userId) : bodyEmail(request);
    return email === undefined ? undefined : `password|${emailKey(email)}`;
  }

  private warnInvalid(ip: string | undefined) {
    const now = Date.now();
    if (now - this.lastInvalidWarning < INVALID_WARNING_INTERVAL_MS) return;
    this.lastInvalidWarning = now;
    this.logger.warn(
      `client address ${JSON.stringify(String(ip).slice(0, 100))} is not an IP address; such clients share one rate-limit budget. ` +
        'Check what the reverse proxy writes into X-Forwarded-For and TRUST_PROXY (DEPLOYMENT.md).',
    );
  }

  private async sweep() {
    const now = Date.now();
    if (++this.attemptsSinceSweep < SWEEP_EVERY_ATTEMPTS && now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.attemptsSinceSweep = 0;
    this.lastSweep = now;
    await this.limits.sweep(SWEEP_BATCH).catch((error: Error) => this.logger.warn(`rate-limit sweep failed: ${error.message}`));
  }
}

/**
 * The limits of `AuthRateLimitGuard` on a route (login, register, join-family, change-password,
 * DELETE /auth/me, forgot-password, reset-password, POST /families and /families/me/owner), and the 429 they answer. `passwordCheck`: the
 * route checks the account's password, and shares one account budget with every other such route.
 * `everyAttempt`: every attempt counts for the account, not only failures (a route that answers the
 * same whether or not it did anything).
 */
export function AuthRateLimited(options: AuthRateLimitOptions = {}): MethodDecorator {
  return applyDecorators(
    SetMetadata(RATE_LIMIT_OPTIONS, options),
    UseGuards(AuthRateLimitGuard),
    UseInterceptors(AuthRateLimitInterceptor),
    ApiRateLimitedError(),
  );
}

/** join-family always carries an invite code; register does when it joins a family. */
function isInviteCodeGuess(request: ScopedRequest): boolean {
  return (request.body as { invite_code?: unknown } | undefined)?.invite_code !== undefined;
}

/**
 * An email is keyed by its hash: the body is not validated yet (an email may be as long as the body,
 * too long for an index entry), and the table need not hold what people type into the email field.
 */
function accountKey(request: ScopedRequest): string | undefined {
  if (request.user?.userId) return `user:${request.user.userId}`;
  const email = bodyEmail(request);
  return email === undefined ? undefined : emailKey(email);
}

function bodyEmail(request: ScopedRequest): string | undefined {
  const email = (request.body as { email?: unknown } | undefined)?.email;
  return typeof email === 'string' ? email : undefined;
}

/** The key of an email in `auth_rate_limits`: its SHA-256 (normalized first), never the address itself. */
export function emailKey(email: string): string {
  return `email:${createHash('sha256').update(normalizeEmail(email)).digest('base64url')}`;
}

/**
 * The networks an attempt is counted in, with their allowance factor. First the unit one client
 * controls: an IPv4 address (also when written IPv4-mapped, `::ffff:a.b.c.d`, or with a port,
 * `a.b.c.d:port`), or the /64 of an IPv6 address — a subscriber usually gets a /64 or more, and can
 * use any of its 2^64 addresses, so counting single IPv6 addresses would not limit anyone (see
 * `parseClientAddress` for the forms read). For IPv6 also its /48, at SITE_FACTOR× — a site that
 * rotates through its 65,536 /64s gets 4 /64s' worth of attempts, not 65,536.
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
