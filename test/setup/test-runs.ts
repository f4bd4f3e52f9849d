import { describe, it } from '@jest/globals';

/**
 * `npm test` runs against the embedded PostgreSQL, or against DATABASE_URL when that is set (CI runs
 * both: PostgreSQL 18 embedded, then the PostgreSQL 15 server). The second run is there for what
 * that server could answer differently: the SQL the app and the CLI send. Tests that never use the
 * suite's database — they start embedded clusters of their own, or fail before connecting — and
 * tests of what a process does apart from it (arguments and their messages, `.env` parsing, output
 * and the terminal, object storage outages, start-up checks) would only repeat themselves, so they
 * run on the embedded run only and are reported as skipped on the other: most of them spawn
 * `node dist/…` processes, each 2–3 s of CPU loading modules. (Unit specs that never connect are
 * left out of such a run by jest.config.mjs.)
 */
export const embeddedRunOnly = Boolean(process.env.DATABASE_URL);

export const describeOnEmbeddedRun = embeddedRunOnly ? describe.skip : describe;
export const itOnEmbeddedRun = embeddedRunOnly ? it.skip : it;
