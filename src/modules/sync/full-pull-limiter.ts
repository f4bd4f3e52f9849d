import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { syncConfig } from '../../config/configuration.js';
import { RequestAbandonedError } from '../../database/abortable-query-runner.js';

interface Waiter {
  userId: string;
  grant: (release: () => void) => void;
  timer: NodeJS.Timeout;
}

/**
 * Turns for full pulls (a first sync, a replacement, a migration sync for the tables it names, which
 * it reads whole) on this instance: at most SYNC_FULL_PULLS_MAX at once, and one per user.
 * PostgreSQL builds a full pull's whole answer in one backend, which
 * peaks at about 30× the answer's size (a 52 MB answer: 1.5 GB); with no bound, a few large
 * families syncing at once, or one account asking again and again and dropping the connection
 * (the query runs on), ran the database out of memory and every family got 500s while it
 * recovered (found by review). Only pulls of families larger than SYNC_FULL_PULL_TURN_BYTES take
 * turns (SyncPullService asks); waiting users are served in rotation; a pull that waits longer than
 * SYNC_FULL_PULL_WAIT_SECONDS is answered 503 SERVER_BUSY with Retry-After. Incremental pulls never
 * wait here.
 */
@Injectable()
export class FullPullLimiter {
  private readonly logger = new Logger(FullPullLimiter.name);
  private readonly running = new Set<string>();
  private readonly waiting: Waiter[] = [];
  /** When each user last got a turn (a counter), for serving users in rotation. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;

  constructor(@Inject(syncConfig.KEY) private readonly config: ConfigType<typeof syncConfig>) {}

  /**
   * Resolves with the function that ends the turn (call it exactly once, when the pull is done).
   * A pull whose client hangs up (`signal`) leaves the queue at once (RequestAbandonedError).
   */
  acquire(userId: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new RequestAbandonedError());
    if (this.free(userId)) return Promise.resolve(this.start(userId));
    return new Promise((resolve, reject) => {
      const leave = (error: Error) => {
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', abandon);
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(error);
      };
      const abandon = () => leave(new RequestAbandonedError());
      const timer = setTimeout(() => {
        this.logger.warn(`a full pull waited ${this.config.fullPullWaitSeconds} s for its turn (${this.running.size} running, ${this.waiting.length - 1} waiting): answered 503`);
        leave(busy());
      }, this.config.fullPullWaitSeconds * 1000);
      const waiter: Waiter = {
        userId,
        timer,
        grant: (release) => {
          signal?.removeEventListener('abort', abandon);
          resolve(release);
        },
      };
      signal?.addEventListener('abort', abandon, { once: true });
      this.waiting.push(waiter);
    });
  }

  private free(userId: string): boolean {
    return this.running.size < this.config.fullPullsMax && !this.running.has(userId);
  }

  private start(userId: string): () => void {
    this.running.add(userId);
    this.lastServed.set(userId, ++this.served);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running.delete(userId);
      this.next();
    };
  }

  /**
   * Grants free turns, each to the waiting user served longest ago (never served: first), and among
   * a user's own requests the oldest: users take turns, so one asking again and again cannot keep
   * the others waiting (found by review: two accounts with 120 requests each queued ahead of
   * everyone else).
   */
  private next(): void {
    // Nobody waits: nothing to rotate among, and the map stays as small as the queue.
    if (!this.waiting.length) this.lastServed.clear();
    while (this.running.size < this.config.fullPullsMax) {
      let chosen = -1;
      for (let i = 0; i < this.waiting.length; i++) {
        const user = this.waiting[i].userId;
        if (this.running.has(user)) continue;
        if (chosen < 0 || (this.lastServed.get(user) ?? -1) < (this.lastServed.get(this.waiting[chosen].userId) ?? -1)) chosen = i;
      }
      if (chosen < 0) return;
      const [waiter] = this.waiting.splice(chosen, 1);
      clearTimeout(waiter.timer);
      waiter.grant(this.start(waiter.userId));
    }
  }
}

/** Seconds a client is told to wait after a 503: it has waited its turn once already. */
const RETRY_AFTER_SECONDS = 5;

function busy(): DomainError {
  return new DomainError(ErrorCode.SERVER_BUSY, 'Too many full syncs are running; try again shortly', { retryAfterSeconds: RETRY_AFTER_SECONDS });
}
