/**
 * The synced tables and their wire columns: the one source of truth that
 * push validation, the pull SQL and the push SQL are all generated from.
 * Table and column names below are the only identifiers ever interpolated
 * into SQL by the sync module; nothing a client sends reaches SQL text.
 */

import { BLOOD_GROUPS, PATIENT_LIMITS } from '../families/families.constants.js';

/**
 * A synced column as the registry describes it: its kind decides which limits it has
 * (a string its length, a timestamp or an integer its bounds, an enum its values).
 */
export type ColumnSpec = StringColumnSpec | IntegerColumnSpec | NumberColumnSpec | EnumColumnSpec | PlainColumnSpec;
export type ColumnKind = ColumnSpec['kind'];

interface ColumnSpecBase {
  name: string;
  /** PostgreSQL type used to cast pushed values. */
  sqlType: string;
  /** Must be present and non-null in every pushed created/updated record. */
  required?: boolean;
  /** Sent on pull, ignored on push (families.invite_code, families.created_at). */
  readOnly?: boolean;
  /**
   * NOT NULL in the database but optional on push: a pushed null counts as absent
   * (an existing row keeps its value, a new row gets the server's time).
   */
  nullMeansAbsent?: boolean;
  /** The app schema version (WatermelonDB `schemaVersion`) that added this column; 1 when absent. */
  since?: number;
}

/** varchar / text. */
export interface StringColumnSpec extends ColumnSpecBase {
  kind: 'string';
  /** At most this many characters; required strings must also be non-empty. */
  maxLength: number;
}

/** `timestamp`: ms since epoch, bigint; `integer`: a whole number. */
export interface IntegerColumnSpec extends ColumnSpecBase {
  kind: 'timestamp' | 'integer';
  /** Inclusive bounds. */
  min: number;
  max: number;
}

/** double precision, finite. */
export interface NumberColumnSpec extends ColumnSpecBase {
  kind: 'number';
  /** Exclusive physical bounds, when it has them. */
  gt?: number;
  lt?: number;
}

export interface EnumColumnSpec extends ColumnSpecBase {
  kind: 'enum';
  values: readonly string[];
}

/** The kinds whose rule is the kind alone. */
export interface PlainColumnSpec extends ColumnSpecBase {
  kind:
    | 'boolean'
    | 'uuid'
    | 'json-number-map' // json object name → finite number; a JSON string on the wire
    | 'json-string-array'; // json array of strings; a JSON string on the wire
}

export interface TableSpec {
  name: SyncTableName;
  /** Columns besides id and family_id (created_at / updated_at included). */
  columns: readonly ColumnSpec[];
  /** The families table: one row per family, scoped by its own id, never created or deleted by sync. */
  isFamilyRow?: boolean;
  /** The app schema version (WatermelonDB `schemaVersion`) that added this table; 1 when absent. */
  since?: number;
}

/**
 * The app's WatermelonDB schema versions the server knows. A pull for a client on an older
 * `schema_version` leaves out the tables and columns added after it (the client has nowhere to
 * put them; its migration sync fetches them in full once it upgrades). A client that sends no
 * `schema_version`, or a newer one, gets everything.
 *
 * 1 — the seven tables and their columns as DESIGN.md lists them (the first app release that syncs).
 *
 * When the app adds a synced table or column in schema version N, add it here with `since: N` and
 * raise APP_SCHEMA_VERSION: phones still on an older version then get neither (WatermelonDB would
 * warn about an unknown table on every pull), and get them in full with their migration sync.
 * Never mark something the released app already has: a phone that has it would stop receiving it.
 */
export const APP_SCHEMA_VERSION = 1;

export const SYNC_TABLE_NAMES = [
  'families',
  'transfusions',
  'blood_tests',
  'blood_test_results',
  'analysis_templates',
  'reminders',
  'documents',
] as const;
export type SyncTableName = (typeof SYNC_TABLE_NAMES)[number];

/** Longest free text we accept in a `text` column (notes, comments). */
export const TEXT_MAX_LENGTH = 20_000;
const MAX_TIMESTAMP = 8_640_000_000_000_000; // the largest JS Date

const str = (name: string, maxLength: number, required = false): StringColumnSpec => ({ name, kind: 'string', sqlType: 'text', maxLength, required });
const text = (name: string): StringColumnSpec => str(name, TEXT_MAX_LENGTH);
const ts = (name: string, required = false): IntegerColumnSpec => ({ name, kind: 'timestamp', sqlType: 'bigint', required, min: 0, max: MAX_TIMESTAMP });
const weight = (name: string): NumberColumnSpec => ({ name, kind: 'number', sqlType: 'double precision', gt: 0, lt: 500 });
const num = (name: string, required = false): NumberColumnSpec => ({ name, kind: 'number', sqlType: 'double precision', required });
/**
 * JSON columns are `json`, not `jsonb`: stored as the push wrote them (the compact JSON.stringify of
 * the validated value) and sent back as that text. jsonb would print numbers from its numeric in
 * full decimal (5e-324 as 326 characters), turning a small push into a huge pull for every device.
 */
