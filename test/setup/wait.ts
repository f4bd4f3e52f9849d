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

/**
 * Holds the next call of `object[method]` (for which `when` holds) before it runs: `reached` resolves
 * as it is held, `release()` lets it go on. The method is put back as it is held, or by `restore()`
 * (call it in a `finally`; it releases a held call too). A request held so is an interleaving forced
 * deterministically, not a timing that hopes for one.
 */
export function holdNextCall<T extends object, K extends keyof T>(
  object: T,
  method: K,
  when: (...args: never[]) => boolean = () => true,
): { reached: Promise<void>; release: () => void; restore: () => void } {
  const original = object[method] as unknown as (...args: unknown[]) => unknown;
  // Usually the class's method: put back by deleting the instance's own stand-in.
  const own = Object.prototype.hasOwnProperty.call(object, method);
  const putBack = () => {
    if (own) object[method] = original as T[K];
    else delete object[method];
  };
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const gate = new Promise<void>((r) => (release = r));
  const restore = () => {
    putBack();
    release();
  };
  object[method] = (async (...args: unknown[]) => {
    if ((when as (...a: unknown[]) => boolean)(...args)) {
      putBack();
      reach();
      await gate;
    }
    return original.apply(object, args);
  }) as T[K];
  return { reached, release, restore };
}
