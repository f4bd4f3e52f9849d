import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { signedInSql } from '../../common/family-scope/membership.js';
import { prepared, runBatch, type BatchStatement } from '../../database/statement-batch.js';
import { inClientSchema, isJsonColumn, SYNC_TABLES, writableColumns, type ColumnSpec, type SyncTableName, type TableSpec } from './sync-schema.js';
import type { PushedRecord } from './sync-validator.js';
import type { WriteStamp } from './write-stamp.js';

/**
 * How one table is read for a pull:
 * - `full`: every live row as `created` (first sync, replacement, table new to the client);
 * - `incremental`: rows with server_version > cursor, created / updated / deleted;
 * - `columns`: incremental plus every live row (the client gained columns in this table);
 * - `held`: what `incremental` sends, plus every live row, as `created` or `updated` by the cursor (a
 *   replacement for a phone that may hold this family's records: see planPull). Its deletions since the
 *   cursor matter: a replacement keeps the phone's records it has not pushed (WatermelonDB's `created`),
 *   and one the server deleted after the cursor (its push's answer was lost, another member deleted it)
 *   would otherwise be pushed again and revive the record (found by review).
 */
export type PullMode = 'full' | 'incremental' | 'columns' | 'held';

export interface PullPlan {
  familyId: string;
  cursor: number;
  deviceId: string | null;
  timestamp: number;
  replacement: boolean;
  /** Tables the client has, each with how it is read (tables newer than its schema are absent). */
  modes: Partial<Record<SyncTableName, PullMode>>;
  /** The client's app schema version: columns added after it are left out (null: send every column). */
  schemaVersion: number | null;
}

/** The caller's membership and this device's snapshot record, as the pull snapshot sees them. */
export interface PullState {
  familyId: string | null;
  joinedVersion: number;
  /** families.sync_version of the family asked for (null if it does not exist). */
  version: number | null;
  /**
   * The device's cursor was issued to it with this family's data: it holds this family up to the
   * cursor, and an incremental pull from it is exact even from before the caller's join (removed
   * and re-added, or left and rejoined).
   */
  deviceHoldsFamily: boolean;
  /** The device's cursor was issued to it with another family's data, or this installation has no record of it: replace. */
  deviceHoldsOtherFamily: boolean;
  /**
   * Known to hold another family's records (not merely: unknown): the installation's record of the
   * cursor names another family, or, without one, its latest recorded answer carried another family.
   * A guess when there is no record of the cursor, used only to say how a replacement's rows are
   * listed (planPull), never whether the pull is a replacement.
   */
  knownToHoldOtherFamily: boolean;
  /** The pull's sign-in (a refresh-token chain) still has a token not revoked; true when none was asked about. */
  signedIn: boolean;
  /** The database's clock, in ms since epoch: what versions follow (FamilyVersionService), whatever this instance's clock says. */
  nowMs: number;
  /** The cursor is on record for this installation (of any family): the server answered it, so it is a version some family had, not a made-up number. */
  cursorIssued: boolean;
  /**
   * The installation is known: a cursor of it in this family, or a last push of it by this user
   * (true without a device id). A new one is counted by NewInstallationLimiter before its cursor is recorded.
   */
  installationKnown: boolean;
}

/** A pushed id as found on the server (any family). */
export interface ExistingRow {
  tbl: SyncTableName;
  id: string;
  family_id: string;
  server_version: number;
  deleted: boolean;
}

/**
 * A live result of a blood test this push deletes, as found on the server (the push's own look-up
 * reads them with the pushed ids): the deletion would tombstone it (tombstoneOrphanResults).
 */
export interface CascadedResult {
  id: string;
  blood_test_id: string;
  server_version: number;
}

/** What the push's one look-up found: the pushed (and referenced) ids, and the results its blood-test deletions would take along. */
export interface PushLookup {
  rows: ExistingRow[];
  cascaded: CascadedResult[];
}

const q = (identifier: string) => `"${identifier}"`;

/** For the rest of the transaction, prepared statements use their generic plan (see pullBody). */
const GENERIC_PLANS: BatchStatement = { text: 'SET LOCAL plan_cache_mode = force_generic_plan' };

/**
 * The wire record of a row `t` as a projection: id, family_id and every wire column the client's
 * schema has (JSON columns as strings). `row_to_json` of it writes compact JSON
 * (json_build_object writes `"k" : v`) and is no slower.
 */
