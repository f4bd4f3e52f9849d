// 3. Incremental pull: 10 changes in a family of N records, `pulls` sequential
//    pulls by another device, each body checked to hold exactly those 10 changes.
//    Baselines: the same changes read as JSON with one statement through pg (the
//    ratio is what HTTP, auth and the snapshot transaction add), and an
//    authenticated family-scoped GET of the same app (GET /families/me: same
//    guards, 4 small statements), the framework floor.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Device } from '../lib/client.mjs';
import { baselineIncrementalSql, familyRow, makeRecord } from '../lib/records.mjs';
import { msSince, percentile } from '../lib/stats.mjs';
import { applyToIds, largeFamily, liveCount } from './shared-family.mjs';

export async function incrementalPullScenario(ctx) {
  const family = await largeFamily(ctx);
  const pulls = ctx.sizes.pulls;
  const fam = family.user.familyId;
  // 10 changes from the writer device: 3 new records, 4 updates, 2 deletions, the family row.
  const cursor = family.cursor;
  const pick = (table, n) => [...family.ids[table]].slice(0, n);
  const [t0, t1] = pick('transfusions', 2);
  const [r0, r1] = pick('reminders', 2);
  const [d0, d1] = pick('documents', 2);
  const upd = (table, id, k) => ({ ...makeRecord(table, fam, 900_000 + k), id, _status: 'updated' });
  const changes = {
    families: { created: [], updated: [{ ...familyRow(fam, 7), _status: 'updated' }], deleted: [] },
    transfusions: { created: [makeRecord('transfusions', fam, 1)], updated: [upd('transfusions', t0, 0), upd('transfusions', t1, 1)], deleted: [] },
    reminders: { created: [makeRecord('reminders', fam, 2)], updated: [upd('reminders', r0, 2)], deleted: [r1] },
    analysis_templates: { created: [makeRecord('analysis_templates', fam, 3)], updated: [], deleted: [] },
    documents: { created: [], updated: [upd('documents', d0, 3)], deleted: [d1] },
  };
  // The reader is a phone that synced before the changes: its cursor is one the server answered it
  // with (a cursor an installation was never answered is replaced, not pulled incrementally).
  const reader = new Device(ctx.app.baseUrl, family.user, randomUUID());
  const synced = (await reader.pull(null)).body.timestamp;
  if (synced !== cursor) throw new Error(`the reader's first sync answered ${synced}, expected the family's ${cursor}`);
  const pushed = await family.writer.push(cursor, changes);
  family.cursor = pushed.timestamp;
  applyToIds(family.ids, changes);

  // What every pull from `cursor` must hold, as another device sees it.
  const expected = {};
  for (const [table, c] of Object.entries(changes)) {
    expected[table] = { created: ids(c.created), updated: ids(c.updated), deleted: [...c.deleted].sort() };
  }
  const check = (text, which) => {
    const body = JSON.parse(text);
    for (const table of Object.keys(expected)) if (!body.changes[table]) throw new Error(`${which}: no ${table} in the body`);
    for (const [table, c] of Object.entries(body.changes)) {
      const want = expected[table] ?? { created: [], updated: [], deleted: [] };
      const got = { created: ids(c.created), updated: ids(c.updated), deleted: [...c.deleted].sort() };
      for (const kind of ['created', 'updated', 'deleted']) {
        if (got[kind].join() !== want[kind].join()) {
          throw new Error(`${which}: ${table}.${kind} holds ${got[kind].length} ids, expected ${want[kind].length} (${want[kind].join(', ')})`);
        }
      }
    }
    if (body.timestamp !== pushed.timestamp) throw new Error(`${which}: timestamp ${body.timestamp}, expected ${pushed.timestamp}`);
  };

  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const sql = baselineIncrementalSql();
  const pullMs = [];
  const floorMs = [];
  const pgMs = [];
  let checked = 0;
  const wrong = []; // what was wrong with each body that lacked the 10 changes (the row's figure: a count, not a crash)
  try {
    for (let i = 0; i < Math.min(20, pulls); i++) {
      // warm-up
      check((await reader.pullRaw(cursor)).text, 'warm-up pull');
      await reader.get('/api/v1/families/me');
      await client.query(sql, [fam, cursor]);
    }
    for (let i = 0; i < pulls; i++) {
      const r = await reader.pullRaw(cursor);
      if (r.status !== 200) throw new Error(`pull answered ${r.status}`);
      pullMs.push(r.ms);
      try {
        check(r.text, `pull ${i + 1}`); // after the clock: parsing is the client's work
      } catch (error) {
        wrong.push(error instanceof Error ? error.message : String(error));
      }
      checked++;
      floorMs.push((await reader.get('/api/v1/families/me')).ms);
      const start = process.hrtime.bigint();
      await client.query(sql, [fam, cursor]);
      pgMs.push(msSince(start));
    }
  } finally {
    await client.end();
  }
  const p50 = percentile(pullMs, 50);
  const p99 = percentile(pullMs, 99);
  const size = liveCount(family.ids);
  return {
    rows: [
      { scenario: `incremental pull p50 (10 changes in ${size})`, measured: p50, baseline: percentile(pgMs, 50), unit: 'ms', baselineLabel: 'pg: same changes as JSON, p50', target: { kind: 'abs', max: 15 } },
      { scenario: 'incremental pull p99', measured: p99, baseline: percentile(pgMs, 99), unit: 'ms', baselineLabel: 'pg: same changes as JSON, p99', target: { kind: 'info' } },
      { scenario: 'incremental pull p50 vs the framework floor', measured: p50, baseline: percentile(floorMs, 50), unit: 'ms', baselineLabel: 'GET /families/me p50', target: { kind: 'info' } },
      { scenario: 'incremental pull bodies holding the 10 changes', measured: wrong.length, baseline: checked, unit: 'wrong', baselineUnit: 'pulls', baselineLabel: 'checked', target: { kind: 'zero' }, correctness: true, integer: true },
    ],
    data: {
      records: size,
      pulls,
      bodies_checked: checked,
      bodies_wrong: wrong.length,
      wrong_samples: wrong.slice(0, 5),
      pull_p50_ms: p50,
      pull_p99_ms: p99,
      families_me_p50_ms: percentile(floorMs, 50),
      families_me_p99_ms: percentile(floorMs, 99),
      pg_json_p50_ms: percentile(pgMs, 50),
      pg_json_p99_ms: percentile(pgMs, 99),
    },
  };
}

const ids = (records) => records.map((r) => r.id).sort();
