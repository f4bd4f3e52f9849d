import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { asStandbyRefusal } from '../../common/postgres-errors.js';

/** A counter an attempt is counted in, and the most attempts its window admits. */
export interface RateLimitBucket {
  key: string;
  max: number;
}

/** A bucket an attempt was counted in, and that window (as text: a Date would drop its microseconds). */
export interface CountedBucket {
  key: string;
  window: string;
}

/**
 * `auth_rate_limits.count` is an integer: a bucket can never count past this, so a larger max
 * (AUTH_RATE_LIMIT has no upper bound, and the network buckets multiply it by up to 12) admits the
 * same attempts. Passed as it is, a max beyond bigint's range failed every attempt with a 500.
 */
const MAX_COUNT = 2_147_483_647;

export type RateLimitTake =
  | { counted: true; buckets: CountedBucket[] }
  | { counted: false; retryAfterSeconds: number };

/**
 * The rate-limit counters (`auth_rate_limits`), shared by every instance through PostgreSQL. Each
 * method is one statement; windows are kept on the database's clock.
 */
@Injectable()
export class AuthRateLimitRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Counts one attempt in `buckets`, in their order, as far as the first full one: the attempt is
   * refused there, and the buckets after it are neither counted nor created. A full bucket is not
   * counted (its count stays at its max). An expired window starts afresh, `windowSeconds` long.
   *
   * Which bucket is full is read from the statement's snapshot; the count itself is the row's, under
   * its lock, so a bucket never admits more than its max however many attempts race for it on
   * however many instances. One that fills up during the statement refuses the attempt too (those
   * after it may have been counted then). Rows are locked in key order, so two attempts never wait
   * on each other in a cycle. `manager`: in the caller's transaction (the rows stay locked, and the
   * count goes back if it rolls back); by default a statement of its own.
   */
  async take(buckets: RateLimitBucket[], windowSeconds: number, manager: EntityManager = this.dataSource.manager): Promise<RateLimitTake> {
    // On a hot standby the UNLOGGED table cannot even be read (0A000): a read-only database, as for any write (503).
    const rows: Array<{ key: string; window: string | null; retry_after: number }> = await manager.query(
      `WITH attempt AS (
         SELECT * FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS a(key, max, position)
       ),
       live AS (
         SELECT a.key, a.position, w.count >= a.max AS at_max, w.window_ends_at
           FROM attempt a JOIN auth_rate_limits w USING (key)
          WHERE w.window_ends_at > now()
       ),
       counted AS (
         INSERT INTO auth_rate_limits AS w (key, count, window_ends_at)
         SELECT key, 1, now() + make_interval(secs => $3) FROM attempt
          WHERE position < ALL (SELECT position FROM live WHERE at_max)
          ORDER BY key
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN w.window_ends_at > now() THEN w.count + 1 ELSE 1 END,
           window_ends_at = CASE WHEN w.window_ends_at > now() THEN w.window_ends_at ELSE excluded.window_ends_at END
         WHERE w.window_ends_at <= now() OR w.count < (SELECT max FROM attempt WHERE attempt.key = w.key)
         RETURNING w.key, w.window_ends_at
       )
       -- A bucket not counted refuses for what is left of its window: as found, or (not found live: it
       -- started during this statement) a whole one.
       SELECT a.key, c.window_ends_at::text AS window,
              ceil(extract(epoch FROM coalesce(l.window_ends_at, now() + make_interval(secs => $3)) - now()))::int AS retry_after
         FROM attempt a LEFT JOIN counted c USING (key) LEFT JOIN live l USING (key)
        ORDER BY a.position`,
      [buckets.map((b) => b.key), buckets.map((b) => Math.min(b.max, MAX_COUNT)), windowSeconds],
    ).catch((error: unknown) => {
      throw asStandbyRefusal(error);
    });
    const refused = rows.find((row) => row.window === null);
    if (refused) return { counted: false, retryAfterSeconds: refused.retry_after };
    return { counted: true, buckets: rows.map((row) => ({ key: row.key, window: row.window! })) };
  }

  /** Takes one attempt back from each of `buckets`, in the window it was counted in (a later window keeps its count). */
  async giveBack(buckets: CountedBucket[]): Promise<void> {
    await this.dataSource.query(
      `WITH held AS (
         SELECT w.key
           FROM auth_rate_limits w
           JOIN unnest($1::text[], $2::timestamptz[]) AS h(key, window_ends_at) ON w.key = h.key AND w.window_ends_at = h.window_ends_at
          ORDER BY w.key
            FOR UPDATE OF w
       )
       UPDATE auth_rate_limits w SET count = w.count - 1 FROM held WHERE w.key = held.key AND w.count > 0`,
      [buckets.map((b) => b.key), buckets.map((b) => b.window)],
    );
  }

  /** The stored (normalized) email of a signed-in user, whose password a route checks; undefined for none. */
  async emailOf(userId: string): Promise<string | undefined> {
    const [row]: Array<{ email: string }> = await this.dataSource.query('SELECT email FROM users WHERE id = $1', [userId]);
    return row?.email;
  }

  /** Deletes up to `limit` expired counters (skipping any that another statement holds). */
  async sweep(limit: number): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM auth_rate_limits WHERE key IN (
         SELECT key FROM auth_rate_limits WHERE window_ends_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
       )`,
      [limit],
    );
  }
}
