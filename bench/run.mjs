#!/usr/bin/env node
// HemoDay benchmarks: `npm run bench -- --help` lists the options.
// Every figure is compared with a baseline measured in the same run on the same
// machine; see README "Performance" for what each one means.
import { cpus, tmpdir, totalmem, availableParallelism } from 'node:os';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp, startDatabase } from './lib/environment.mjs';
import { startCountingProxy } from './lib/pg-counter.mjs';
import { round } from './lib/stats.mjs';
import { resultOf, verdict } from './lib/verdict.mjs';
import { pushScenario } from './scenarios/push.mjs';
import { firstPullScenario } from './scenarios/first-pull.mjs';
import { incrementalPullScenario } from './scenarios/incremental-pull.mjs';
import { statementsScenario } from './scenarios/statements.mjs';
import { devicesScenario } from './scenarios/devices.mjs';
import { hashingScenario } from './scenarios/hashing.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

const SCENARIOS = {
  push: pushScenario,
  pull: firstPullScenario,
  incremental: incrementalPullScenario,
  statements: statementsScenario,
  devices: devicesScenario,
  hashing: hashingScenario,
};

// concurrency: requests in flight in the many-devices run; unset = one per device (no cap).
const FULL = { push: 5000, pull: 50000, pulls: 200, statements: [10, 1000, 10000], devices: 200, families: 50, seconds: 30, concurrency: undefined };
const SHORT = { push: 50, pull: 200, pulls: 20, statements: [10, 1000], devices: 8, families: 2, seconds: 2, concurrency: undefined };

function usage() {
  return `Usage: npm run bench -- [--short] [--scenarios ${Object.keys(SCENARIOS).join(',')}]
                        [--sizes key=value,...] [--out FILE] [--cpu-prof] [--strict] [--markdown]

  --short           CI mode: tiny sizes (${Object.entries(SHORT).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(':') : v}`).join(',')}).
                    The size-independent checks are enforced (exit 1): statement counts equal,
                    0 errors, 0 lost or differing records, every device equal to the server.
                    Timing targets print "short" (too small to judge). Writes bench/results.short.json.
  --scenarios LIST  which scenarios, run in the order given (default: all, in the order above)
  --sizes LIST      override sizes; keys and full-run defaults:
                      push=${FULL.push}          records in the one push
                      pull=${FULL.pull}         records in the family of the pull scenarios (>= 100)
                      pulls=${FULL.pulls}          incremental pulls timed
                      statements=${FULL.statements.join(':')}  sizes whose statement counts must be equal
                      devices=${FULL.devices}        simulated devices, families=${FULL.families}, seconds=${FULL.seconds}
                      concurrency=N      cap on requests in flight in the devices run (default: none)
  --out FILE        where to write the results (default bench/results.json, short: bench/results.short.json)
  --cpu-prof        start the app with --cpu-prof (profiles written to a temp dir, path printed)
  --strict          also exit 1 when a timing target is missed (full runs only)
  --markdown        print the table as Markdown (the README's "Latest figures" is pasted from it)`;
}

