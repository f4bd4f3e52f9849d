// 4. Statements per sync, counted by PostgreSQL itself (pg_stat_statements:
//    every statement the app sends, BEGIN/COMMIT included): a push of N new
//    records and a first pull of a family holding those N records.
import pg from 'pg';
import { Device, register } from '../lib/client.mjs';
import { makeChanges } from '../lib/records.mjs';

export async function statementsScenario(ctx) {
  const sizes = ctx.sizes.statements;
  if (!ctx.db.statementCounting) {
    return {
      rows: [{ scenario: 'statements per sync', measured: NaN, baseline: NaN, unit: 'stmts', baselineLabel: 'n/a: pg_stat_statements not preloaded on this server', target: { kind: 'info' } }],
      data: { skipped: 'pg_stat_statements is not loaded (shared_preload_libraries) on the DATABASE_URL server' },
    };
  }
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  // PostgreSQL runs a referential-integrity check per inserted row for the deferred foreign key
  // blood_test_results.blood_test_id, at COMMIT, where pg_stat_statements records it as top-level.
  // Those are not statements the app sends (the baseline INSERT triggers the same ones): counted apart.
  const read = async () => {
    const { rows } = await client.query(
      `SELECT coalesce(sum(calls) FILTER (WHERE NOT ri), 0)::bigint AS app, coalesce(sum(calls) FILTER (WHERE ri), 0)::bigint AS ri
         FROM (SELECT calls, query ~ '^SELECT \\S+ FROM ONLY "[^"]+"\\."[^"]+" x WHERE .* FOR KEY SHARE OF x$' AS ri
                 FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) s`,
    );
    return { app: Number(rows[0].app), ri: Number(rows[0].ri) };
  };
  // Each reading is itself counted by the next one: measure that overhead rather than assume it.
  const r1 = await read();
  const r2 = await read();
  const r3 = await read();
  const overhead = r3.app - r2.app;
  if (r2.app - r1.app !== overhead) throw new Error('pg_stat_statements counts are not stable between readings');
  const counted = async (work) => {
    const before = await read();
    await work();
    const after = await read();
    return { app: after.app - before.app - overhead, ri: after.ri - before.ri };
  };
  const results = [];
  try {
    for (const n of sizes) {
      const user = await register(ctx.app.baseUrl);
      const writer = new Device(ctx.app.baseUrl, user);
      const cursor = (await writer.pull(null)).body.timestamp;
      const changes = makeChanges(n, user.familyId, { withFamilyRow: true });
      const push = await counted(() => writer.push(cursor, changes));
      const reader = new Device(ctx.app.baseUrl, user);
      const pull = await counted(() => reader.pull(null));
      results.push({ records: n, push: push.app, pull: pull.app, push_ri_checks: push.ri, pull_ri_checks: pull.ri });
    }
  } finally {
    await client.end();
  }
  const rows = [];
  const first = results[0];
  for (const r of results) {
    rows.push({ scenario: `statements: push of ${r.records}`, measured: r.push, baseline: first.push, unit: 'stmts', baselineLabel: `push of ${first.records}`, target: { kind: 'equal' } });
  }
  for (const r of results) {
    rows.push({ scenario: `statements: pull of ${r.records}`, measured: r.pull, baseline: first.pull, unit: 'stmts', baselineLabel: `pull of ${first.records}`, target: { kind: 'equal' } });
  }
  return {
    rows,
    data: {
      method: 'pg_stat_statements sum(calls) delta per HTTP request (auth lookup, BEGIN/COMMIT included); PostgreSQL-internal per-row FK checks reported apart as *_ri_checks',
      results,
    },
  };
}
