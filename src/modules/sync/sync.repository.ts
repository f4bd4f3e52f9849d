import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { isJsonColumn, SYNC_TABLES, writableColumns, type ColumnSpec, type SyncTableName, type TableSpec } from './sync-schema.js';
import type { PushedRecord } from './sync-validator.js';

/**
 * How one table is read for a pull:
 * - `full`: every live row as `created` (first sync, replacement, table new to the client);
 * - `incremental`: rows with server_version > cursor, created / updated / deleted;
 * - `columns`: incremental plus every live row (the client gained columns in this table).
 */
export type PullMode = 'full' | 'incremental' | 'columns';

export interface PullPlan {
  familyId: string;
  cursor: number;
  deviceId: string | null;
  timestamp: number;
  replacement: boolean;
  modes: Record<SyncTableName, PullMode>;
}

/** A pushed id as found on the server (any family). */
export interface ExistingRow {
  tbl: SyncTableName;
  id: string;
  family_id: string;
  server_version: string;
  deleted: boolean;
}

export interface WriteStamp {
  familyId: string;
  version: number;
  userId: string;
  deviceId: string | null;
  now: number;
}

/** PostgreSQL function argument limit is 100: json_build_object takes pairs. */
const MAX_JSON_OBJECT_PAIRS = 50;

const q = (identifier: string) => `"${identifier}"`;

/** The live-record JSON of a row: id, family_id and every wire column (JSON columns as strings). */
function recordJson(spec: TableSpec): string {
  const pairs = [
    `'id', t.id`,
    spec.isFamilyRow ? `'family_id', t.id` : `'family_id', t.family_id`,
    ...spec.columns.map((c) => `'${c.name}', t.${q(c.name)}${isJsonColumn(c) ? '::text' : ''}`),
  ];
  if (pairs.length > MAX_JSON_OBJECT_PAIRS) throw new Error(`Too many columns in ${spec.name} for json_build_object`);
  return `json_build_object(${pairs.join(', ')})`;
}

/**
 * One table's `{ created, updated, deleted }` as JSON. Parameters: $1 family,
 * $2 cursor, $3 device id. Identifiers come from the registry only.
 */
function tableChangesSql(spec: TableSpec, mode: PullMode): string {
  const scope = spec.isFamilyRow ? 't.id = $1' : 't.family_id = $1';
  const deletedAt = spec.isFamilyRow ? 'NULL::bigint' : 't.deleted_at';
  const where =
    mode === 'full'
      ? `${scope} AND ${deletedAt} IS NULL`
      : mode === 'incremental'
        ? `${scope} AND t.server_version > $2`
        : `${scope} AND (t.server_version > $2 OR ${deletedAt} IS NULL)`;
  // A device never gets back as `created` what it pushed itself (it already has it).
  const kind =
    mode === 'full'
      ? `'c'`
      : `CASE WHEN ${deletedAt} IS NOT NULL THEN 'd'
              WHEN t.server_created_version > $2 AND ($3::text IS NULL OR t.created_by_device IS DISTINCT FROM $3::text) THEN 'c'
              ELSE 'u' END`;
  return `(SELECT json_build_object(
             'created', coalesce(json_agg(r.rec) FILTER (WHERE r.kind = 'c'), '[]'::json),
             'updated', coalesce(json_agg(r.rec) FILTER (WHERE r.kind = 'u'), '[]'::json),
             'deleted', coalesce(json_agg(r.id) FILTER (WHERE r.kind = 'd'), '[]'::json))
           FROM (SELECT t.id, ${kind} AS kind,
                        CASE WHEN ${deletedAt} IS NULL THEN ${recordJson(spec)} END AS rec
                   FROM ${q(spec.name)} t
                  WHERE ${where}) r)`;
}

/** SQL for a pushed column value read from the record's JSON document `s.doc`. */
function valueSql(column: ColumnSpec): string {
  if (isJsonColumn(column)) return `nullif(s.doc -> '${column.name}', 'null'::jsonb)`;
  return `(s.doc ->> '${column.name}')::${column.sqlType}`;
}

