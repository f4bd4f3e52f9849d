// 5. Many devices: D devices in F families, each a closed loop of
//    pull → push(5 changes) → pull for S seconds, all D at once (by default
//    nothing caps the requests in flight; every latency is timed from when the
//    device issued the request). A push creates a blood test with one result
//    and a transfusion, edits a record (half the time one the whole family
//    shares: the families row or one of 3 shared reminders; otherwise one of
//    the family's transfusions or blood tests) and deletes one of the family's
//    transfusions or blood tests (a deleted test takes its results with it).
//    Devices race on the same records: a 409 is answered the way WatermelonDB
//    does (pull, keep the local edits on top, drop those of records deleted
//    meanwhile, push again) and counted apart from errors.
//
//    Baseline: the same D closed loops against an authenticated endpoint that
//    does almost nothing (GET /api/v1/families/me: same HTTP stack, same guards,
//    same connection pool, 4 small statements: the statements scenario counts them), in the same run, just before.
//    The ratio of requests/s is the share of the app's request capacity a sync
//    request leaves, i.e. it isolates the cost of the sync work itself.
//
//    At the end every device syncs once more, then:
//    - the database must hold, row by row and column by column, what replaying
//      every acknowledged push in version order gives (stamps included);
//    - every device's local records must equal the database's live rows of its family.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as syncSchema from '../../dist/src/modules/sync/sync-schema.js';
import { Device, inviteCode, register } from '../lib/client.mjs';
import { makeRecord } from '../lib/records.mjs';
import { pushedColumns, replay, SPEC, TABLES } from '../lib/replay.mjs';
import { msSince, percentile } from '../lib/stats.mjs';

const { isJsonColumn, SYNC_TABLES } = syncSchema;
const MAX_PUSH_ATTEMPTS = 20;
const HOT_REMINDERS = 3;

class Semaphore {
  constructor(limit) {
    this.free = limit;
    this.waiting = [];
  }
  async run(work) {
    if (this.free > 0) this.free--;
    else await new Promise((r) => this.waiting.push(r));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ── Values as compared: JSON columns by meaning (the server re-serializes them compact), undefined = null.
const jsonColumns = new Map(SYNC_TABLES.map((s) => [s.name, new Set(s.columns.filter((c) => isJsonColumn(c)).map((c) => c.name))]));
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value ?? null);
}
function norm(table, column, value) {
  if (value === undefined || value === null) return 'null';
  if (jsonColumns.get(table).has(column)) return canonical(typeof value === 'string' ? JSON.parse(value) : value);
  return canonical(value);
}
/** Column names whose values differ between two records of `table`. */
function diff(table, columns, a, b) {
  return columns.filter((c) => norm(table, c, a[c]) !== norm(table, c, b[c]));
}
const wireColumns = (table) => ['id', ...(table === 'families' ? [] : ['family_id']), ...SPEC.get(table).columns.map((c) => c.name)];

