// 6. Password hashing: the cost of one argon2id verify with the app's
//    parameters (every login verifies one), in this process: alone, and as
//    verifies/s when all cores verify concurrently. Baseline: OWASP's minimum
//    argon2id (m=19 MiB, t=2, p=1). Then the real thing: POST /api/v1/auth/login
//    over HTTP with as many logins in flight as cores, against the in-process
//    verifies/s with the app's parameters.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { ARGON2_OPTIONS } from '../../dist/src/modules/auth/password.service.js';
import { login, register } from '../lib/client.mjs';
import { median, msSince, percentile } from '../lib/stats.mjs';

const OWASP_MIN = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };

async function measure(options, n) {
  const hash = await argon2.hash('correct horse battery staple', options);
  const single = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await argon2.verify(hash, 'correct horse battery staple');
    single.push(msSince(start));
  }
  const cores = availableParallelism();
  const total = Math.max(cores * 2, n);
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: cores }, async () => {
      while (next++ < total) await argon2.verify(hash, 'correct horse battery staple');
    }),
  );
  const perSecond = (total / msSince(start)) * 1000;
  return { verify_ms_p50: median(single), logins_per_s: perSecond, logins_per_s_per_core: perSecond / cores, cores };
}

/** `total` logins over HTTP, `concurrency` in flight; every one must answer 200 with a token. */
async function httpLogins(baseUrl, total, concurrency) {
  const user = await register(baseUrl);
  const first = await login(baseUrl, user.email); // warm-up
  if (!first.ok) throw new Error(`login answered ${first.status}: ${first.text.slice(0, 300)}`);
  const ms = [];
  const failures = [];
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const r = await login(baseUrl, user.email);
        if (r.ok) ms.push(r.ms);
        else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      }
    }),
  );
  const elapsed = msSince(start);
  if (failures.length) throw new Error(`${failures.length} of ${total} logins failed, e.g. ${failures[0]}`);
  return { logins: total, concurrency, logins_per_s: (total / elapsed) * 1000, latency_p50_ms: median(ms), latency_p99_ms: percentile(ms, 99) };
}

export async function hashingScenario(ctx) {
  const n = ctx.short ? 2 : 10;
  const app = await measure(ARGON2_OPTIONS, n);
  const owasp = await measure(OWASP_MIN, n);
  const cores = availableParallelism();
  const http = await httpLogins(ctx.app.baseUrl, ctx.short ? 2 * cores : Math.max(50, 10 * cores), cores);
  return {
    rows: [
      { scenario: `argon2id verify (m=${ARGON2_OPTIONS.memoryCost / 1024} MiB, t=${ARGON2_OPTIONS.timeCost}, p=${ARGON2_OPTIONS.parallelism})`, measured: app.verify_ms_p50, baseline: owasp.verify_ms_p50, unit: 'ms', baselineLabel: 'OWASP min m=19 MiB,t=2,p=1', target: { kind: 'info' } },
      { scenario: `argon2id verifies/s, ${cores} in flight (in-process)`, measured: app.logins_per_s, baseline: owasp.logins_per_s, unit: '/s', baselineLabel: 'OWASP min', target: { kind: 'info' } },
      {
        scenario: `POST /auth/login, ${http.logins} logins, ${cores} in flight`,
        measured: http.logins_per_s,
        baseline: app.logins_per_s,
        unit: '/s',
        baselineLabel: 'in-process verifies/s, app parameters',
        target: { kind: 'info' },
      },
    ],
    data: { app_parameters: { ...ARGON2_OPTIONS, type: 'argon2id' }, app, owasp_minimum: { ...OWASP_MIN, type: 'argon2id', ...owasp }, http_login: http },
  };
}
