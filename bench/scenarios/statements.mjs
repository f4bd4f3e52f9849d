// 4. Statements per sync request, counted on the wire: the counting app (a
//    second instance of the built app) reaches PostgreSQL through the bench's
//    counting proxy, which counts every Query and Execute message it sends for
//    one HTTP request (the family guard's lookup and BEGIN/COMMIT included).
//    Per size n: a push of n new records, a first pull of them, a push of n
//    mixed changes (creates, updates, deletes) and the incremental pull of those
//    n changes by another device. The count must not depend on n.
//    Where pg_stat_statements is loaded (the embedded server), it cross-checks
//    every count; PostgreSQL's own per-row foreign-key checks are reported apart.
import pg from 'pg';
import { Device, register } from '../lib/client.mjs';
import { countRecords, makeChanges, makeMixedChanges } from '../lib/records.mjs';

const KINDS = [
  ['push', 'push of {n} new records'],
  ['pull', 'first pull of {n} records'],
  ['push_mixed', 'push of {n} creates/updates/deletes'],
  ['pull_incremental', 'incremental pull of {n} changes'],
];

export async function statementsScenario(ctx) {
  const sizes = ctx.sizes.statements;
  const { app, proxy } = await ctx.countingApp();
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const pgss = ctx.db.statementCounting ? await pgStatStatements(client) : null;

  // Nothing else talks to the database through the proxy: an idle window counts 0.
  const idleBefore = proxy.statements();
  await new Promise((r) => setTimeout(r, 200));
  if (proxy.statements() !== idleBefore) throw new Error('the counting app sends statements while idle: counts would be noisy');

  const counted = async (work) => {
    const s0 = pgss ? await pgss.read() : null;
    const before = proxy.statements();
    const result = await work();
    const wire = proxy.statements() - before;
    const s1 = pgss ? await pgss.read() : null;
    return { wire, pgss: pgss ? s1.app - s0.app - pgss.overhead : null, ri: pgss ? s1.ri - s0.ri : null, result };
  };

  const results = [];
  const crossCheck = [];
  let familiesMe;
  try {
    {
      // What the many-devices baseline request costs the database, for reference.
      const user = await register(app.baseUrl);
      const device = new Device(app.baseUrl, user);
      await device.get('/api/v1/families/me');
      familiesMe = (await counted(() => device.get('/api/v1/families/me'))).wire;
    }
    for (const n of sizes) {
      const user = await register(app.baseUrl);
      const writer = new Device(app.baseUrl, user);
      const reader = new Device(app.baseUrl, user);
      const created = makeChanges(n, user.familyId, { withFamilyRow: true });
      const cursor0 = (await writer.pull(null)).body.timestamp;
      const push = await counted(() => writer.push(cursor0, created));
      const pull = await counted(() => reader.pull(null));
      const got = changeCount(pull.result.body);
      if (got !== n) throw new Error(`first pull of ${n} returned ${got} records`);

      const mixed = makeMixedChanges(created, user.familyId);
      if (countRecords(mixed) !== n) throw new Error(`mixed push has ${countRecords(mixed)} changes, wanted ${n}`);
      const cursor1 = (await writer.pull(cursor0)).body.timestamp;
      const pushMixed = await counted(() => writer.push(cursor1, mixed));
      const incremental = await counted(() => reader.pull(pull.result.body.timestamp));
      const inc = changeCount(incremental.result.body);
      if (inc !== n) throw new Error(`incremental pull after a mixed push of ${n} returned ${inc} changes`);

      const row = { records: n };
      for (const [kind, m] of [['push', push], ['pull', pull], ['push_mixed', pushMixed], ['pull_incremental', incremental]]) {
        row[kind] = m.wire;
        if (pgss) {
          row[`${kind}_pg_stat_statements`] = m.pgss;
          row[`${kind}_ri_checks`] = m.ri;
          if (m.pgss !== m.wire) crossCheck.push(`${kind} of ${n}: wire ${m.wire}, pg_stat_statements ${m.pgss}`);
        }
      }
      results.push(row);
    }
  } finally {
    await client.end();
  }
  const rows = [];
  const first = results[0];
  for (const [kind, label] of KINDS) {
    for (const r of results) {
      rows.push({
        scenario: `statements: ${label.replace('{n}', r.records.toLocaleString('en-US'))}`,
        measured: r[kind],
        baseline: first[kind],
        unit: 'stmts',
        baselineLabel: `n = ${first.records}`,
        target: { kind: 'equal' },
        correctness: true, // size-independent: enforced in every mode
        integer: true,
      });
    }
  }
  rows.push({
    scenario: 'statements: GET /families/me (devices baseline)',
    measured: familiesMe,
    baseline: NaN,
    unit: 'stmts',
    baselineLabel: '',
    target: { kind: 'info' },
    integer: true,
  });
  if (pgss) {
    rows.push({
      scenario: 'statements: wire count vs pg_stat_statements',
      measured: crossCheck.length,
      baseline: results.length * KINDS.length,
      unit: 'differ',
      baselineUnit: 'counts',
      baselineLabel: 'compared',
      target: { kind: 'zero' },
      correctness: true,
      integer: true,
    });
  }
  return {
    rows,
    data: {
      method:
        'Query + Execute messages the app sent through the counting proxy for one HTTP request (family guard lookup and BEGIN/COMMIT included); ' +
        (pgss ? 'cross-checked against pg_stat_statements (sum(calls) delta); PostgreSQL-internal per-row FK checks reported apart as *_ri_checks' : 'pg_stat_statements not loaded on this server: no cross-check'),
      results,
      families_me: familiesMe,
      cross_check_differences: crossCheck,
    },
  };
}

function changeCount(body) {
  return Object.values(body.changes).reduce((n, t) => n + t.created.length + t.updated.length + t.deleted.length, 0);
}

/**
 * pg_stat_statements deltas for the bench database. PostgreSQL runs a referential-integrity
 * check per inserted row for the deferred foreign key blood_test_results.blood_test_id, at
 * COMMIT, where pg_stat_statements records it as top-level: not a statement the app sends.
 */
async function pgStatStatements(client) {
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
  return { read, overhead };
}