export async function devicesScenario(ctx) {
  const { devices: deviceCount, families: familyCount, seconds } = ctx.sizes;
  const concurrency = ctx.sizes.concurrency ?? deviceCount;
  const baseUrl = ctx.app.baseUrl;

  // Families: an owner and (with 2+ devices per family) a member who joined by invite code,
  // and a few reminders every device of the family will edit.
  const families = await mapLimit(Array.from({ length: familyCount }, (_, i) => i), 4, async () => {
    const owner = await register(baseUrl);
    const users = [owner];
    if (deviceCount / familyCount >= 2) users.push(await register(baseUrl, await inviteCode(baseUrl, owner.token)));
    const family = { id: owner.familyId, users, acks: [], ambiguous: 0 };
    const setup = new Device(baseUrl, owner);
    const { timestamp } = (await setup.pull(null)).body;
    const hot = Array.from({ length: HOT_REMINDERS }, (_, k) => wire('reminders', makeRecord('reminders', family.id, k)));
    const changes = { reminders: { created: hot, updated: [], deleted: [] } };
    const ack = await setup.push(timestamp, withStatus(changes));
    family.acks.push({ version: ack.timestamp, userId: owner.userId, deviceId: setup.deviceId, changes });
    family.hot = [['families', family.id], ...hot.map((r) => ['reminders', r.id])];
    return family;
  });
  const devices = Array.from({ length: deviceCount }, (_, i) => {
    const family = families[i % familyCount];
    const user = family.users[Math.floor(i / familyCount) % family.users.length];
    const device = new Device(baseUrl, user, randomUUID());
    device.family = family;
    device.cursor = null;
    device.local = Object.fromEntries(TABLES.map((t) => [t, new Map()]));
    device.pending = null;
    device.seq = 0;
    return device;
  });

  const gate = new Semaphore(concurrency);
  const errorSamples = [];

  // ── Baseline: the same closed loops on GET /families/me.
  const floor = { requests: 0, inWindow: 0, errors: 0, latency: [] };
  await mapLimit(devices, 32, (d) => d.get('/api/v1/families/me')); // warm-up, not measured
  {
    const started = process.hrtime.bigint();
    const deadline = Date.now() + seconds * 1000;
    await Promise.all(
      devices.map(async (device) => {
        while (Date.now() < deadline) {
          const start = process.hrtime.bigint();
          const r = await gate.run(() => device.get('/api/v1/families/me', start).catch((e) => ({ status: 0, ms: msSince(start), error: e })));
          floor.requests++;
          if (Date.now() <= deadline) floor.inWindow++;
          if (r.status === 200) floor.latency.push(r.ms);
          else {
            floor.errors++;
            if (errorSamples.length < 10) errorSamples.push(`GET /families/me: ${r.error ?? r.status}`);
          }
        }
      }),
    );
    floor.elapsedMs = msSince(started);
  }

  // ── The sync loops. Throughput counts the requests completed within the S seconds; the cycles
  // under way at the deadline still finish (for the end check) and their latencies count.
  let deadline = Infinity;
  const latency = { pull: [], push: [] };
  const counts = { requests: 0, requests_in_window: 0, pulls: 0, pushes: 0, pushes_acknowledged: 0, conflicts: 0, errors: 0, resets: 0, cycles: 0, records_pushed: 0, pending_dropped: 0, final_sync_pulls: 0 };
  const attemptsHistogram = {};
  const fail = (what) => {
    counts.errors++;
    if (errorSamples.length < 10) errorSamples.push(what);
  };
  /** After an error the device cannot know its state: it starts over from a full pull (its unpushed edits are lost). */
  const reset = (device) => {
    counts.resets++;
    device.pending = null;
    device.cursor = null;
    for (const t of TABLES) device.local[t].clear();
  };

  const applyPull = (device, body) => {
    const pending = device.pending;
    for (const [table, c] of Object.entries(body.changes)) {
      const local = device.local[table];
      for (const rec of [...c.created, ...c.updated]) {
        const key = `${table}:${rec.id}`;
        if (pending?.deletes.has(key)) continue; // deleted here, not pushed yet: stays deleted, the push says so
        const edit = pending?.updates.get(key);
        local.set(rec.id, edit ? { ...rec, ...edit.fields } : rec); // local edits stay on top
      }
      for (const id of c.deleted) {
        local.delete(id);
        const key = `${table}:${id}`;
        // Deleted on the server: an unpushed edit or deletion of it has nothing left to apply to.
        if (pending?.updates.delete(key)) counts.pending_dropped++;
        if (pending?.deletes.delete(key)) counts.pending_dropped++;
      }
    }
    device.cursor = body.timestamp;
  };

  /** `load`: a pull of the loops (counted and timed); the end check's last sync is not one (other load, after the run). */
  const pull = async (device, { load = true } = {}) => {
    const start = process.hrtime.bigint();
    const r = await gate.run(() => device.pullRaw(device.cursor, start).catch((e) => ({ status: 0, ms: msSince(start), text: String(e) })));
    if (load) {
      counts.requests++;
      if (Date.now() <= deadline) counts.requests_in_window++;
      counts.pulls++;
      latency.pull.push(r.ms);
    } else counts.final_sync_pulls++;
    if (r.status !== 200) {
      fail(`pull ${r.status}: ${r.text.slice(0, 200)}`);
      reset(device);
      return false;
    }
    applyPull(device, JSON.parse(r.text));
    return true;
  };

  /** The device's local changes for one push, applied locally at once (as WatermelonDB's database would). */
  const makeLocalChanges = (device) => {
    const fam = device.family.id;
    const i = device.seq++;
    const pending = { created: [], updates: new Map(), deletes: new Map() };
    const test = wire('blood_tests', makeRecord('blood_tests', fam, i));
    const result = wire('blood_test_results', makeRecord('blood_test_results', fam, i, test.id));
    const transfusion = wire('transfusions', makeRecord('transfusions', fam, i));
    for (const [table, rec] of [['blood_tests', test], ['blood_test_results', result], ['transfusions', transfusion]]) {
      pending.created.push([table, rec.id]);
      device.local[table].set(rec.id, rec);
    }
    // An edit: half the time of a record the whole family shares (the families row or a shared
    // reminder), otherwise of one of the family's transfusions or blood tests (which another device
    // may be deleting). Then a deletion of one of the family's transfusions or blood tests.
    const own = new Set([test.id, transfusion.id]);
    const candidates = () => {
      const list = [];
      for (const table of ['transfusions', 'blood_tests']) for (const id of device.local[table].keys()) if (!own.has(id)) list.push([table, id]);
      return list;
    };
    const pickFrom = (list) => list[Math.floor(Math.random() * list.length)];
    const records = candidates();
    const [editTable, editId] = Math.random() < 0.5 || !records.length ? pickFrom(device.family.hot) : pickFrom(records);
    if (device.local[editTable].has(editId)) {
      const tag = `${device.deviceId.slice(0, 8)}:${i}`;
      const fields =
        editTable === 'families'
          ? { notes: `edited by ${tag}`, patient_weight_kg: 20 + (i % 30), updated_at: Date.now() }
          : editTable === 'reminders'
            ? { title: `shared reminder, edited by ${tag}`, is_completed: i % 2 === 0, notes: tag, updated_at: Date.now() }
            : editTable === 'transfusions'
              ? { notes: `edited by ${tag}`, volume_ml: 200 + (i % 300), updated_at: Date.now() }
              : { comment: `edited by ${tag}`, laboratory: 'Helix', updated_at: Date.now() };
      pending.updates.set(`${editTable}:${editId}`, { table: editTable, id: editId, fields });
      device.local[editTable].set(editId, { ...device.local[editTable].get(editId), ...fields });
      own.add(editId);
    }
    const deletable = candidates();
    if (deletable.length) {
      const [table, id] = pickFrom(deletable);
      pending.deletes.set(`${table}:${id}`, { table, id });
      device.local[table].delete(id);
    } else {
      const template = wire('analysis_templates', makeRecord('analysis_templates', fam, i));
      pending.created.push(['analysis_templates', template.id]);
      device.local.analysis_templates.set(template.id, template);
    }
    device.pending = pending;
  };

  /** The push body from the pending changes and the local records as they are now. */
  const changesOf = (device) => {
    const changes = {};
    const of = (table) => (changes[table] ??= { created: [], updated: [], deleted: [] });
    for (const [table, id] of device.pending.created) of(table).created.push(device.local[table].get(id));
    for (const { table, id } of device.pending.updates.values()) of(table).updated.push(device.local[table].get(id));
    for (const { table, id } of device.pending.deletes.values()) of(table).deleted.push(id);
    return changes;
  };

  const pushWithRetry = async (device) => {
    makeLocalChanges(device);
    for (let attempt = 1; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
      const changes = changesOf(device);
      const cursor = device.cursor;
      const start = process.hrtime.bigint();
      const r = await gate.run(() => device.pushRaw(cursor, { changes: withStatus(changes) }, start).catch((e) => ({ status: 0, ms: msSince(start), text: String(e) })));
      counts.requests++;
      if (Date.now() <= deadline) counts.requests_in_window++;
      counts.pushes++;
      latency.push.push(r.ms);
      if (r.status === 200) {
        const version = JSON.parse(r.text).timestamp;
        device.family.acks.push({ version, userId: device.user.userId, deviceId: device.deviceId, changes: structuredClone(changes) });
        counts.pushes_acknowledged++;
        counts.records_pushed += Object.values(changes).reduce((n, c) => n + c.created.length + c.updated.length + c.deleted.length, 0);
        attemptsHistogram[attempt] = (attemptsHistogram[attempt] ?? 0) + 1;
        device.pending = null;
        return;
      }
      if (r.status === 409) {
        counts.conflicts++;
        if (!(await pull(device))) return; // the pull failed: counted, device reset
        continue;
      }
      if (r.status === 0) device.family.ambiguous++; // maybe committed, maybe not: this family cannot be verified
      fail(`push ${r.status}: ${r.text.slice(0, 200)}`);
      reset(device);
      return;
    }
    fail(`push still conflicting after ${MAX_PUSH_ATTEMPTS} attempts`);
    reset(device);
  };

  const sampler = await samplePool(ctx.db.url);
  const started = process.hrtime.bigint();
  deadline = Date.now() + seconds * 1000;
  await Promise.all(
    devices.map(async (device) => {
      while (Date.now() < deadline) {
        if (!(await pull(device))) {
          await new Promise((r) => setTimeout(r, 50)); // back off after an error, as a client would
          continue;
        }
        await pushWithRetry(device);
        await pull(device);
        counts.cycles++;
      }
    }),
  );
  const elapsedMs = msSince(started);
  const pool = await sampler.stop();

  // Every device syncs once more (nothing is pending any more): an error counts, its latency does not.
  await mapLimit(devices, Math.min(concurrency, 32), (d) => pull(d, { load: false }));

  const check = await compare(ctx.db.url, families, devices);

  const all = [...latency.pull, ...latency.push];
  const p50 = percentile(all, 50);
  const p99 = percentile(all, 99);
  const rps = counts.requests_in_window / seconds;
  const floorRps = floor.inWindow / seconds;
  const acknowledged = families.reduce((n, f) => n + f.acks.length, 0);
  const conflictShare = counts.pushes ? (100 * counts.conflicts) / counts.pushes : 0;
  return {
    rows: [
      {
        scenario: `${deviceCount} devices / ${familyCount} families, ${seconds} s: throughput`,
        measured: rps,
        baseline: floorRps,
        unit: 'req/s',
        baselineLabel: `same loops on GET /families/me; ${concurrency >= deviceCount ? 'no cap' : `cap ${concurrency}`} in flight, app pool ${ctx.app.settings.DB_POOL_SIZE}`,
        target: { kind: 'info' },
      },
      { scenario: 'devices: p99 vs p50 latency', measured: p99, baseline: p50, unit: 'ms', baselineLabel: 'p50 of the same requests', target: { kind: 'ratio', max: 10 } },
      {
        scenario: 'devices: errors (409s apart)',
        measured: counts.errors + floor.errors,
        baseline: counts.requests + counts.final_sync_pulls + floor.requests,
        unit: 'errors',
        baselineUnit: 'requests',
        baselineLabel: `sent; ${counts.conflicts} 409s (${conflictShare.toFixed(1)}% of pushes) answered by pull + retry`,
        target: { kind: 'zero' },
        correctness: true,
        integer: true,
      },
      {
        scenario: 'devices: database ≠ acknowledged pushes',
        measured: check.db.lost + check.db.extra + check.db.differing + check.unverifiable,
        baseline: check.db.rows,
        unit: 'records',
        baselineUnit: 'rows',
        baselineLabel: `expected from ${acknowledged} acknowledged pushes`,
        target: { kind: 'zero' },
        correctness: true,
        integer: true,
      },
      {
        scenario: 'devices: device state ≠ database',
        measured: check.devices.mismatched,
        baseline: deviceCount,
        unit: 'devices',
        baselineUnit: 'devices',
        baselineLabel: `compared, ${check.devices.records} local records`,
        target: { kind: 'zero' },
        correctness: true,
        integer: true,
      },
    ],
    data: {
      devices: deviceCount,
      families: familyCount,
      seconds,
      concurrency_cap: concurrency >= deviceCount ? null : concurrency,
      app_db_pool_size: Number(ctx.app.settings.DB_POOL_SIZE),
      elapsed_ms: elapsedMs,
      requests_per_s: rps,
      ...counts,
      push_attempts_histogram: attemptsHistogram,
      latency_ms: {
        all: { p50, p99, n: all.length },
        pull: { p50: percentile(latency.pull, 50), p99: percentile(latency.pull, 99), n: latency.pull.length },
        push: { p50: percentile(latency.push, 50), p99: percentile(latency.push, 99), n: latency.push.length },
      },
      baseline_families_me: {
        requests: floor.requests,
        requests_in_window: floor.inWindow,
        errors: floor.errors,
        elapsed_ms: floor.elapsedMs,
        requests_per_s: floorRps,
        latency_ms: { p50: percentile(floor.latency, 50), p99: percentile(floor.latency, 99) },
      },
      // The devices' acknowledged pushes are counts.pushes_acknowledged; the replay also has each family's set-up push.
      pushes_replayed: acknowledged,
      app_connections_sampled: pool,
      check,
      error_samples: errorSamples,
    },
  };
}

