// The large family used by the pull scenarios: loaded once per run with pushes of 5,000.
// `ids` (table → Set of live ids) is kept up to date by every scenario that
// changes the family, so the scenarios can run in any order.
import { Device, loadFamily, register } from '../lib/client.mjs';
import { makeChanges } from '../lib/records.mjs';
import { timed } from '../lib/stats.mjs';

export async function largeFamily(ctx) {
  const size = ctx.sizes.pull;
  if (ctx.shared.largeFamily?.size === size) return ctx.shared.largeFamily;
  const user = await register(ctx.app.baseUrl);
  const writer = new Device(ctx.app.baseUrl, user);
  const { ms, result } = await timed(() => loadFamily(writer, size, makeChanges, 5000));
  const ids = Object.fromEntries(Object.entries(result.ids).map(([table, list]) => [table, new Set(list)]));
  ids.families = new Set([user.familyId]);
  ctx.shared.largeFamily = { size, user, writer, cursor: result.cursor, ids, loadMs: ms };
  return ctx.shared.largeFamily;
}

/** Records a push's effect on the family's live ids. */
export function applyToIds(ids, changes) {
  for (const [table, c] of Object.entries(changes)) {
    const set = (ids[table] ??= new Set());
    for (const r of c.created) set.add(r.id);
    for (const id of c.deleted) set.delete(id);
  }
}

/** The number of live records (the families row included). */
export function liveCount(ids) {
  return Object.values(ids).reduce((n, set) => n + set.size, 0);
}
