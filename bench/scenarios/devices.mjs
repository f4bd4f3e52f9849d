// 5. Many devices: D devices in F families run pull → push(5 records) → pull
//    cycles concurrently for S seconds, like WatermelonDB's synchronize(): a 409
//    means "pull, then push again" (counted apart from errors). At the end every
//    device pulls once more and must hold exactly what its family's devices got
//    acknowledged, and the database must hold exactly that too.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Device, inviteCode, register } from '../lib/client.mjs';
import { DATA_TABLES, familyRow, makeRecord } from '../lib/records.mjs';
import { msSince, percentile } from '../lib/stats.mjs';

const MAX_PUSH_ATTEMPTS = 20;

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

export async function devicesScenario(ctx) {
  const { devices: deviceCount, families: familyCount, seconds, concurrency } = ctx.sizes;
  const baseUrl = ctx.app.baseUrl;

  // Families: an owner and (with 2+ devices per family) a member who joined by invite code.
  const families = await mapLimit(Array.from({ length: familyCount }, (_, i) => i), 4, async () => {
    const owner = await register(baseUrl);
    const users = [owner];
    if (deviceCount / familyCount >= 2) users.push(await register(baseUrl, await inviteCode(baseUrl, owner.token)));
    const expected = Object.fromEntries(DATA_TABLES.map((t) => [t, new Set()]));
    return { id: owner.familyId, users, expected, familyAcks: [], ambiguous: new Set() };
  });
  const devices = Array.from({ length: deviceCount }, (_, i) => {
    const family = families[i % familyCount];
    const user = family.users[Math.floor(i / familyCount) % family.users.length];
    const device = new Device(baseUrl, user, randomUUID());
    device.family = family;
    device.cursor = null;
    device.view = Object.fromEntries(['families', ...DATA_TABLES].map((t) => [t, new Set()]));
    device.seq = 0;
    return device;
  });

  const gate = new Semaphore(concurrency);
  const latency = { pull: [], push: [] };
  const counts = { requests: 0, pulls: 0, pushes: 0, conflicts: 0, errors: 0, cycles: 0, recordsPushed: 0 };
  const errorSamples = [];
  const fail = (what) => {
    counts.errors++;
    if (errorSamples.length < 10) errorSamples.push(what);
  };

  const pull = async (device) => {
    const r = await gate.run(() => device.pullRaw(device.cursor).catch((e) => ({ status: 0, ms: 0, text: String(e) })));
    counts.requests++;
    counts.pulls++;
    if (r.status !== 200) {
      fail(`pull ${r.status}: ${r.text.slice(0, 200)}`);
      return false;
    }
    latency.pull.push(r.ms);
    const body = JSON.parse(r.text);
    for (const [table, c] of Object.entries(body.changes)) {
      for (const rec of c.created) device.view[table].add(rec.id);
      for (const rec of c.updated) device.view[table].add(rec.id);
      for (const id of c.deleted) device.view[table].delete(id);
    }
    device.cursor = body.timestamp;
    return true;
  };

  const makePush = (device) => {
    const fam = device.family.id;
    const i = device.seq++;
    const test = makeRecord('blood_tests', fam, i);
    const changes = {
      blood_tests: { created: [test], updated: [], deleted: [] },
      blood_test_results: { created: [makeRecord('blood_test_results', fam, i, test.id), makeRecord('blood_test_results', fam, i + 1, test.id)], updated: [], deleted: [] },
      transfusions: { created: [makeRecord('transfusions', fam, i)], updated: [], deleted: [] },
    };
    // One push in five edits the shared families row instead of adding a reminder: devices of a family race on it (409s).
    let note = null;
    if (i % 5 === 0) {
      note = `${device.deviceId}:${i}`;
      changes.families = { created: [], updated: [{ ...familyRow(fam, i), notes: note }], deleted: [] };
    } else {
      changes.reminders = { created: [makeRecord('reminders', fam, i)], updated: [], deleted: [] };
    }
    return { changes, note };
  };

  const pushWithRetry = async (device) => {
    const { changes, note } = makePush(device);
    const body = JSON.stringify({ changes });
    for (let attempt = 0; attempt < MAX_PUSH_ATTEMPTS; attempt++) {
      const cursor = device.cursor;
      const r = await gate.run(() => device.pushRaw(cursor, body).catch((e) => ({ status: 0, ms: 0, text: String(e) })));
      counts.requests++;
      counts.pushes++;
      if (r.status === 200) {
        latency.push.push(r.ms);
        counts.recordsPushed += 5;
        const timestamp = JSON.parse(r.text).timestamp;
        for (const [table, c] of Object.entries(changes)) {
          for (const rec of c.created) {
            device.family.expected[table].add(rec.id);
            device.view[table].add(rec.id); // the client holds what it created
          }
        }
        if (note) device.family.familyAcks.push({ timestamp, note });
        return;
      }
      if (r.status === 409) {
        latency.push.push(r.ms);
        counts.conflicts++;
        if (!(await pull(device))) return;
        continue;
      }
      if (r.status === 0) for (const [table, c] of Object.entries(changes)) for (const rec of c.created) device.family.ambiguous.add(`${table}:${rec.id}`);
      fail(`push ${r.status}: ${r.text.slice(0, 200)}`);
      return;
    }
    fail(`push still conflicting after ${MAX_PUSH_ATTEMPTS} attempts`);
  };

  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
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

  // Every device catches up once more; then its view must equal what its family got acknowledged.
  await mapLimit(devices, concurrency, (d) => pull(d));
  let lostOnDevices = 0;
  let extraOnDevices = 0;
  for (const d of devices) {
    for (const table of DATA_TABLES) {
      for (const id of d.family.expected[table]) if (!d.view[table].has(id)) lostOnDevices++;
      for (const id of d.view[table]) if (!d.family.expected[table].has(id) && !d.family.ambiguous.has(`${table}:${id}`)) extraOnDevices++;
    }
  }
  // And the database, table by table, family by family.
  let lostInDb = 0;
  let extraInDb = 0;
  let familyRowMismatches = 0;
  const client = new pg.Client({ connectionString: ctx.db.url });
  await client.connect();
  try {
    const byId = new Map(families.map((f) => [f.id, f]));
    for (const table of DATA_TABLES) {
      const { rows } = await client.query(`SELECT family_id::text, array_agg(id::text) AS ids FROM "${table}" WHERE family_id = ANY($1::uuid[]) AND deleted_at IS NULL GROUP BY family_id`, [families.map((f) => f.id)]);
      const found = new Map(rows.map((r) => [r.family_id, new Set(r.ids)]));
      for (const f of byId.values()) {
        const have = found.get(f.id) ?? new Set();
        for (const id of f.expected[table]) if (!have.has(id)) lostInDb++;
        for (const id of have) if (!f.expected[table].has(id) && !f.ambiguous.has(`${table}:${id}`)) extraInDb++;
      }
    }
    const { rows } = await client.query(`SELECT id::text, notes FROM families WHERE id = ANY($1::uuid[])`, [families.map((f) => f.id)]);
    for (const row of rows) {
      const acks = byId.get(row.id).familyAcks;
      if (!acks.length) continue;
      // Last write wins in server order: the acknowledged edit with the highest version is what the row holds.
      const last = acks.reduce((a, b) => (b.timestamp > a.timestamp ? b : a));
      if (row.notes !== last.note) familyRowMismatches++;
    }
  } finally {
    await client.end();
  }

  const all = [...latency.pull, ...latency.push];
  const p50 = percentile(all, 50);
  const p99 = percentile(all, 99);
  const rps = (counts.requests / elapsedMs) * 1000;
  const lost = lostOnDevices + lostInDb;
  const correct = lost === 0 && extraInDb === 0 && extraOnDevices === 0 && familyRowMismatches === 0;
  return {
    rows: [
      { scenario: `${deviceCount} devices / ${familyCount} families, ${seconds} s: throughput`, measured: rps, baseline: NaN, unit: 'req/s', baselineLabel: `cap ${concurrency} in flight`, target: { kind: 'info' } },
      { scenario: 'devices: p99 vs p50 latency', measured: p99, baseline: p50, unit: 'ms', baselineLabel: 'p50 of the same requests', target: { kind: 'ratio', max: 10 } },
      { scenario: 'devices: errors (409s apart)', measured: counts.errors, baseline: counts.requests, unit: 'errors', baselineUnit: 'requests', baselineLabel: `sent; ${counts.conflicts} 409s retried`, target: { kind: 'zero' }, correctness: true },
      { scenario: 'devices: lost / extra records', measured: lost + extraInDb + extraOnDevices + familyRowMismatches, baseline: countExpected(families), unit: 'records', baselineUnit: 'records', baselineLabel: 'acknowledged', target: { kind: 'zero' }, correctness: true },
    ],
    data: {
      devices: deviceCount,
      families: familyCount,
      seconds,
      concurrency_cap: concurrency,
      elapsed_ms: elapsedMs,
      requests_per_s: rps,
      ...counts,
      latency_ms: {
        all: { p50, p99, n: all.length },
        pull: { p50: percentile(latency.pull, 50), p99: percentile(latency.pull, 99), n: latency.pull.length },
        push: { p50: percentile(latency.push, 50), p99: percentile(latency.push, 99), n: latency.push.length },
      },
      records_acknowledged: countExpected(families),
      lost_on_devices: lostOnDevices,
      extra_on_devices: extraOnDevices,
      lost_in_db: lostInDb,
      extra_in_db: extraInDb,
      family_row_mismatches: familyRowMismatches,
      ambiguous_pushes: families.reduce((n, f) => n + f.ambiguous.size, 0),
      correct,
      error_samples: errorSamples,
    },
  };
}

function countExpected(families) {
  return families.reduce((n, f) => n + DATA_TABLES.reduce((m, t) => m + f.expected[t].size, 0), 0);
}