function recordProjection(spec: TableSpec, schemaVersion: number | null): string {
  const fields = [
    `t.id`,
    spec.isFamilyRow ? `t.id AS family_id` : `t.family_id`,
    ...spec.columns.filter((c) => inClientSchema(c, schemaVersion)).map((c) => `t.${q(c.name)}${isJsonColumn(c) ? '::text' : ''} AS ${q(c.name)}`),
  ];
  return `SELECT ${fields.join(', ')}`;
}

/**
 * The row's current life was pushed as new by this installation ($3 device id), whoever was signed
 * in: it is the database that holds it. Not matched by the user as well (as it was): on a tablet
 * shared by members of one family the next member's pull got the previous member's last pushed
 * records as `created`, and WatermelonDB re-created one the tablet had deleted since, so the
 * deletion was never pushed (found by review). The guess is not symmetric: `updated` to a phone that
 * does not hold the row (two members' phones restored from one backup, sending one id) only makes
 * WatermelonDB log "doesn't exist locally" as it creates it.
 */
const ownRow = (device: string) => `($3::text IS NOT NULL AND ${device} = $3::text)`;

/**
 * Which list an incremental row goes to ($2 cursor, $3 device id, $5 user). `created` only for a
 * device that does not hold the row: not the device that pushed its current life as new, and not
 * a device that still holds an earlier life (revived after deletions that device neither pulled
 * nor pushed): sync_held_in_earlier_life (migrations SyncHeldInEarlierLife and
 * SyncHeldInEarlierLifeByInstallation, a function so that the pull's statement stays cheap to
 * plan). Rows never revived (prev_spans NULL) never reach it.
 */
function kindSql(spec: TableSpec): string {
  const ownDevice = ownRow('t.created_by_device');
  if (spec.isFamilyRow) return `CASE WHEN t.server_created_version > $2 AND NOT ${ownDevice} THEN 'c' ELSE 'u' END`;
  return `CASE WHEN t.deleted_at IS NOT NULL THEN 'd'
              WHEN t.server_created_version <= $2 OR ${ownDevice} THEN 'u'
              WHEN t.prev_spans IS NULL THEN 'c'
              WHEN sync_held_in_earlier_life(t.prev_spans, $2, $3::text, $5::uuid) THEN 'u'
              ELSE 'c' END`;
}

/**
 * One table's `{"created":[…],"updated":[…],"deleted":[…]}` as JSON text. Parameters: $1 family,
 * $2 cursor, $3 device id, $5 user. Identifiers come from the registry only.
 */
function tableChangesSql(spec: TableSpec, mode: PullMode, schemaVersion: number | null): string {
  const scope = spec.isFamilyRow ? 't.id = $1' : 't.family_id = $1';
  const deletedAt = spec.isFamilyRow ? 'NULL::bigint' : 't.deleted_at';
  if (mode === 'full') {
    // Every row live and `created`: one aggregate, no classification. The same text as the general
    // form below, which took PostgreSQL half as long again for a 50,000-record first sync (its
    // subquery and three FILTERed aggregates: 1.1 s against 0.75 s, found by the benchmark).
    return `(SELECT '{"created":' || coalesce(json_agg(row_to_json(rec))::text, '[]') || ',"updated":[],"deleted":[]}'
               FROM ${q(spec.name)} t CROSS JOIN LATERAL (${recordProjection(spec, schemaVersion)}) rec
              WHERE ${scope} AND ${deletedAt} IS NULL)`;
  }
  // `incremental`: the changes since the cursor; `columns` and `held`: those and every live row.
  const where = mode === 'incremental' ? `${scope} AND t.server_version > $2` : `${scope} AND (t.server_version > $2 OR ${deletedAt} IS NULL)`;
  const kind = kindSql(spec);
  return `(SELECT '{"created":' || coalesce((json_agg(r.rec) FILTER (WHERE r.kind = 'c'))::text, '[]')
               || ',"updated":' || coalesce((json_agg(r.rec) FILTER (WHERE r.kind = 'u'))::text, '[]')
               || ',"deleted":' || coalesce((json_agg(r.id) FILTER (WHERE r.kind = 'd'))::text, '[]') || '}'
           FROM (SELECT t.id, ${kind} AS kind,
                        CASE WHEN ${deletedAt} IS NULL THEN row_to_json(rec) END AS rec
                   FROM ${q(spec.name)} t CROSS JOIN LATERAL (${recordProjection(spec, schemaVersion)}) rec
                  WHERE ${where}) r)`;
}