/** Generated SQL per table, built once. */
const SQL = new Map(
  SYNC_TABLES.map((spec) => {
    const cols = writableColumns(spec);
    // A column absent from the pushed record (an older client) keeps its stored value.
    const sets = cols.map((c) => `${q(c.name)} = CASE WHEN s.doc ? '${c.name}' THEN ${valueSql(c)} ELSE t.${q(c.name)} END`);
    const update = spec.isFamilyRow
      ? `UPDATE families AS t SET ${sets.join(', ')}, server_version = $3, updated_by = $4
           FROM jsonb_array_elements($1::jsonb) AS s(doc)
          WHERE t.id = (s.doc ->> 'id')::uuid AND t.id = $2`
      : `UPDATE ${q(spec.name)} AS t SET ${sets.join(', ')}, deleted_at = NULL, server_version = $3, updated_by = $4
           FROM jsonb_array_elements($1::jsonb) AS s(doc)
          WHERE t.id = (s.doc ->> 'id')::uuid AND t.family_id = $2`;
    const dataCols = cols.filter((c) => c.name !== 'created_at' && c.name !== 'updated_at');
    // ON CONFLICT DO NOTHING: an id that appears in another family between our check and this insert
    // is not inserted, the count comes out short and the caller aborts the whole push.
    const insert = spec.isFamilyRow
      ? null
      : `WITH ins AS (
           INSERT INTO ${q(spec.name)} (id, family_id, ${dataCols.map((c) => q(c.name)).join(', ')}, created_at, updated_at,
                                         server_version, server_created_version, created_by, updated_by, created_by_device)
           SELECT (s.doc ->> 'id')::uuid, $2, ${dataCols.map(valueSql).join(', ')},
                  coalesce((s.doc ->> 'created_at')::bigint, $6), coalesce((s.doc ->> 'updated_at')::bigint, $6),
                  $3, $3, $4, $4, $5
             FROM jsonb_array_elements($1::jsonb) AS s(doc)
           ON CONFLICT (id) DO NOTHING
           RETURNING 1)
         SELECT count(*)::int AS inserted FROM ins`;
    const tombstone = spec.isFamilyRow
      ? null
      : `UPDATE ${q(spec.name)} SET deleted_at = $3, server_version = $3, updated_by = $4
          WHERE family_id = $2 AND id = ANY($1::uuid[]) AND deleted_at IS NULL`;
    return [spec.name, { update, insert, tombstone }] as const;
  }),
);

/** The sync module's SQL. Every statement is set-based: its count never depends on the number of records. */
@Injectable()
export class SyncRepository {
  /** The family's version in the pull snapshot. */
  async familyVersion(manager: EntityManager, familyId: string): Promise<number | null> {
    const rows: Array<{ sync_version: string }> = await manager.query('SELECT sync_version FROM families WHERE id = $1', [familyId]);
    return rows.length ? Number(rows[0].sync_version) : null;
  }

  /** The whole pull response body, built by PostgreSQL in one statement and returned as text. */
  async pullBody(manager: EntityManager, plan: PullPlan): Promise<string> {
    const tables = SYNC_TABLES.map((spec) => `'${spec.name}', ${tableChangesSql(spec, plan.modes[spec.name])}`).join(',\n');
    const strategy = plan.replacement ? `, 'experimentalStrategy', 'replacement'` : '';
    const rows: Array<{ body: string }> = await manager.query(
      // The FROM clause types $2/$3 even when no table reads them (a first sync).
      `SELECT json_build_object('changes', json_build_object(${tables}), 'timestamp', $4::bigint${strategy})::text AS body
         FROM (SELECT $2::bigint AS cursor, $3::text AS device) AS params`,
      [plan.familyId, plan.cursor, plan.deviceId, plan.timestamp],
    );
    return rows[0].body;
  }

