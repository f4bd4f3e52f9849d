// 3. Incremental pull: 10 changes in a family of N records, 200 sequential pulls
//    by another device. Baseline: an authenticated family-scoped GET of the same
//    app (GET /families/me: same guards, one small query) — the framework floor —
//    and, for reference, the same changes read as JSON through pg.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Device } from '../lib/client.mjs';
import { baselineIncrementalSql, familyRow, makeRecord } from '../lib/records.mjs';
import { msSince, percentile } from '../lib/stats.mjs';
import { largeFamily } from './shared-family.mjs';

export async function incrementalPullScenario(ctx) {
  const family = await largeFamily(ctx);
  const pulls = ctx.sizes.pulls;
  const fam = family.user.familyId;
  // 10 changes from the writer device: 3 new records, 4 updates, 2 deletions, the family row.
  const cursor = family.cursor;
  const ids = family.ids;
  const upd = (table, k) => ({ ...makeRecord(table, fam, 900_000 + k), id: ids[table][k], _status: 'updated' });
  const changes = {
    families: { created: [], updated: [{ ...familyRow(fam, 7), _status: 'updated' }], deleted: [] },
    transfusions: { created: [makeRecord('transfusions', fam, 1)], updated: [upd('transfusions', 0), upd('transfusions', 1)], deleted: [] },
    reminders: { created: [makeRecord('reminders', fam, 2)], updated: [upd('reminders', 0)], deleted: [ids.reminders[1]] },
    analysis_templates: { created: [makeRecord('analysis_templates', fam, 3)], updated: [], deleted: [] },
    documents: { created: [], updated: [upd('documents', 0)], deleted: [ids.documents[1]] },
  };
  const pushed = await family.writer.push(cursor, changes);
  family.cursor = pushed.timestamp;

  const reader = new Device(ctx.app.baseUrl, family.user, randomUUID());
  const first = await reader.pull(cursor);
  const got = Object.values(first.body.changes).reduce((n, t) => n + t.created.length + t.updated.length + t.deleted.length, 0);
  if (got !== 10) throw new Error(`incremental pull returned ${got} changes, expected 10`);

  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  const sql = baselineIncrementalSql();
  const pullMs = [];
  const floorMs = [];
  const pgMs = [];
  try {
    for (let i = 0; i < Math.min(20, pulls); i++) {
      // warm-up
      await reader.pull(cursor);
      await reader.get('/api/v1/families/me');
    }
    for (let i = 0; i < pulls; i++) {
      const r = await reader.pullRaw(cursor);
      if (r.status !== 200) throw new Error(`pull answered ${r.status}`);
      pullMs.push(r.ms);
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
  return {
    rows: [
      { scenario: `incremental pull p50 (10 changes in ${family.size})`, measured: p50, baseline: percentile(floorMs, 50), unit: 'ms', baselineLabel: 'GET /families/me p50', target: { kind: 'abs', max: 15 } },
      { scenario: 'incremental pull p99', measured: p99, baseline: percentile(floorMs, 99), unit: 'ms', baselineLabel: 'GET /families/me p99', target: { kind: 'info' } },
    ],
    data: {
      records: family.size,
      pulls,
      pull_p50_ms: p50,
      pull_p99_ms: p99,
      families_me_p50_ms: percentile(floorMs, 50),
      families_me_p99_ms: percentile(floorMs, 99),
      pg_json_p50_ms: percentile(pgMs, 50),
      pg_json_p99_ms: percentile(pgMs, 99),
    },
  };
}
