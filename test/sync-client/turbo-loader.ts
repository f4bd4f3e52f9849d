import type { AppSchema, ColumnSchema, TableSchema } from '@nozbe/watermelondb/Schema/index.js';

/**
 * A model of WatermelonDB's turbo first sync (`synchronize({ unsafeTurbo: true })` with
 * `{ syncJson }`), which only runs in the native JSI SQLite adapter and so never in Node:
 * - node_modules/@nozbe/watermelondb/native/shared/Database-turboSync.cpp (`unsafeLoadFromSync`)
 *   walks the body with simdjson's forward-only on-demand parser and inserts every record;
 * - adapters/sqlite/index.js JSON.parses each residual (top-level field other than `changes`);
 * - sync/impl/synchronize.js then requires `timestamp` to be a number > 0.
 * What is modelled: the walk and its errors, the defaults pre-bound to every column, and which
 * JSON types bind to which column types (anything else silently leaves the default). Not modelled:
 * simdjson's own number and string decoding (JSON.parse decodes tokens here; both are strict
 * RFC 8259 parsers and agree on everything PostgreSQL's JSON output contains).
 */

/** A row as the native loader inserts it into SQLite (no booleans there: 0/1). */
export type SqliteRow = Record<string, string | number | null>;

export interface TurboLoad {
  /** Residual top-level fields, JSON.parse'd as the JS adapter does. */
  residuals: Record<string, unknown>;
  /** Per table of the app schema, the inserted rows by id. */
  tables: Record<string, Map<string, SqliteRow>>;
  /**
   * Columns that kept the pre-bound default although the body did not say null (absent, or a JSON
   * type the column type does not take): silent data loss. `table/id.column: why`.
   */
  lost: string[];
}

/** An error the native loader (or the SQLite insert, or synchronize()) raises: the whole sync fails. */
export class TurboLoadError extends Error {}

/** `syncJson` → what a turbo first sync stores, or TurboLoadError. */
export function turboLoad(syncJson: string, schema: AppSchema): TurboLoad {
  const residualText: Record<string, string> = {};
  const tables: TurboLoad['tables'] = {};
  const lost: string[] = [];
  for (const field of object(readOrdered(syncJson), 'the body')) {
    if (field.key !== 'changes') {
      residualText[field.key] = field.text; // simdjson::to_json_string: the value's own JSON text
      continue;
    }
    for (const { key: table, value: changeSet } of object(field.value, 'changes')) {
      for (const { key: kind, value: list } of object(changeSet, `changes.${table}`)) {
        const records = array(list, `changes.${table}.${kind}`);
        // Checked before the table is looked up: even a table the app lacks may not delete.
        if (kind === 'deleted') {
          if (records.length) throw new TurboLoadError('expected deleted field to be empty');
          continue;
        }
        if (kind !== 'created' && kind !== 'updated') throw new TurboLoadError('bad changeset field');
        if (!Object.hasOwn(schema.tables, table)) continue; // a table the app does not have
        const rows = (tables[table] ??= new Map());
        for (const record of records) {
          const row = bind(schema.tables[table], object(record, `a ${table} record`), lost);
          // created and updated are both plain INSERTs into `id` primary key.
          if (rows.has(row.id as string)) throw new TurboLoadError(`UNIQUE constraint failed: ${table}.id`);
          rows.set(row.id as string, row);
        }
      }
    }
  }
  // adapters/sqlite: { key: JSON text } → { key: JSON.parse(text) }
  const residuals = Object.fromEntries(Object.entries(residualText).map(([k, text]) => [k, JSON.parse(text) as unknown]));
  const { timestamp } = residuals;
  if (typeof timestamp !== 'number' || !(timestamp > 0)) throw new TurboLoadError(`pullChanges() returned invalid timestamp ${String(timestamp)}. timestamp must be a non-zero number`);
  return { residuals, tables, lost };
}

