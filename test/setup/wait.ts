import type pg from 'pg';

/** Polls until `check` holds; throws naming `what` after `timeoutMs` (10 s by default). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How many sessions wait for the session `pid`: directly, or behind one that does (pg_blocking_pids). */
export async function sessionsWaitingBehind(client: Pick<pg.Client, 'query'>, pid: number): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))
     SELECT count(*)::int AS n FROM pg_stat_activity a
      WHERE $1 = ANY(pg_blocking_pids(a.pid)) OR EXISTS (SELECT 1 FROM direct d WHERE d.pid = ANY(pg_blocking_pids(a.pid)))`,
    [pid],
  );
  return rows[0].n;
}
