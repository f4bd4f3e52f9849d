// 2. First sync of a family with N records over HTTP (body fully read) vs.
//    SELECT json_agg(...) of the same rows and columns through pg.
import pg from 'pg';
import { Device } from '../lib/client.mjs';
import { memoryOf, resetPeakMemory } from '../lib/environment.mjs';
import { baselinePullSql } from '../lib/records.mjs';
import { median, msSince } from '../lib/stats.mjs';
import { largeFamily } from './shared-family.mjs';

export async function firstPullScenario(ctx) {
  const family = await largeFamily(ctx);
  const reps = ctx.short ? 1 : 5;
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const sql = baselinePullSql();
  const http = [];
  const base = [];
  let bytes = 0;
  let baseBytes = 0;
  const memBefore = await memoryOf(ctx.app.pid);
  const peakReset = await resetPeakMemory(ctx.app.pid);
  try {
    for (let rep = -1; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['http', 'pg'] : ['pg', 'http'];
      for (const which of order) {
        if (which === 'http') {
          const device = new Device(ctx.app.baseUrl, family.user); // a new installation: first sync
          const r = await device.pullRaw(null);
          if (r.status !== 200) throw new Error(`pull answered ${r.status}: ${r.text.slice(0, 300)}`);
          bytes = Buffer.byteLength(r.text);
          if (rep === -1) checkFirstPull(r.text, family);
          else http.push(r.ms);
        } else {
          const start = process.hrtime.bigint();
          const { rows } = await client.query(sql, [family.user.familyId]);
          const ms = msSince(start);
          baseBytes = Buffer.byteLength(rows[0].body);
          if (rep >= 0) base.push(ms);
        }
      }
    }
  } finally {
    await client.end();
  }
  const memAfter = await memoryOf(ctx.app.pid);
  const measured = median(http);
  const baseline = median(base);
  return {
    rows: [
      { scenario: `first pull, ${family.size} records (HTTP, body read)`, measured, baseline, unit: 'ms', baselineLabel: 'pg: SELECT json_agg(...)', target: { kind: 'ratio', max: 2 } },
      { scenario: 'first pull: response size', measured: bytes / 1024 / 1024, baseline: baseBytes / 1024 / 1024, unit: 'MiB', baselineLabel: 'pg json text', target: { kind: 'info' } },
      {
        scenario: 'first pull: app peak memory (VmHWM)',
        measured: memAfter.peakMiB,
        baseline: memBefore.rssMiB,
        unit: 'MiB',
        baselineLabel: 'app RSS before the pulls',
        target: { kind: 'info' },
      },
    ],
    data: {
      records: family.size,
      load_ms: family.loadMs,
      repetitions: reps,
      http_ms: http,
      baseline_ms: base,
      response_bytes: bytes,
      baseline_bytes: baseBytes,
      app_rss_before_mib: memBefore.rssMiB,
      app_peak_mib: memAfter.peakMiB,
      app_peak_before_mib: memBefore.peakMiB,
      peak_reset_before_pulls: peakReset,
      records_per_s: (family.size / measured) * 1000,
    },
  };
}

/** Sanity: the first pull carries every record of the family, all as `created`. */
function checkFirstPull(text, family) {
  const body = JSON.parse(text);
  for (const [table, ids] of Object.entries(family.ids)) {
    const got = body.changes[table].created.length;
    const want = table === 'families' ? 1 : ids.length;
    if (got !== want) throw new Error(`first pull returned ${got} ${table}, expected ${want}`);
  }
}