/** One record: the INSERT's arguments after the C++ pre-binds defaults, then binds the record's fields in order. */
function bind(table: TableSchema, record: Field[], lost: string[]): SqliteRow {
  const row: SqliteRow = { id: null, _status: 'synced', _changed: '' };
  for (const c of table.columnArray) row[c.name] = c.isOptional ? null : c.type === 'string' ? '' : 0;
  const seen = new Map<string, Json>();
  const bound = new Set<string>();
  for (const { key, value } of record) {
    if (key === 'id') {
      // `std::string_view idView = value` throws on a non-string; a record without an id would
      // insert with the previous record's id (bindings survive sqlite3_reset) or NULL: refused here.
      if (typeof value !== 'string') throw new TurboLoadError(`${table.name}: a record whose id is not a string`);
      row.id = value;
      continue;
    }
    if (!Object.hasOwn(table.columns, key)) continue; // tableSchema.at(key) → out_of_range: skipped
    seen.set(key, value);
    const sqlite = bindable(table.columns[key], value);
    if (sqlite === undefined) continue; // the pre-bound default stays
    row[key] = sqlite;
    bound.add(key);
  }
  if (row.id === null) throw new TurboLoadError(`${table.name}: a record without an id`);
  for (const c of table.columnArray) {
    if (bound.has(c.name) || (c.isOptional && seen.get(c.name) === null)) continue;
    lost.push(`${table.name}/${row.id}.${c.name}: ${seen.has(c.name) ? `JSON ${jsonType(seen.get(c.name)!)} for a ${c.type} column` : 'absent'}`);
  }
  return row;
}

/** What sqlite3_bind_* receives for a JSON value in this column, or undefined when nothing is bound. */
function bindable(column: ColumnSchema, value: Json): string | number | undefined {
  switch (column.type) {
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'number':
      return typeof value === 'number' ? value : undefined;
    case 'boolean':
      // sqlite3_bind_int of a JSON boolean, or of a number 0/1 ("compat with sanitizeRaw").
      if (typeof value === 'boolean') return value ? 1 : 0;
      return value === 0 || value === 1 ? Number(value !== 0) : undefined;
  }
}

// --- An ordered JSON reader: objects as their fields in text order, duplicates kept, as simdjson's on-demand API walks them.

type Json = null | boolean | number | string | Json[] | Field[];
interface Field {
  key: string;
  value: Json;
  /** The value's JSON text. */
  text: string;
}
/** Marks the arrays that hold an object's fields. */
const FIELDS = Symbol('object');

function object(value: Json, what: string): Field[] {
  if (!Array.isArray(value) || !(FIELDS in value)) throw new TurboLoadError(`${what} is not an object`);
  return value as Field[];
}

function array(value: Json, what: string): Json[] {
  if (!Array.isArray(value) || FIELDS in value) throw new TurboLoadError(`${what} is not an array`);
  return value as Json[];
}

function jsonType(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return FIELDS in value ? 'object' : 'array';
  return typeof value;
}

function readOrdered(text: string): Json {
  try {
    JSON.parse(text); // strict: anything that is not JSON fails here, as it fails simdjson
  } catch (error) {
    throw new TurboLoadError(`not JSON: ${(error as Error).message}`);
  }
  let at = 0;
  const token = (pattern: RegExp): string => {
    pattern.lastIndex = at;
    const match = pattern.exec(text)!;
    at = pattern.lastIndex;
    return match[0];
  };
  const space = () => token(/[ \t\n\r]*/y);
  const value = (): Json => {
    space();
    const c = text[at];
    if (c === '{' || c === '[') {
      at++;
      const items: Array<Json | Field> = [];
      while ((space(), text[at]) !== (c === '{' ? '}' : ']')) {
        if (items.length) at++; // ,
        if (c === '[') {
          items.push(value());
          continue;
        }
        space();
        const key = JSON.parse(token(/"(?:[^"\\]|\\.)*"/y)) as string;
        space();
        at++; // :
        space();
        const start = at;
        items.push({ key, value: value(), text: text.slice(start, at) });
      }
      at++;
      return c === '{' ? Object.assign(items as Field[], { [FIELDS]: true as const }) : (items as Json[]);
    }
    return JSON.parse(token(/"(?:[^"\\]|\\.)*"|[^,\]}\s]+/y)) as Json;
  };
  return value();
}
