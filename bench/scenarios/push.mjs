// 1. One push of N mixed records over HTTP vs. the same rows written with one
//    multi-row INSERT per table through pg (server columns filled), one transaction.
import pg from 'pg';
import { Device, register } from '../lib/client.mjs';
import { baselineStatements, countRecords, makeChanges } from '../lib/records.mjs';
import { median, msSince } from '../lib/stats.mjs';

export async function pushScenario(ctx) {
  const n = ctx.sizes.push;
  const reps = ctx.short ? 1 : 5;
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const http = [];
  const base = [];
  let bytes = 0;
  try {
    // A warm-up of each path (first-use JIT and plan caches), not measured.
    for (let rep = -1; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['http', 'pg'] : ['pg', 'http'];
      for (const which of order) {
        const user = await register(ctx.app.baseUrl);
        const device = new Device(ctx.app.baseUrl, user);
        const changes = makeChanges(n, user.familyId, { withFamilyRow: true });
        if (countRecords(changes) !== n) throw new Error(`generator made ${countRecords(changes)} records, wanted ${n}`);
        if (which === 'http') {
          const cursor = (await device.pull(null)).body.timestamp;
          const body = JSON.stringify({ changes }); // serialised before the clock starts, like the pg parameters
          bytes = Buffer.byteLength(body);
          const r = await device.pushRaw(cursor, body);
          if (r.status !== 200) throw new Error(`push answered ${r.status}: ${r.text.slice(0, 300)}`);
          if (rep >= 0) http.push(r.ms);
        } else {
          const statements = baselineStatements(changes, { familyId: user.familyId, userId: user.userId, deviceId: device.deviceId, version: Date.now() });
          const start = process.hrtime.bigint();
          await client.query('BEGIN');
          for (const s of statements) await client.query(s);
          await client.query('COMMIT');
          if (rep >= 0) base.push(msSince(start));
        }
      }
    }
  } finally {
    await client.end();
  }
  const measured = median(http);
  const baseline = median(base);
  return {
    rows: [{ scenario: `push ${n} mixed records (1 HTTP push)`, measured, baseline, unit: 'ms', baselineLabel: 'pg: multi-row INSERT per table', target: { kind: 'ratio', max: 2.5 } }],
    data: { records: n, repetitions: reps, request_bytes: bytes, http_ms: http, baseline_ms: base, http_median_ms: measured, baseline_median_ms: baseline, records_per_s: (n / measured) * 1000 },
  };
}
