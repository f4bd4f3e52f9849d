// 6. Password hashing: the cost of one argon2id hash / verify with the app's
//    parameters (every login verifies one), and logins/s per core when all cores
//    verify concurrently. Baseline: OWASP's minimum argon2id (m=19 MiB, t=2, p=1).
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { ARGON2_OPTIONS } from '../../dist/src/modules/auth/password.service.js';
import { median, msSince } from '../lib/stats.mjs';

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

export async function hashingScenario(ctx) {
  const n = ctx.short ? 2 : 10;
  const app = await measure(ARGON2_OPTIONS, n);
  const owasp = await measure(OWASP_MIN, n);
  return {
    rows: [
      { scenario: `argon2id verify (m=${ARGON2_OPTIONS.memoryCost / 1024} MiB, t=${ARGON2_OPTIONS.timeCost}, p=${ARGON2_OPTIONS.parallelism})`, measured: app.verify_ms_p50, baseline: owasp.verify_ms_p50, unit: 'ms', baselineLabel: 'OWASP min m=19 MiB,t=2,p=1', target: { kind: 'info' } },
      { scenario: 'logins/s per core (all cores busy)', measured: app.logins_per_s_per_core, baseline: owasp.logins_per_s_per_core, unit: 'logins/s', baselineLabel: 'OWASP min', target: { kind: 'info' } },
    ],
    data: { app_parameters: { ...ARGON2_OPTIONS, type: 'argon2id' }, app, owasp_minimum: { ...OWASP_MIN, type: 'argon2id', ...owasp } },
  };
}
