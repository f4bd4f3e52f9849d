import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { EntityManager } from 'typeorm';
import { syncConfig } from '../../config/configuration.js';
import { AuthRateLimitRepository, type CountedBucket } from '../auth/rate-limit.repository.js';
import { SyncErrors } from './sync.errors.js';

/**
 * How many new installations one user may start syncing per window (SYNC_NEW_INSTALLATION_LIMIT per
 * SYNC_NEW_INSTALLATION_WINDOW_SECONDS). New: an `X-Device-Id` with no `sync_cursors` row in the
 * caller's family and no `sync_last_pushes` row of the caller. Each adds rows no job trims (a
 * phone coming back after months must find its cursor), and a client sending a new id with every
 * sync added ~150 a second from one account. Past the limit, a pull or push from a new id is
 * answered 429 RATE_LIMITED with Retry-After (the auth limits' answer) and writes nothing; the
 * user's known installations and pulls without a device id go on as before.
 *
 * Asked only on the rare path (the pull's snapshot, or the push's record of its last push, found
 * the id new): a sync from a known installation sends no statement more. The counter is a row of
 * `auth_rate_limits` (`new-installation|user:<id>`: shared by every instance, emptied by the same
 * sweep of expired windows), one per user.
 */
@Injectable()
export class NewInstallationLimiter {
  constructor(
    @Inject(syncConfig.KEY) private readonly config: ConfigType<typeof syncConfig>,
    private readonly limits: AuthRateLimitRepository,
  ) {}

  /**
   * Counts one new installation of `userId`, or throws 429 (not counted). `manager`: in the caller's
   * transaction (a push: the count goes back if the push rolls back); by default a statement of its own.
   */
  async admit(userId: string, manager?: EntityManager): Promise<CountedBucket[]> {
    const attempt = await this.limits.take([{ key: newInstallationKey(userId), max: this.config.newInstallationLimit }], this.config.newInstallationWindowSeconds, manager);
    if (!attempt.counted) throw SyncErrors.tooManyNewInstallations(attempt.retryAfterSeconds);
    return attempt.buckets;
  }

  /**
   * Takes back what `admit` counted (in its own statement, in the window it was counted in): a pull
   * admitted that then recorded nothing (its client hung up, its statement timed out, the membership
   * changed). Kept, each retry of such a pull counted the same installation again.
   */
  async giveBack(counted: CountedBucket[]): Promise<void> {
    await this.limits.giveBack(counted);
  }
}

/** The user's counter in `auth_rate_limits`. */
export function newInstallationKey(userId: string): string {
  return `new-installation|user:${userId}`;
}
