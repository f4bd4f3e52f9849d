import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sync_held_in_earlier_life(prev_spans, cursor, device, user)`: whether a device still holds a
 * revived record from one of its earlier lives (the pull's created/updated choice; see
 * SyncRepository). It held life i — its cursor lies in that life, or it created that life itself
 * after its cursor — and has not deleted the record itself since: the window finds the device's
 * last own deletion, the lives after it are checked. A span recorded without its user (before users
 * were recorded) matches by device alone.
 *
 * A function rather than the same subquery inlined in the pull: there, PostgreSQL planned it for
 * every table of every pull (about 4 ms of a 15 ms incremental pull), although it runs only for
 * revived records. PL/pgSQL, not SQL: the planner tries to inline an SQL function at every call
 * site (parsing its body each time); a PL/pgSQL body is planned once per connection, when first
 * called. Immutable: it reads its arguments only.
 */
export class SyncHeldInEarlierLife1764770000000 implements MigrationInterface {
  name = 'SyncHeldInEarlierLife1764770000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION sync_held_in_earlier_life(spans jsonb, at_version bigint, device_id text, user_id uuid)
      RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      BEGIN
        RETURN EXISTS (
          SELECT 1
            FROM (SELECT p.i, (p.span ->> 'c')::bigint AS c, (p.span ->> 'd')::bigint AS d,
                         (p.span ->> 'cd' = device_id AND coalesce((p.span ->> 'cu')::uuid = user_id, true)) AS own_created,
                         max(p.i) FILTER (WHERE p.span ->> 'dd' = device_id AND coalesce((p.span ->> 'du')::uuid = user_id, true)) OVER () AS own_deleted
                    FROM jsonb_array_elements(spans) WITH ORDINALITY AS p(span, i)) life
           WHERE life.i > coalesce(life.own_deleted, 0)
             AND ((life.c <= at_version AND life.d > at_version) OR (life.own_created AND life.c > at_version)));
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION sync_held_in_earlier_life(jsonb, bigint, text, uuid)`);
  }
}