/**
 * Every 200 ms during the run: the server's connections to the bench database other than
 * ours (the app's pool and its LISTEN connection) and how many are running a statement.
 * A pool that is always fully busy is where requests queue.
 */
async function samplePool(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS connections, count(*) FILTER (WHERE state = 'active')::int AS active,
                count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_on_locks
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      samples.push(rows[0]);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await client.end();
      const avg = (k) => samples.reduce((n, x) => n + x[k], 0) / (samples.length || 1);
      const max = (k) => Math.max(0, ...samples.map((x) => x[k]));
      return {
        samples: samples.length,
        connections_max: max('connections'),
        active_avg: avg('active'),
        active_max: max('active'),
        waiting_on_locks_avg: avg('waiting_on_locks'),
        waiting_on_locks_max: max('waiting_on_locks'),
      };
    },
  };
}

/** Database vs replayed acknowledgements, and every device vs the database. */
async function compare(url, families, devices) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const db = Object.fromEntries(TABLES.map((t) => [t, new Map()]));
  try {
    const ids = families.map((f) => f.id);
    for (const table of TABLES) {
      const scope = table === 'families' ? 'id' : 'family_id';
      const { rows } = await client.query(`SELECT row_to_json(t)::text AS j FROM "${table}" t WHERE ${scope} = ANY($1::uuid[])`, [ids]);
      for (const { j } of rows) {
        const row = JSON.parse(j);
        const family = table === 'families' ? row.id : row.family_id;
        if (!db[table].has(family)) db[table].set(family, new Map());
        db[table].get(family).set(row.id, { ...row, deleted: row.deleted_at !== null && row.deleted_at !== undefined });
      }
    }
  } finally {
    await client.end();
  }
  const result = { db: { rows: 0, lost: 0, extra: 0, differing: 0 }, devices: { mismatched: 0, records: 0, missing: 0, extra: 0, differing: 0 }, unverifiable: 0, samples: [] };
  const sample = (s) => result.samples.length < 10 && result.samples.push(s);
  const stamps = (table) => (table === 'families' ? ['server_version', 'updated_by'] : ['server_version', 'server_created_version', 'created_by', 'updated_by', 'created_by_device', 'deleted']);

  for (const family of families) {
    if (family.ambiguous) {
      result.unverifiable += family.ambiguous;
      continue;
    }
    const expected = replay(family.acks);
    for (const table of TABLES) {
      const have = db[table].get(family.id) ?? new Map();
      for (const [id, want] of expected[table]) {
        result.db.rows++;
        const row = have.get(id);
        if (!row || (row.deleted && !want.deleted)) {
          result.db.lost++;
          sample(`lost: ${table} ${id}`);
          continue;
        }
        const columns = [...pushedColumns(table).filter((c) => !(SPEC.get(table).columns.find((s) => s.name === c)?.readOnly)), ...stamps(table)];
        // A deleted row's columns are what they were; only its stamps are compared.
        const differs = want.deleted ? diff(table, stamps(table), want, row) : diff(table, columns, want, row);
        if (differs.length) {
          result.db.differing++;
          sample(`differs: ${table} ${id}: ${differs.map((c) => `${c} ${norm(table, c, row[c])} ≠ expected ${norm(table, c, want[c])}`).join('; ')}`);
        }
      }
      for (const [id, row] of have) {
        // The families row exists before any push; every other row must come from an acknowledged push.
        if (!expected[table].has(id) && !(table === 'families' && id === family.id)) {
          result.db.extra++;
          sample(`extra: ${table} ${id}${row.deleted ? ' (deleted)' : ''}`);
        }
      }
    }
  }

  for (const device of devices) {
    if (device.family.ambiguous) continue;
    let bad = false;
    for (const table of TABLES) {
      const live = new Map([...(db[table].get(device.family.id) ?? new Map())].filter(([, r]) => !r.deleted));
      const local = device.local[table];
      result.devices.records += local.size;
      const columns = wireColumns(table).filter((c) => !(table === 'families' && c === 'family_id'));
      for (const [id, row] of live) {
        const mine = local.get(id);
        if (!mine) {
          result.devices.missing++;
          bad = true;
          sample(`device ${device.deviceId.slice(0, 8)} lacks ${table} ${id}`);
        } else {
          const differs = diff(table, columns, mine, row);
          if (differs.length) {
            result.devices.differing++;
            bad = true;
            sample(`device ${device.deviceId.slice(0, 8)} ${table} ${id}: ${differs.join(', ')}`);
          }
        }
      }
      for (const id of local.keys()) {
        if (!live.has(id)) {
          result.devices.extra++;
          bad = true;
          sample(`device ${device.deviceId.slice(0, 8)} holds ${table} ${id}, not live on the server`);
        }
      }
    }
    if (bad) result.devices.mismatched++;
  }
  return result;
}

/** A generated record as the device stores it: the wire columns only (no _status/_changed). */
function wire(table, rec) {
  const out = {};
  for (const c of wireColumns(table)) if (c in rec) out[c] = rec[c];
  return out;
}

/** Changes as WatermelonDB sends them: every record with its _status. */
function withStatus(changes) {
  const out = {};
  for (const [table, c] of Object.entries(changes)) {
    out[table] = {
      created: c.created.map((r) => ({ ...r, _status: 'created', _changed: '' })),
      updated: c.updated.map((r) => ({ ...r, _status: 'updated', _changed: '' })),
      deleted: c.deleted,
    };
  }
  return out;
}