/** SQL for a pushed column value read from the record's JSON document `s.doc`. */
function valueSql(column: ColumnSpec): string {
  // The validator put the compact JSON text in the document (a JSON string): stored as is.
  if (isJsonColumn(column)) return `(s.doc ->> '${column.name}')::json`;
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
      : // A tombstone that is written again comes back to life as a new record of this device and
        // user (devices that pulled the deletion must get it as `created`); the life that ended is
        // appended to prev_spans with who created and who deleted it (a tombstone's updated_by is
        // its deleter), for devices that never pulled the deletion (they still hold it: `updated`).
        `UPDATE ${q(spec.name)} AS t SET ${sets.join(', ')},
                server_created_version = CASE WHEN t.deleted_at IS NULL THEN t.server_created_version ELSE $3 END,
                created_by_device = CASE WHEN t.deleted_at IS NULL THEN t.created_by_device ELSE $5::varchar END,
                created_by = CASE WHEN t.deleted_at IS NULL THEN t.created_by ELSE $4 END,
                prev_spans = CASE WHEN t.deleted_at IS NULL THEN t.prev_spans
                                  ELSE coalesce(t.prev_spans, '[]'::jsonb) || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                                         'c', t.server_created_version, 'd', t.deleted_at, 'cd', t.created_by_device, 'cu', t.created_by,
                                         'dd', t.deleted_by_device, 'du', t.updated_by))) END,
                deleted_by_device = NULL,
                deleted_at = NULL, server_version = $3, updated_by = $4
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
    // A replayed record (SyncPushService): its row, unchanged, gets the push's version.
    const touch = spec.isFamilyRow
      ? `UPDATE families SET server_version = $3 WHERE id = $2 AND id = ANY($1::uuid[])`
      : `UPDATE ${q(spec.name)} SET server_version = $3 WHERE family_id = $2 AND id = ANY($1::uuid[]) AND deleted_at IS NULL`;
    const tombstone = spec.isFamilyRow
      ? null
      : `UPDATE ${q(spec.name)} SET deleted_at = $3, server_version = $3, updated_by = $4, deleted_by_device = $5::varchar
          WHERE family_id = $2 AND id = ANY($1::uuid[]) AND deleted_at IS NULL`;
    return [spec.name, { update, insert, tombstone, touch }] as const;
  }),
);

/** The sync module's SQL. Every statement is set-based: its count never depends on the number of records. */
@Injectable()
export class SyncRepository {
  /** The family's version as it is now, outside any snapshot or write: the answer to an empty push. */
  async familyVersion(manager: EntityManager, familyId: string): Promise<number | null> {
    const rows: Array<{ sync_version: string }> = await manager.query('SELECT sync_version FROM families WHERE id = $1', [familyId]);
    return rows.length ? Number(rows[0].sync_version) : null;
  }

  /**
   * A "sync now" stream's first statement, run once the stream hears its end signals: the family's
   * version, and whether the caller is still what the guards saw — a member of `familyId` since
   * the same join (`joinedVersion`) and, for a token that names one, signed in (some refresh token
   * of the chain `signInId` not revoked: a logout, a detected reuse, a removal and a password reset
   * revoke them all). `live` is false for a deleted user.
   */
  async streamState(
    manager: EntityManager,
    userId: string,
    familyId: string,
    joinedVersion: number,
    signInId: string | null,
  ): Promise<{ live: boolean; version: number | null }> {
    const rows: Array<{ live: boolean; sync_version: string | null }> = await manager.query(
      `SELECT coalesce(u.family_id = $2 AND u.family_joined_version = $3::bigint
                AND ${signedInSql('u.id', '$4')},
                       false) AS live,
              f.sync_version::text AS sync_version
         FROM users u
         LEFT JOIN families f ON f.id = $2
        WHERE u.id = $1`,
      [userId, familyId, joinedVersion, signInId],
    );
    const row = rows[0];
    if (!row) return { live: false, version: null };
    return { live: row.live === true, version: row.sync_version === null ? null : Number(row.sync_version) };
  }

  /**
   * The stored size, in bytes, of the family's live rows: what a full pull of it would send, give or
   * take the JSON's punctuation. One statement; it reads the rows a full pull reads anyway.
   */
  async liveRowBytes(manager: EntityManager, familyId: string, tables?: readonly SyncTableName[]): Promise<number> {
    const parts = SYNC_TABLES.filter((spec) => !spec.isFamilyRow && (!tables || tables.includes(spec.name))).map(
      (spec) => `SELECT pg_column_size(t.*)::bigint AS size FROM ${q(spec.name)} t WHERE t.family_id = $1 AND t.deleted_at IS NULL`,
    );
    // The family row alone (a migration sync naming only `families`): one row, nothing to measure.
    if (!parts.length) return 0;
    const rows: Array<{ bytes: string }> = await manager.query(`SELECT coalesce(sum(size), 0)::text AS bytes FROM (${parts.join(' UNION ALL ')}) rows`, [familyId]);
    return Number(rows[0].bytes);
  }

  /**
   * The pull's first statement, in its snapshot: the caller's membership as it is now (the guard
   * read it before the snapshot began), the family's version and what this device holds.
   * $1 user, $2 family, $3 device id, $4 cursor.
   *
   * What a phone holds is named by its cursor: the timestamp of the last answer it applied, which
   * SyncInstallationsRepository.recordCursor wrote down with the family that answer was of. Looked up for this installation,
   * it says "this family, up to the cursor" (an old cursor, from before a removal and re-adding,
   * is exact) or "another family" (replace), whoever was signed in when it was issued and whatever
   * other phone sends the same id. A cursor this installation has no record of (trimmed, pulled
   * without the header, from before sync_cursors existed, made up) names nothing, and nothing else
   * can stand in for it (the newest record below it may be another phone's, with the same id): the
   * phone may hold anything, so it is replaced too (found by review: falling back to the cursor
   * rules let another user's sign-in on such a phone pull incrementally, on top of the previous
   * family's records). Without a device id there is nothing to look up: the cursor rules decide.
   * $5: the request's sign-in (its token's refresh-token chain; null: not asked), read in the same
   * snapshot as the membership: a logout or a password change or reset committed since the guard
   * ran ended it, and the phone must not be handed the family's records then (as a write, or the
   * event stream, must not go on for it). `installationKnown`, in the same statement: whether the
   * pull would record a new installation (NewInstallationLimiter).
   */
  async pullState(
    manager: EntityManager,
    userId: string,
    familyId: string,
    deviceId: string | null,
    cursor: number,
    signInId: string | null,
    before: readonly BatchStatement[] = [],
  ): Promise<PullState | null> {
    const results = await runBatch(manager, [
      ...before,
      prepared(
        `SELECT u.family_id::text AS family_id, u.family_joined_version::text AS joined_version, f.sync_version::text AS sync_version,
                    held.this_family, held.other_family, latest.other_family AS latest_other_family,
                    ${signedInSql('u.id', '$5')} AS signed_in,
                    (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now_ms,
                    ($3::text IS NULL
                      OR EXISTS (SELECT 1 FROM sync_cursors c WHERE c.device_id = $3::text AND c.family_id = $2)
                      OR EXISTS (SELECT 1 FROM sync_last_pushes p WHERE p.device_id = $3::text AND p.user_id = $1)) AS installation_known
               FROM users u
               LEFT JOIN families f ON f.id = $2
               CROSS JOIN LATERAL (
                      SELECT coalesce(bool_or(c.family_id = $2), false) AS this_family, coalesce(bool_or(c.family_id <> $2), false) AS other_family
                        FROM sync_cursors c
                       WHERE c.device_id = $3::text AND c.version = $4::bigint
                    ) held
               LEFT JOIN LATERAL (
                      SELECT c.family_id <> $2 AS other_family FROM sync_cursors c WHERE c.device_id = $3::text ORDER BY c.version DESC LIMIT 1
                    ) latest ON true
              WHERE u.id = $1`,
        [userId, familyId, deviceId, cursor, signInId],
      ),
    ]);
    const rows = results[results.length - 1] as Array<{
      family_id: string | null;
      joined_version: string;
      sync_version: string | null;
      this_family: boolean;
      other_family: boolean;
      latest_other_family: boolean | null;
      signed_in: boolean;
      now_ms: string;
      installation_known: boolean;
    }>;
    const row = rows[0];
    if (!row) return null;
    return {
      familyId: row.family_id,
      joinedVersion: Number(row.joined_version),
      version: row.sync_version === null ? null : Number(row.sync_version),
      // Two families at one timestamp on one id (two phones, the same millisecond): not known, replace.
      deviceHoldsFamily: row.this_family && !row.other_family,
      deviceHoldsOtherFamily: row.other_family || (deviceId !== null && cursor > 0 && !row.this_family),
      knownToHoldOtherFamily: row.other_family || (!row.this_family && row.latest_other_family === true),
      signedIn: row.signed_in,
      nowMs: Number(row.now_ms),
      cursorIssued: row.this_family || row.other_family,
      installationKnown: row.installation_known,
    };
  }

  /**
   * The whole pull response body, built by PostgreSQL in one statement and returned as text:
   * `{"changes":{…},"timestamp":…[,"experimentalStrategy":"replacement"]}`, compact. `userId` is the
   * caller's: with `plan.deviceId`, it names the device (see ownRow).
   */
  async pullBody(manager: EntityManager, plan: PullPlan, userId: string, then: readonly BatchStatement[] = []): Promise<string> {
    const tables = SYNC_TABLES.filter((spec) => plan.modes[spec.name] !== undefined)
      .map((spec, i) => `'${i ? ',' : ''}"${spec.name}":' || ${tableChangesSql(spec, plan.modes[spec.name]!, plan.schemaVersion)}`)
      .join('\n || ');
    const strategy = plan.replacement ? `,"experimentalStrategy":"replacement"` : '';
    // The FROM clause types $2/$3/$5 even when no table reads them (a first sync).
    const text = `SELECT '{"changes":{' || ${tables || "''"} || '},"timestamp":' || $4::bigint::text || '${strategy}}' AS body
                    FROM (SELECT $1::uuid AS family, $2::bigint AS cursor, $3::text AS device, $5::uuid AS usr) AS params`;
    const values = [plan.familyId, plan.cursor, plan.deviceId, plan.timestamp, userId];
    // An incremental pull (most pulls) reads a few index entries per table, in a fraction of what
    // planning its seven sub-selects takes: PostgreSQL plans it once per connection (a generic plan,
    // which is the same index range scans whatever the family and cursor: the cursor's value only
    // changes how many rows the range holds). Left to choose, it plans every call afresh: a custom
    // plan, whose estimate for a small range is always far below the generic plan's.
    const incremental = Object.values(plan.modes).every((mode) => mode === 'incremental');
    const statements = incremental ? [GENERIC_PLANS, prepared(text, values)] : [{ text, values }];
    const results = (await runBatch(manager, [...statements, ...then])) as Array<Array<{ body: string }>>;
    return results[statements.length - 1][0].body;
  }

  /**
   * Every pushed id (and referenced blood test) as it exists on the server, in any family; and, in
   * the same statement, every live result of this family under the blood tests the push deletes
   * (`deletedTests`): what the deletion would take along. One statement whatever the sizes; null
   * when there is nothing to look up. Its rows are read by `existingRows`.
   */
  findExisting(idsByTable: Map<SyncTableName, string[]>, cascade: { familyId: string; deletedTests: string[] }): BatchStatement | null {
    const parts: string[] = [];
    const params: Array<string | string[]> = [];
    const param = (value: string | string[]) => `$${params.push(value)}`;
    for (const [table, ids] of idsByTable) {
      if (!ids.length) continue;
      const p = `${param(ids)}::uuid[]`;
      parts.push(
        table === 'families'
          ? `SELECT 'families' AS tbl, id::text, id::text AS family_id, server_version::text, false AS deleted, NULL::text AS of_test FROM families WHERE id = ANY(${p})`
          : `SELECT '${table}' AS tbl, id::text, family_id::text, server_version::text, deleted_at IS NOT NULL AS deleted, NULL::text AS of_test FROM ${q(table)} WHERE id = ANY(${p})`,
      );
    }
    if (cascade.deletedTests.length) {
      // blood_test_results_blood_test_id_idx; the family condition keeps another family's rows out (its test is a 403 anyway).
      parts.push(
        `SELECT 'blood_test_results' AS tbl, id::text, family_id::text, server_version::text, false AS deleted, blood_test_id::text AS of_test
           FROM blood_test_results
          WHERE blood_test_id = ANY(${param(cascade.deletedTests)}::uuid[]) AND family_id = ${param(cascade.familyId)}::uuid AND deleted_at IS NULL`,
      );
    }
    return parts.length ? { text: parts.join('\nUNION ALL\n'), values: params } : null;
  }

  /** What findExisting's statement found (no rows without one); versions come back as text (bigint). */
  existingRows(found: unknown[] = []): PushLookup {
    const lookup: PushLookup = { rows: [], cascaded: [] };
    for (const { of_test, server_version, ...row } of found as Array<Omit<ExistingRow, 'server_version'> & { server_version: string; of_test: string | null }>) {
      const version = Number(server_version);
      if (of_test === null) lookup.rows.push({ ...row, server_version: version });
      else lookup.cascaded.push({ id: row.id, blood_test_id: of_test, server_version: version });
    }
    return lookup;
  }

  /**
   * The statements below write a push's rows; SyncPushService sends them in one batch. Each one is
   * set-based: one per table and kind of change, whatever the number of records.
   */
  updateRows(spec: TableSpec, rows: PushedRecord[], stamp: WriteStamp): BatchStatement {
    const values: unknown[] = [docs(rows), stamp.familyId, stamp.version, stamp.userId];
    if (!spec.isFamilyRow) values.push(stamp.deviceId);
    return prepared(SQL.get(spec.name)!.update, values);
  }

  /** Its one row counts the rows inserted (`inserted`): fewer than given only if an id appeared in another family meanwhile. */
  insertRows(spec: TableSpec, rows: PushedRecord[], stamp: WriteStamp): BatchStatement {
    return prepared(SQL.get(spec.name)!.insert!, [docs(rows), stamp.familyId, stamp.version, stamp.userId, stamp.deviceId, stamp.now]);
  }

  /** The count of an insert statement's rows (insertRows, insertBloodTestTombstones). */
  inserted(rows: unknown[]): number {
    return (rows as Array<{ inserted: number }>)[0].inserted;
  }

  touch(spec: TableSpec, ids: string[], stamp: WriteStamp): BatchStatement {
    return prepared(SQL.get(spec.name)!.touch, [ids, stamp.familyId, stamp.version]);
  }

  tombstone(spec: TableSpec, ids: string[], stamp: WriteStamp): BatchStatement {
    return prepared(SQL.get(spec.name)!.tombstone!, [ids, stamp.familyId, stamp.version, stamp.userId, stamp.deviceId]);
  }

  /**
   * Tombstones of blood tests a device created and deleted before it ever synced, which the server
   * never had, so that the results it pushed under them can be written and die with them (see
   * checkBloodTestRefs): the pull then sends the results' deletion to the device that still holds
   * them. A tombstone's columns are never sent (a pull names it by id) and a revival of the id
   * writes the pushed record over them; `date`, the only required one, is 0. Counts the rows
   * inserted (`inserted`; ON CONFLICT DO NOTHING: an id that appeared in another family since the
   * push's check).
   */
  insertBloodTestTombstones(ids: string[], stamp: WriteStamp): BatchStatement {
    return prepared(
      `WITH ins AS (
             INSERT INTO blood_tests (id, family_id, date, created_at, updated_at, server_version, server_created_version,
                                      deleted_at, created_by, updated_by, created_by_device, deleted_by_device)
             SELECT id, $2, 0, $6, $6, $3, $3, $3, $4, $4, $5, $5 FROM unnest($1::uuid[]) AS id
             ON CONFLICT (id) DO NOTHING
             RETURNING 1)
           SELECT count(*)::int AS inserted FROM ins`,
      [ids, stamp.familyId, stamp.version, stamp.userId, stamp.deviceId, stamp.now],
    );
  }

  /**
   * Results of a blood test that is deleted die with it: results written in this
   * push under an already deleted test, and live results of tests deleted now.
   * Only results the deleting device has seen get here: one changed after its
   * cursor was a 409 (assertNoConflicts, from findExisting's cascade rows).
   */
  tombstoneOrphanResults(stamp: WriteStamp): BatchStatement {
    // deleted_by_device stays unknown: the device that deleted the test may still hold the results.
    // Both sides are found by this write's version (server_version = $2, on the (family_id,
    // server_version) indexes): the tests it tombstoned, and the results it wrote. Joined the other
    // way (every deleted test of the family, then its results) it read all of them, or the whole
    // table in one scan, under the family lock on every push touching blood tests.
    return prepared(
      `UPDATE blood_test_results r SET deleted_at = $2, server_version = $2, updated_by = $3, deleted_by_device = NULL
            WHERE r.deleted_at IS NULL
              AND r.id IN (SELECT live.id FROM blood_tests b JOIN blood_test_results live ON live.blood_test_id = b.id
                            WHERE b.family_id = $1 AND b.server_version = $2 AND b.deleted_at IS NOT NULL AND live.family_id = $1
                           UNION ALL
                           SELECT written.id FROM blood_test_results written JOIN blood_tests b ON b.id = written.blood_test_id
                            WHERE written.family_id = $1 AND written.server_version = $2 AND b.family_id = $1 AND b.deleted_at IS NOT NULL)`,
      [stamp.familyId, stamp.version, stamp.userId],
    );
  }
}

function docs(rows: PushedRecord[]): string {
  return JSON.stringify(rows.map((r) => r.doc));
}
