// 1. One push of N mixed records over HTTP (the JSON body serialised inside the
//    clock) vs. two baselines through pg, each in one transaction, on a family
//    of its own in the same state:
//    - the same rows written with one multi-row INSERT per table (server columns
//      filled) and one UPDATE of the families row: what PostgreSQL needs to store them;
//    - the app's own statements for that push (recorded on the wire by the
//      counting proxy while the app's COMMIT was held back, then replayed in the
//      same round trips, batched and prepared as the app sent them): the ratio is
//      what HTTP, Nest, authentication and validation add to the app's SQL.
import pg from 'pg';
import { Device, register } from '../lib/client.mjs';
import { StatementBatch } from '../../dist/src/database/statement-batch.js';
import { heldTransaction } from '../lib/pg-counter.mjs';
import { baselineStatements, countRecords, DATA_TABLES, makeChanges } from '../lib/records.mjs';
import { median, msSince } from '../lib/stats.mjs';

export async function pushScenario(ctx) {
  const n = ctx.sizes.push;
  const reps = ctx.short ? 1 : 5;
  const counting = await ctx.countingApp();
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const http = [];
  const base = [];
  const appSql = [];
  let bytes = 0;
  let appStatements = 0;
  let appRoundTrips = 0;
  // Every path, warm-up included, must have stored the n records it was timed for.
  const storage = { expected: 0, missing: 0, samples: [] };
  const verify = async (which, familyId, changes) => {
    const missing = await notStored(client, familyId, changes);
    storage.expected += n;
    storage.missing += missing.length;
    if (missing.length && storage.samples.length < 5) storage.samples.push(`${which}: ${missing.length} not stored, e.g. ${missing[0]}`);
  };
  const prepare = async (baseUrl) => {
    const user = await register(baseUrl);
    const device = new Device(baseUrl, user);
    const changes = makeChanges(n, user.familyId, { withFamilyRow: true });
    if (countRecords(changes) !== n) throw new Error(`generator made ${countRecords(changes)} records, wanted ${n}`);
    const cursor = (await device.pull(null)).body.timestamp;
    return { user, device, changes, cursor };
  };
  try {
    // A warm-up of each path (first-use JIT and plan caches), not measured.
    for (let rep = -1; rep < reps; rep++) {
      const paths = ['http', 'pg', 'app-sql'];
      const order = rep % 2 === 0 ? paths : paths.reverse();
      for (const which of order) {
        if (which === 'http') {
          const { user, device, changes, cursor } = await prepare(ctx.app.baseUrl);
          const start = process.hrtime.bigint();
          const r = await device.pushRaw(cursor, { changes }, start); // JSON.stringify inside the clock
          if (r.status !== 200) throw new Error(`push answered ${r.status}: ${r.text.slice(0, 300)}`);
          await verify('HTTP push', user.familyId, changes);
          bytes = Buffer.byteLength(JSON.stringify({ changes }));
          if (rep >= 0) http.push(r.ms);
        } else if (which === 'pg') {
          const { user, device, changes } = await prepare(ctx.app.baseUrl);
          // Built inside the clock too: the pg path's equivalent of serialising the body.
          const start = process.hrtime.bigint();
          const statements = baselineStatements(changes, { familyId: user.familyId, userId: user.userId, deviceId: device.deviceId, version: Date.now() });
          await client.query('BEGIN');
          for (const s of statements) await client.query(s);
          await client.query('COMMIT');
          if (rep >= 0) base.push(msSince(start));
          await verify('pg INSERTs', user.familyId, changes);
        } else {
          const { user, device, changes, cursor } = await prepare(counting.app.baseUrl);
          counting.proxy.holdCommits = true;
          const stop = counting.proxy.record();
          let r;
          try {
            r = await device.pushRaw(cursor, { changes });
          } finally {
            counting.proxy.holdCommits = false;
          }
          const transaction = heldTransaction(stop());
          if (r.status !== 200) throw new Error(`push (recorded) answered ${r.status}: ${r.text.slice(0, 300)}`);
          appStatements = transaction.reduce((n, trip) => n + (trip.batch?.length ?? 1), 0);
          appRoundTrips = transaction.length;
          const start = process.hrtime.bigint();
          for (const trip of transaction) {
            if (!trip.batch) await client.query(trip.text);
            else await new Promise((resolve, reject) => client.query(new StatementBatch(trip.batch, (error) => (error ? reject(error) : resolve()))));
          }
          if (rep >= 0) appSql.push(msSince(start));
          await verify("the app's SQL replayed", user.familyId, changes);
        }
      }
    }
  } finally {
    counting.proxy.holdCommits = false;
    await client.end();
  }
  const measured = median(http);
  return {
    rows: [
      { scenario: `push ${n} mixed records (1 HTTP push)`, measured, baseline: median(base), unit: 'ms', baselineLabel: 'pg: multi-row INSERT per table', target: { kind: 'ratio', max: 2.5 } },
      {
        scenario: `push ${n}: records not stored (every push and baseline)`,
        measured: storage.missing,
        baseline: storage.expected,
        unit: 'records',
        baselineUnit: 'records',
        baselineLabel: 'pushed',
        target: { kind: 'zero' },
        correctness: true,
        integer: true,
      },
      {
        scenario: `push ${n}: vs the app's own SQL`,
        measured,
        baseline: median(appSql),
        unit: 'ms',
        baselineLabel: `pg: the app's ${appStatements} statements in its ${appRoundTrips} round trips, replayed`,
        target: { kind: 'info' },
      },
    ],
    data: {
      records: n,
      repetitions: reps,
      request_bytes: bytes,
      http_ms: http,
      baseline_ms: base,
      app_sql_ms: appSql,
      app_sql_statements: appStatements,
      app_sql_round_trips: appRoundTrips,
      records_checked: storage.expected,
      records_not_stored: storage.missing,
      not_stored_samples: storage.samples,
      http_median_ms: measured,
      baseline_median_ms: median(base),
      app_sql_median_ms: median(appSql),
      records_per_s: (n / measured) * 1000,
    },
  };
}

/** The pushed records (as `table id` strings) the database does not hold live in the family, with the families row's pushed notes. */
async function notStored(client, familyId, changes) {
  const missing = [];
  for (const table of DATA_TABLES) {
    const ids = changes[table]?.created.map((r) => r.id) ?? [];
    if (!ids.length) continue;
    const { rows } = await client.query(`SELECT id FROM "${table}" WHERE id = ANY($1::uuid[]) AND family_id = $2 AND deleted_at IS NULL`, [ids, familyId]);
    const found = new Set(rows.map((r) => r.id));
    for (const id of ids) if (!found.has(id)) missing.push(`${table} ${id}`);
  }
  const family = changes.families?.updated?.[0];
  if (family) {
    const { rows } = await client.query('SELECT notes FROM families WHERE id = $1', [familyId]);
    if (rows[0]?.notes !== family.notes) missing.push(`families ${familyId} (notes not the pushed ones)`);
  }
  return missing;
}