function parseArgs(argv) {
  const opts = { short: false, scenarios: Object.keys(SCENARIOS), sizes: {}, out: undefined, cpuProf: false, strict: false, markdown: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${usage()}`);
      return v;
    };
    switch (flag) {
      case '--short':
        opts.short = true;
        break;
      case '--scenarios':
        opts.scenarios = value().split(',').map((s) => s.trim()).filter(Boolean);
        for (const s of opts.scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario "${s}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
        if (new Set(opts.scenarios).size !== opts.scenarios.length) throw new Error('--scenarios: each scenario at most once');
        if (!opts.scenarios.length) throw new Error('--scenarios: name at least one');
        break;
      case '--sizes':
        for (const pair of value().split(',')) {
          const [key, v = ''] = pair.split('=');
          if (!(key in FULL)) throw new Error(`unknown size "${key}" (known: ${Object.keys(FULL).join(', ')})`);
          const numbers = v.split(':').map(Number);
          if (!v || numbers.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`--sizes ${key} must be a positive integer`);
          if (key !== 'statements' && numbers.length !== 1) throw new Error(`--sizes ${key} takes one number`);
          opts.sizes[key] = key === 'statements' ? numbers : numbers[0];
        }
        break;
      case '--out':
        opts.out = value();
        break;
      case '--cpu-prof':
        opts.cpuProf = true;
        break;
      case '--markdown':
        opts.markdown = true;
        break;
      case '--strict':
        opts.strict = true;
        break;
      case '--help':
      case '-h':
        console.log(usage());
        process.exit(0);
      default:
        throw new Error(`unknown option ${argv[i]}\n${usage()}`);
    }
  }
  opts.sizes = { ...(opts.short ? SHORT : FULL), ...opts.sizes };
  opts.out ??= join(HERE, opts.short ? 'results.short.json' : 'results.json');
  if (opts.sizes.pull < 100) throw new Error('--sizes pull must be at least 100 (the incremental pull edits existing records)');
  if (opts.sizes.devices < opts.sizes.families) throw new Error('--sizes devices must be at least families');
  if (opts.sizes.statements.some((n) => n < 10)) throw new Error('--sizes statements: each size must be at least 10 (a mixed push needs every kind of change)');
  return opts;
}

/** The ratio the table shows: none for counts (errors, statements, records), whose baseline is what was counted. */
const shownRatio = (r) => (Number.isFinite(r.ratio) && !r.integer ? r.ratio : NaN);

const fmt = (n, unit, integer) => {
  if (!Number.isFinite(n)) return 'n/a';
  const digits = integer ? 0 : Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  const text = integer || Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
  return `${text}${unit ? ` ${unit}` : ''}`;
};

function printTable(rows, markdown) {
  const header = ['scenario', 'measured', 'baseline', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => [
    r.scenario,
    fmt(r.measured, r.unit, r.integer),
    Number.isFinite(r.baseline) ? `${fmt(r.baseline, r.baselineUnit ?? r.unit, r.integer)} (${r.baselineLabel})` : r.baselineLabel ?? '',
    Number.isFinite(shownRatio(r)) ? `${shownRatio(r).toFixed(2)}×` : '—',
    r.targetText,
    resultOf(r),
  ]);
  if (markdown) {
    for (const cells of [header, header.map(() => '---'), ...lines]) console.log(`| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`);
    return;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' │ ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('─┼─'));
  for (const l of lines) console.log(line(l));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (m) => console.error(`[bench] ${m}`);
  log(`mode: ${opts.short ? 'short (CI)' : 'full'}; scenarios: ${opts.scenarios.join(', ')}`);
  const t0 = Date.now();
  const db = await startDatabase();
  log(
    `database: PostgreSQL ${db.version} (${db.embedded ? 'embedded, temp dir' : 'fresh database on DATABASE_URL server'}); ` +
      `statements counted on the wire by the bench's proxy${db.statementCounting ? ', cross-checked with pg_stat_statements' : ' (pg_stat_statements not loaded: no cross-check)'}`,
  );
  const cpuProfDir = opts.cpuProf ? await mkdtemp(join(tmpdir(), 'hemoday-bench-prof-')) : undefined;
  let app;
  let counting; // a second app instance behind the counting proxy, started when a scenario needs it
  const cleanup = async () => {
    const c = await counting?.catch(() => undefined);
    await c?.app?.stop().catch(() => undefined);
    await c?.proxy?.stop().catch(() => undefined);
    await app?.stop().catch(() => undefined);
    await db.stop().catch(() => undefined);
  };
  const onSignal = async () => {
    await cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows = [];
  const data = {};
  let crashed = 0;
  try {
    app = await startApp(db.url, { cpuProfDir });
    log(`app: ${app.baseUrl} (pid ${app.pid})`);
    const countingApp = () =>
      (counting ??= (async () => {
        const proxy = await startCountingProxy(db.url);
        try {
          const countingAppInstance = await startApp(proxy.url);
          log(`counting app: ${countingAppInstance.baseUrl} (pid ${countingAppInstance.pid}), PostgreSQL through ${proxy.url.replace(/\/\/[^@]*@/, '//')}`);
          return { app: countingAppInstance, proxy };
        } catch (error) {
          await proxy.stop();
          throw error;
        }
      })());
    const ctx = { app, db, short: opts.short, sizes: opts.sizes, shared: {}, countingApp };
    for (const name of opts.scenarios) {
      const started = Date.now();
      log(`scenario ${name}…`);
      try {
        const result = await SCENARIOS[name](ctx);
        rows.push(...result.rows.map((r) => verdict(r, opts.short)));
        data[name] = { ...result.data, wall_ms: Date.now() - started };
      } catch (error) {
        crashed++;
        const message = error instanceof Error ? error.stack ?? error.message : String(error);
        log(`scenario ${name} CRASHED: ${message}`);
        if (!app.alive()) log(`the app died; its last output:\n${app.output()}`);
        rows.push({ scenario: `${name}: crashed`, measured: NaN, baseline: NaN, ratio: NaN, unit: '', targetText: '—', pass: false, crashed: true });
        data[name] = { crashed: message };
        if (!app.alive()) break;
      }
      log(`scenario ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  console.log('');
  printTable(rows, opts.markdown);
  const correctnessFailures = rows.filter((r) => r.correctness && r.pass === false).length;
  const missed = rows.filter((r) => !r.crashed && !r.correctness && r.pass === false).length;
  const unjudged = rows.filter((r) => r.short).length;
  const results = {
    generated_at: new Date().toISOString(),
    mode: opts.short ? 'short' : 'full',
    sizes: opts.sizes,
    machine: {
      cpus: availableParallelism(),
      cpu_model: cpus()[0]?.model,
      memory_gib: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      postgres: db.version,
      database: db.embedded ? 'embedded' : 'DATABASE_URL',
    },
    wall_s: round((Date.now() - t0) / 1000, 1),
    rows: rows.map((r) => ({
      scenario: r.scenario,
      measured: round(r.measured, 3),
      baseline: round(r.baseline, 3),
      baseline_label: r.baselineLabel,
      baseline_unit: r.baselineUnit ?? r.unit,
      ratio: round(shownRatio(r), 3), // null where the table shows —
      unit: r.unit,
      target: r.targetText,
      enforced: Boolean(r.correctness) || (!opts.short && opts.strict && r.targetText !== '—'),
      result: resultOf(r).toLowerCase(),
    })),
    scenarios: data,
  };
  await writeFile(opts.out, `${JSON.stringify(results, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  console.log(
    `\n${rows.length} figures, ${opts.short ? `${unjudged} timing target(s) not judged (short)` : `${missed} timing target(s) missed`}, ` +
      `${correctnessFailures} correctness failure(s), ${crashed} crash(es); ${results.wall_s} s. Results: ${opts.out}`,
  );
  if (cpuProfDir) console.log(`CPU profile of the app: ${cpuProfDir}`);
  if (crashed || correctnessFailures) process.exit(1);
  if (opts.strict && missed) process.exit(1);
}

main().catch((error) => {
  console.error(`[bench] failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
