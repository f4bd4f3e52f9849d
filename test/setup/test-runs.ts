import { describe, it } from '@jest/globals';

/**
 * `npm test` runs against the embedded PostgreSQL, or against DATABASE_URL when that is set (CI runs
 * both: PostgreSQL 18 embedded, then the PostgreSQL 15 server). Tests that never use the suite's
 * database — they start embedded clusters of their own, or fail before connecting — would only repeat
 * themselves on a DATABASE_URL run, so they run on the embedded run only and are reported as skipped
 * on the other (about a third of the suite's time: each spawns `node dist/…` processes).
 */
export const embeddedRunOnly = Boolean(process.env.DATABASE_URL);

export const describeOnEmbeddedRun = embeddedRunOnly ? describe.skip : describe;
export const itOnEmbeddedRun = embeddedRunOnly ? it.skip : it;
