// 2. First sync of a family with N records over HTTP (body fully read) vs.
//    SELECT json_agg(...) of the same rows and columns through pg (every timed
//    body checked, after its clock, to hold every live record): as a phone
//    asks for it (Accept-Encoding: gzip, decoded by the client), and plain. Also
//    the response size on the wire and plain, the app's peak memory during the
//    pulls and, when PostgreSQL runs on this machine, the peak of the server
//    processes doing the work.
import pg from 'pg';
import { Device } from '../lib/client.mjs';
import { memoryOf, postgresBackendPids, resetPeakMemory } from '../lib/environment.mjs';
import { baselinePullSql } from '../lib/records.mjs';
import { median, msSince } from '../lib/stats.mjs';
import { largeFamily, liveCount } from './shared-family.mjs';

export async function firstPullScenario(ctx) {
  const family = await largeFamily(ctx);
  const reps = ctx.short ? 1 : 5;
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const sql = baselinePullSql();
  const http = [];
  const plain = [];
  const base = [];
  let bytes = 0;
  let wireBytes = 0;
  let baseBytes = 0;
  let memBefore;
  let peakReset = false;
  let pgPeak = { app: NaN, baseline: NaN, reset: false };
  let checked = 0;
  const wrong = []; // timed bodies that lacked records (or held others): a count for the correctness row
  try {
    // Warm-up (not measured) and the correctness check: the first pull holds every live record, as `created`.
    const warm = await new Device(ctx.app.baseUrl, family.user).pullRaw(null);
    if (warm.status !== 200) throw new Error(`pull answered ${warm.status}: ${warm.text.slice(0, 300)}`);
    checkFirstPull(warm.text, family);
    await client.query(sql, [family.user.familyId]);

    memBefore = await memoryOf(ctx.app.pid);
    peakReset = await resetPeakMemory(ctx.app.pid);
    const baselinePid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const appBackends = await postgresBackendPids(client);
    const pgResets = await Promise.all([baselinePid, ...appBackends].map((pid) => resetPeakMemory(pid)));
    pgPeak.reset = appBackends.length > 0 && pgResets.every(Boolean);

    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['gzip', 'identity', 'pg'] : ['pg', 'identity', 'gzip'];
      for (const which of order) {
        if (which !== 'pg') {
          const device = new Device(ctx.app.baseUrl, family.user); // a new installation: first sync
          const r = await device.pullRaw(null, undefined, { acceptEncoding: which });
          if (r.status !== 200) throw new Error(`pull answered ${r.status}: ${r.text.slice(0, 300)}`);
          if ((r.encoding ?? 'identity') !== which) throw new Error(`asked for ${which}, the pull came ${r.encoding}`);
          try {
            checkFirstPull(r.text, family); // after the clock: every timed body, not only the warm-up's
          } catch (error) {
            wrong.push(`${which}: ${error instanceof Error ? error.message : String(error)}`);
          }
          checked++;
          if (which === 'gzip') {
            wireBytes = r.wireBytes;
            http.push(r.ms);
          } else {
            bytes = Buffer.byteLength(r.text);
            plain.push(r.ms);
          }
        } else {
          const start = process.hrtime.bigint();
          const { rows } = await client.query(sql, [family.user.familyId]);
          base.push(msSince(start));
          baseBytes = Buffer.byteLength(rows[0].body);
        }
      }
    }
    if (pgPeak.reset) {
      // Backends opened during the pulls started from zero: their lifetime peak is a peak of the pulls too.
      const now = await postgresBackendPids(client);
      const peaks = await Promise.all(now.filter((pid) => pid !== baselinePid).map(async (pid) => (await memoryOf(pid)).peakMiB));
      pgPeak = { ...pgPeak, app: Math.max(...peaks.filter(Number.isFinite)), baseline: (await memoryOf(baselinePid)).peakMiB };
    }
  } finally {
    await client.end();
  }
  const memAfter = await memoryOf(ctx.app.pid);
  // Without a reset the kernel's mark is the lifetime peak (loading the family included): not a figure of the pulls.
  const appPeak = peakReset ? memAfter.peakMiB : NaN;
  const gzipMs = median(http);
  const plainMs = median(plain);
  const baseline = median(base);
  return {
    rows: [
      { scenario: `first pull, ${family.size} records (HTTP, body read)`, measured: plainMs, baseline, unit: 'ms', baselineLabel: 'pg: SELECT json_agg(...)', target: { kind: 'ratio', max: 2 } },
      // On loopback the bytes cost nothing, so this shows only what compressing and decoding add;
      // on a phone's link the 6× fewer bytes are most of a first sync's time (README, Performance).
      { scenario: 'first pull, gzip as a phone asks (decoded)', measured: gzipMs, baseline: plainMs, unit: 'ms', baselineLabel: 'the same pull plain', target: { kind: 'info' } },
      { scenario: 'first pull: response size, gzip on the wire', measured: wireBytes / 1024 / 1024, baseline: bytes / 1024 / 1024, unit: 'MiB', baselineLabel: 'plain JSON', target: { kind: 'info' } },
      { scenario: 'first pull: response size, plain', measured: bytes / 1024 / 1024, baseline: baseBytes / 1024 / 1024, unit: 'MiB', baselineLabel: 'pg json text', target: { kind: 'info' } },
      {
        scenario: 'first pull bodies holding every live record',
        measured: wrong.length,
        baseline: checked,
        unit: 'wrong',
        baselineUnit: 'pulls',
        baselineLabel: 'checked, plain and gzip',
        target: { kind: 'zero' },
        correctness: true,
        integer: true,
      },
      {
        scenario: 'first pull: app peak memory (VmHWM)',
        measured: appPeak,
        baseline: peakReset ? memBefore.rssMiB : NaN,
        unit: 'MiB',
        baselineLabel: peakReset ? 'app RSS before the pulls' : 'n/a: the peak mark could not be reset',
        target: { kind: 'info' },
      },
      {
        scenario: 'first pull: PostgreSQL backend peak (VmHWM)',
        measured: pgPeak.app,
        baseline: pgPeak.baseline,
        unit: 'MiB',
        baselineLabel: pgPeak.reset ? 'backend of the pg baseline' : 'n/a: server processes not readable here',
        target: { kind: 'info' },
      },
    ],
    data: {
      records: family.size,
      live_records: liveCount(family.ids),
      load_ms: family.loadMs,
      repetitions: reps,
      bodies_checked: checked,
      bodies_wrong: wrong.length,
      wrong_samples: wrong.slice(0, 5),
      http_ms: http,
      http_plain_ms: plain,
      baseline_ms: base,
      response_bytes: bytes,
      response_wire_bytes_gzip: wireBytes,
      baseline_bytes: baseBytes,
      app_rss_before_mib: memBefore?.rssMiB,
      app_peak_mib: appPeak,
      peak_reset_before_pulls: peakReset,
      postgres_backend_peak_mib: pgPeak,
      records_per_s: (liveCount(family.ids) / plainMs) * 1000,
    },
  };
}

/** The first pull carries every live record of the family (same ids), all as `created`, nothing else. */
function checkFirstPull(text, family) {
  const body = JSON.parse(text);
  for (const [table, ids] of Object.entries(family.ids)) {
    const changes = body.changes[table];
    if (!changes) throw new Error(`first pull has no ${table}`);
    if (changes.updated.length || changes.deleted.length) throw new Error(`first pull has updated/deleted ${table}`);
    const got = new Set(changes.created.map((r) => r.id));
    const missing = [...ids].filter((id) => !got.has(id)).length;
    const extra = [...got].filter((id) => !ids.has(id)).length;
    if (missing || extra || got.size !== changes.created.length) {
      throw new Error(`first pull of ${table}: ${missing} missing, ${extra} unexpected, ${changes.created.length - got.size} duplicate ids`);
    }
  }
}
