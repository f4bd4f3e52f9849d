import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { RunningApp } from '../setup/test-app.js';
import { withFamilyId } from '../sync-client/family.js';

/** Who syncs: a bearer token and the family whose id new records carry. */
export interface SyncCaller {
  token: string;
  familyId: string;
}

/** Every synced table, as a pull answers them. */
export const SYNC_TABLES = ['families', 'transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/** The synced data tables: the family's rows in them, tombstones included, are its record_count (SYNC_FAMILY_MAX_RECORDS). */
export const DATA_TABLES = SYNC_TABLES.filter((table) => table !== 'families');

/**
 * The family's `record_count` (`kept`) and its rows in the six data tables, tombstones included
 * (`rows`), read in one statement (one snapshot): the two must always be equal.
 */
export async function recordCounts(db: DataSource, familyId: string): Promise<{ kept: number; rows: number }> {
  const rows = DATA_TABLES.map((table) => `(SELECT count(*) FROM ${table} WHERE family_id = f.id)`).join(' + ');
  const [counts]: Array<{ kept: number; rows: number }> = await db.query(`SELECT f.record_count::int AS kept, (${rows})::int AS rows FROM families f WHERE f.id = $1`, [familyId]);
  return counts;
}

export type TableChanges = { created: unknown[]; updated: unknown[]; deleted: string[] };
export type Changes = Record<string, TableChanges>;

/** A push body's `changes` with every table present and empty. */
export function emptyChanges(): Changes {
  return Object.fromEntries(SYNC_TABLES.map((table) => [table, { created: [], updated: [], deleted: [] }]));
}

/** Every table empty but `table`, which gets `part`. */
export function changesOf(table: string, part: Partial<TableChanges>): Changes {
  return { ...emptyChanges(), [table]: { created: [], updated: [], deleted: [], ...part } };
}

/** A new transfusion record, as a phone creates it (no family_id: push gives it the caller's). */
export function newTransfusion(): Record<string, unknown> {
  const now = Date.now();
  return { id: randomUUID(), date: now, volume_ml: 250, created_at: now, updated_at: now };
}

export type PullQuery = Record<string, string | number | null>;

/**
 * GET /api/v1/sync as `m`. `cursor`: omitted → no query at all; null → last_pulled_at=0 (never
 * pulled); a number → that last_pulled_at; an object → the query string as given (bad values,
 * schema_version, migration). `device` sets X-Device-Id.
 */
export function pull(t: RunningApp, m: SyncCaller, cursor?: number | null | PullQuery, device?: string) {
  const query = cursor === undefined ? {} : cursor === null ? { last_pulled_at: 0 } : typeof cursor === 'number' ? { last_pulled_at: cursor } : cursor;
  const req = t.http().get('/api/v1/sync').query(query).set('Authorization', `Bearer ${m.token}`);
  return device ? req.set('X-Device-Id', device) : req;
}

/** POST /api/v1/sync as `m`; records without a `family_id` get `m`'s (see withFamilyId). */
export function push(t: RunningApp, m: SyncCaller, lastPulledAt: number, changes: unknown, device?: string) {
  const req = t
    .http()
    .post(`/api/v1/sync?last_pulled_at=${lastPulledAt}`)
    .set('Authorization', `Bearer ${m.token}`)
    .send({ changes: withFamilyId(changes, m.familyId) });
  return device ? req.set('X-Device-Id', device) : req;
}
