import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SyncHeldInEarlierLife1764770000000 } from './1764770000000-SyncHeldInEarlierLife.js';

/**
 * `sync_held_in_earlier_life`: a life the installation created after its cursor (`cd`) makes it
 * hold the record whoever was signed in, as the current life's creator does in the pull
 * (SyncRepository's ownRow): the id names the local database, which a tablet shared by members of
 * one family keeps from one user to the next. Matched with the user too, the next member's pull got
 * a record revived by another phone as `created` although the tablet held its first life, and
 * WatermelonDB re-created it over the tablet's deletion, which was never pushed (found by review).
 * The installation's own deletions (`dd`) are still matched with the user: counting another user's
 * deletion on a phone restored from the same backup as this one's would send `created` to a phone
 * that may hold the record; not counting it only sends `updated` for a record the phone may not
 * hold (WatermelonDB logs it and creates it).
 */
export class SyncHeldInEarlierLifeByInstallation1764850000000 implements MigrationInterface {
  name = 'SyncHeldInEarlierLifeByInstallation1764850000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION sync_held_in_earlier_life(spans jsonb, at_version bigint, device_id text, user_id uuid)
      RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      BEGIN
        RETURN EXISTS (
          SELECT 1
            FROM (SELECT p.i, (p.span ->> 'c')::bigint AS c, (p.span ->> 'd')::bigint AS d,
                         (p.span ->> 'cd' = device_id) AS own_created,
                         max(p.i) FILTER (WHERE p.span ->> 'dd' = device_id AND coalesce((p.span ->> 'du')::uuid = user_id, true)) OVER () AS own_deleted
                    FROM jsonb_array_elements(spans) WITH ORDINALITY AS p(span, i)) life
           WHERE life.i > coalesce(life.own_deleted, 0)
             AND ((life.c <= at_version AND life.d > at_version) OR (life.own_created AND life.c > at_version)));
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The function as SyncHeldInEarlierLife created it, text for text.
    await q.query(`DROP FUNCTION sync_held_in_earlier_life(jsonb, bigint, text, uuid)`);
    await new SyncHeldInEarlierLife1764770000000().up(q);
  }
}