  /** The family whose full snapshot this device of this user last received, if recorded. */
  async deviceFamily(manager: EntityManager, userId: string, deviceId: string): Promise<string | null> {
    const rows: Array<{ family_id: string }> = await manager.query(
      'SELECT family_id FROM sync_devices WHERE user_id = $1 AND device_id = $2',
      [userId, deviceId],
    );
    return rows[0]?.family_id ?? null;
  }

  /**
   * After a full pull: this device now holds exactly `familyId`'s data. Without a device id we
   * cannot tell which device it was, so no record of this user can be trusted any more.
   */
  async recordFullPull(manager: EntityManager, userId: string, deviceId: string | null, familyId: string): Promise<void> {
    if (deviceId) {
      await manager.query(
        `INSERT INTO sync_devices (user_id, device_id, family_id) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, device_id) DO UPDATE SET family_id = EXCLUDED.family_id, updated_at = now()`,
        [userId, deviceId, familyId],
      );
    } else {
      await manager.query('DELETE FROM sync_devices WHERE user_id = $1', [userId]);
    }
  }

  /** Every pushed id (and referenced blood test) as it exists on the server, in any family. */
  async findExisting(manager: EntityManager, idsByTable: Map<SyncTableName, string[]>): Promise<ExistingRow[]> {
    const parts: string[] = [];
    const params: string[][] = [];
    for (const [table, ids] of idsByTable) {
      if (!ids.length) continue;
      params.push(ids);
      const p = `$${params.length}::uuid[]`;
      parts.push(
        table === 'families'
          ? `SELECT 'families' AS tbl, id::text, id::text AS family_id, server_version::text, false AS deleted FROM families WHERE id = ANY(${p})`
          : `SELECT '${table}' AS tbl, id::text, family_id::text, server_version::text, deleted_at IS NOT NULL AS deleted FROM ${q(table)} WHERE id = ANY(${p})`,
      );
    }
    if (!parts.length) return [];
    return manager.query(parts.join('\nUNION ALL\n'), params);
  }

  async updateRows(manager: EntityManager, spec: TableSpec, rows: PushedRecord[], stamp: WriteStamp): Promise<void> {
    await manager.query(SQL.get(spec.name)!.update, [docs(rows), stamp.familyId, stamp.version, stamp.userId]);
  }

  /** Returns how many rows were inserted (fewer than given only if an id appeared in another family meanwhile). */
  async insertRows(manager: EntityManager, spec: TableSpec, rows: PushedRecord[], stamp: WriteStamp): Promise<number> {
    const result: Array<{ inserted: number }> = await manager.query(SQL.get(spec.name)!.insert!, [
      docs(rows),
      stamp.familyId,
      stamp.version,
      stamp.userId,
      stamp.deviceId,
      stamp.now,
    ]);
    return result[0].inserted;
  }

  async tombstone(manager: EntityManager, spec: TableSpec, ids: string[], stamp: WriteStamp): Promise<void> {
    await manager.query(SQL.get(spec.name)!.tombstone!, [ids, stamp.familyId, stamp.version, stamp.userId]);
  }

  /**
   * Results of a blood test that is deleted die with it: results written in this
   * push under an already deleted test, and live results of tests deleted now.
   */
  async tombstoneOrphanResults(manager: EntityManager, stamp: WriteStamp): Promise<void> {
    await manager.query(
      `UPDATE blood_test_results r SET deleted_at = $2, server_version = $2, updated_by = $3
         FROM blood_tests b
        WHERE b.id = r.blood_test_id AND r.family_id = $1 AND b.family_id = $1
          AND r.deleted_at IS NULL AND b.deleted_at IS NOT NULL
          AND (r.server_version = $2 OR b.server_version = $2)`,
      [stamp.familyId, stamp.version, stamp.userId],
    );
  }
}

function docs(rows: PushedRecord[]): string {
  return JSON.stringify(rows.map((r) => r.doc));
}