const indicators = (name: string): PlainColumnSpec => ({ name, kind: 'json-number-map', sqlType: 'json' });

/** WatermelonDB's own bookkeeping columns: every synced row has them. */
const auditTs = (name: string): IntegerColumnSpec => ({ ...ts(name), nullMeansAbsent: true });
const audit: readonly ColumnSpec[] = [auditTs('created_at'), auditTs('updated_at')];

const FREQUENCIES = ['once', 'daily', 'weekly', 'monthly', 'every_n_days'] as const;
export const DOCUMENT_CATEGORIES = ['lab_result', 'discharge_summary', 'prescription', 'imaging', 'other'] as const;

export const SYNC_TABLES: readonly TableSpec[] = [
  {
    name: 'families',
    isFamilyRow: true,
    columns: [
      { ...str('invite_code', 6), readOnly: true },
      // The same rules as PATCH /families/me (families.constants.ts).
      str('patient_name', PATIENT_LIMITS.nameMax),
      { ...ts('patient_birth_date'), min: PATIENT_LIMITS.birthDateMin },
      weight('patient_weight_kg'),
      { name: 'patient_blood_group', kind: 'enum', sqlType: 'text', values: BLOOD_GROUPS },
      str('patient_diagnosis', PATIENT_LIMITS.diagnosisMax),
      str('notes', PATIENT_LIMITS.notesMax),
      { ...auditTs('created_at'), readOnly: true },
      auditTs('updated_at'),
    ],
  },
  {
    name: 'transfusions',
    columns: [
      ts('date', true),
      { name: 'volume_ml', kind: 'number', sqlType: 'double precision', gt: 0, lt: 5000 },
      weight('patient_weight_kg'),
      str('medication', 500),
      indicators('indicators_before'),
      indicators('indicators_after'),
      str('hospital', 300),
      str('reaction', 2000),
      text('notes'),
      ...audit,
    ],
  },
  {
    name: 'blood_tests',
    columns: [ts('date', true), text('comment'), str('laboratory', 300), ...audit],
  },
  {
    name: 'blood_test_results',
    columns: [
      { name: 'blood_test_id', kind: 'uuid', sqlType: 'uuid', required: true },
      str('name', 100, true),
      num('value', true),
      str('unit', 50),
      num('reference_min'),
      num('reference_max'),
      ...audit,
    ],
  },
  {
    name: 'analysis_templates',
    columns: [str('name', 200, true), { name: 'indicators_json', kind: 'json-string-array', sqlType: 'json', required: true }, ...audit],
  },
  {
    name: 'reminders',
    columns: [
      str('title', 300, true),
      ts('remind_at', true),
      { name: 'frequency', kind: 'enum', sqlType: 'text', required: true, values: FREQUENCIES },
      { name: 'interval_days', kind: 'integer', sqlType: 'integer', min: 1, max: 3660 },
      { name: 'is_completed', kind: 'boolean', sqlType: 'boolean', required: true },
      ts('completed_at'),
      text('notes'),
      ...audit,
    ],
  },
  {
    name: 'documents',
    columns: [
      str('name', 300, true),
      { name: 'category', kind: 'enum', sqlType: 'text', required: true, values: DOCUMENT_CATEGORIES },
      str('file_url', 500),
      str('mime_type', 100),
      { name: 'size_bytes', kind: 'integer', sqlType: 'bigint', min: 0, max: Number.MAX_SAFE_INTEGER },
      text('notes'),
      ...audit,
    ],
  },
];

export const SYNC_TABLE_BY_NAME: ReadonlyMap<string, TableSpec> = new Map(SYNC_TABLES.map((t) => [t.name, t]));

/** Columns a push may write (read-only ones are accepted and ignored). */
export function writableColumns(table: TableSpec): ColumnSpec[] {
  return table.columns.filter((c) => !c.readOnly);
}

/** Whether a client on `schemaVersion` has this table or column (null: unknown, assume it has everything). */
export function inClientSchema(item: { since?: number }, schemaVersion: number | null): boolean {
  return schemaVersion === null || (item.since ?? 1) <= schemaVersion;
}

export function isJsonColumn(column: ColumnSpec): boolean {
  return column.kind === 'json-number-map' || column.kind === 'json-string-array';
}
