// The large family used by the pull scenarios: loaded once per run with pushes of 5,000.
import { Device, loadFamily, register } from '../lib/client.mjs';
import { makeChanges } from '../lib/records.mjs';
import { timed } from '../lib/stats.mjs';

export async function largeFamily(ctx) {
  const size = ctx.sizes.pull;
  if (ctx.shared.largeFamily?.size === size) return ctx.shared.largeFamily;
  const user = await register(ctx.app.baseUrl);
  const writer = new Device(ctx.app.baseUrl, user);
  const { ms, result } = await timed(() => loadFamily(writer, size, makeChanges, 5000));
  ctx.shared.largeFamily = { size, user, writer, cursor: result.cursor, ids: result.ids, loadMs: ms };
  return ctx.shared.largeFamily;
}
