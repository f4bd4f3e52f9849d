import { createHash } from 'node:crypto';
import { characterCount } from '../../common/http/max-characters.js';
import { unstorableTextProblem } from '../../common/http/storable-text.js';
import { isLowerCaseUuid } from '../../common/http/uuid.js';
import type { DocumentFileRef } from '../documents/document-file-url.validator.js';
import { MAX_REPORTED_ERRORS, SyncErrors, addId, type IdsByTable, type SyncFieldError } from './sync.errors.js';
import { isJsonColumn, SYNC_TABLE_BY_NAME, type ColumnSpec, type TableSpec } from './sync-schema.js';

/** A pushed record reduced to the writable columns it carried, with values normalized for SQL. */
export interface PushedRecord {
  id: string;
  /** `id` plus every writable column present in the push (JSON columns validated, then re-serialized compact). */
  doc: Record<string, unknown>;
  /**
   * The record names the caller's family in `family_id`. A record the server does not have yet
   * (pushed as created, or updated but missing) must: see validateRecord.
   */
  namesFamily: boolean;
  /**
   * The columns the phone changed locally (WatermelonDB's `_changed`) with the values pushed for
   * them, hashed; null when the client sent no `_changed`. The same fingerprint in the device's next
   * push means no local edit since: a retry of a push whose answer was lost (see replayedRecords).
   */
  fingerprint: string | null;
}

export interface PushedTable {
  spec: TableSpec;
  /** created and updated alike: both become "upsert" (created-existing → update, updated-missing → create). */
  upserts: PushedRecord[];
  deleted: string[];
}

export interface ValidatedPush {
  tables: PushedTable[];
  /** blood_test_results.blood_test_id values (distinct). */
  bloodTestRefs: string[];
  /** Every pushed document with a non-empty file_url. */
  fileRefs: DocumentFileRef[];
  /** Ids of the pushed documents without a file_url key: they keep the stored one (see DocumentFileUrlValidator). */
  fileUrlKept: string[];
  recordCount: number;
}

/** Keys WatermelonDB puts on every pushed record; not written (`_changed` only fingerprints the record). */
const IGNORED_KEYS = new Set(['_status', '_changed']);
/** Limits of the JSON columns' contents (the README's column table is generated from them). */
export const JSON_LIMITS = {
  /** Entries of an object (indicator name → number) or of an array of strings. */
  maxEntries: 500,
  /** Characters of an object key or of an array's string. */
  maxTextLength: 100,
  /**
   * Characters of the JSON text itself, checked before it is parsed: whatever JSON.stringify writes
   * within the other limits fits — maxEntries names or strings of maxTextLength code points, each
   * written in at most six characters (a control character, \u001f), with quotes, colon, comma and
   * the longest number (24) — with room to spare for the spaces of pretty-printed JSON. Parsing first
   * let one pushed string of 3,000,000 indicators (38 MB) hold the event loop ~25 s before "at most
   * 500 entries" was answered (found by review).
   */
  maxJsonLength: 500 * (6 * 100 + 32),
  /** Characters of WatermelonDB's `_changed` (the names of the locally changed columns, comma-separated). */
  maxChangedLength: 10_000,
} as const;

/**
 * Adds a field error to `errors`. Once it holds as many as a 422 reports (MAX_REPORTED_ERRORS), the
 * push is refused at once: the rest of it would only make errors nobody reads (found by review: a
 * 64 MiB push of 33,000,000 invalid deleted ids built as many error objects, ~2.8 GB and ~6 s of
 * event loop, for a 422 listing 50).
 */
function report(errors: SyncFieldError[], error: SyncFieldError): void {
  errors.push(error);
  if (errors.length >= MAX_REPORTED_ERRORS) throw SyncErrors.invalid(errors);
}

/**
 * Checks a whole push before anything touches the database: table and column
 * names whitelisted, ids canonical UUIDs, every value typed and within its
 * limits. Collects every field error (422 names the first); a family_id of
 * another family rejects the whole push (403).
 */
export function validatePush(changes: unknown, familyId: string, options: { requireFamilyId?: boolean } = {}): ValidatedPush {
  const errors: SyncFieldError[] = [];
  const foreign: IdsByTable = {};
  const tables: PushedTable[] = [];
  const refs = new Set<string>();
  const fileRefs: DocumentFileRef[] = [];
  const fileUrlKept: string[] = [];
  let recordCount = 0;

  if (!isPlainObject(changes)) throw SyncErrors.invalid([{ table: '(changes)', id: null, field: 'changes', message: 'must be an object' }]);

  // for…in, not Object.entries: a walk that stops at the error cap (see report) does not first copy
  // out every key of an object that may have millions.
  for (const tableName in changes) {
    const tableChanges = changes[tableName];
    const spec = SYNC_TABLE_BY_NAME.get(tableName);
    if (!spec) {
      report(errors, { table: tableName, id: null, field: '(table)', message: 'unknown table' });
      continue;
    }
    if (!isPlainObject(tableChanges)) {
      report(errors, { table: tableName, id: null, field: '(changes)', message: 'must be an object with created, updated and deleted' });
      continue;
    }
    const table: PushedTable = { spec, upserts: [], deleted: [] };
    const seen = new Set<string>();
    for (const key in tableChanges) {
      if (key !== 'created' && key !== 'updated' && key !== 'deleted') {
        report(errors, { table: tableName, id: null, field: key, message: 'expected only created, updated and deleted' });
      }
    }
    for (const kind of ['created', 'updated'] as const) {
      const list = tableChanges[kind] ?? [];
      if (!Array.isArray(list)) {
        report(errors, { table: tableName, id: null, field: kind, message: 'must be an array' });
        continue;
      }
      for (const raw of list) {
        const record = validateRecord(spec, raw, familyId, errors, foreign, kind === 'created' && (options.requireFamilyId ?? false));
        if (!record) continue;
        if (seen.has(record.id)) report(errors, { table: tableName, id: record.id, field: 'id', message: 'duplicated in this push' });
        seen.add(record.id);
        if (spec.isFamilyRow && record.id !== familyId) addId(foreign, tableName, record.id);
        if (spec.name === 'blood_test_results' && typeof record.doc.blood_test_id === 'string') refs.add(record.doc.blood_test_id);
        if (spec.name === 'documents' && typeof record.doc.file_url === 'string' && record.doc.file_url !== '') fileRefs.push({ id: record.id, fileUrl: record.doc.file_url });
        if (spec.name === 'documents' && !('file_url' in record.doc)) fileUrlKept.push(record.id);
        table.upserts.push(record);
      }
    }
    table.deleted = validateDeletedIds(spec, tableChanges.deleted ?? [], seen, errors);
    recordCount += table.upserts.length + table.deleted.length;
    if (table.upserts.length || table.deleted.length) tables.push(table);
  }

  if (errors.length) throw SyncErrors.invalid(errors);
  if (Object.keys(foreign).length) throw SyncErrors.forbidden(foreign, 'The push names another family (family_id or family record)');
  return { tables, bloodTestRefs: [...refs], fileRefs, fileUrlKept, recordCount };
}

/** The valid ids of a table's `deleted` list; `seen` holds the ids already named in this push. */
function validateDeletedIds(spec: TableSpec, deleted: unknown, seen: Set<string>, errors: SyncFieldError[]): string[] {
  const table = spec.name;
  if (!Array.isArray(deleted)) {
    report(errors, { table, id: null, field: 'deleted', message: 'must be an array of ids' });
    return [];
  }
  const ids: string[] = [];
  for (const id of deleted) {
    if (!isLowerCaseUuid(id)) {
      report(errors, { table, id: typeof id === 'string' ? id.slice(0, 64) : null, field: 'id', message: 'must be a lower-case UUID' });
      continue;
    }
    if (spec.isFamilyRow) {
      report(errors, { table, id, field: 'id', message: 'the family record cannot be deleted by sync' });
      continue;
    }
    if (seen.has(id)) report(errors, { table, id, field: 'id', message: 'duplicated in this push' });
    seen.add(id);
    ids.push(id);
  }
  return ids;
}

function validateRecord(
  spec: TableSpec,
  raw: unknown,
  familyId: string,
  errors: SyncFieldError[],
  foreign: IdsByTable,
  mustNameFamily: boolean,
): PushedRecord | null {
  const table = spec.name;
  if (!isPlainObject(raw)) {
    report(errors, { table, id: null, field: '(record)', message: 'must be an object' });
    return null;
  }
  const id = raw.id;
  if (!isLowerCaseUuid(id)) {
    report(errors, { table, id: typeof id === 'string' ? id.slice(0, 64) : null, field: 'id', message: 'must be a lower-case UUID' });
    return null;
  }
  const doc: Record<string, unknown> = { id };
  let namesFamily = false;
  for (const key in raw) {
    const value = raw[key];
    if (key === 'id' || IGNORED_KEYS.has(key)) continue;
    if (key === 'family_id') {
      // The family record's own family_id is its id, which must be the caller's family too.
      if (value === familyId) namesFamily = true;
      else if (typeof value === 'string' && value !== '') addId(foreign, table, id); // another family's: an attack, or data of a family the user left
      else if (value !== null && value !== '') report(errors, { table, id, field: 'family_id', message: "must be a string: the family's id" });
      continue;
    }
    const column = columnOf(spec, key);
    if (!column) {
      report(errors, { table, id, field: key, message: 'unknown column' });
      continue;
    }
    if (column.readOnly) continue;
    if (value === null && column.nullMeansAbsent) continue;
    const result = normalizeValue(column, value);
    if (result instanceof Invalid) {
      report(errors, { table, id, field: key, message: result.error });
      continue;
    }
    // Stored as this text (a json column): compact, each number in its shortest exact form.
    doc[key] = isJsonColumn(column) && result !== null ? JSON.stringify(result) : result;
  }
  // WatermelonDB pushes whole records, so a required column is missing only from a broken client.
  for (const column of spec.columns) {
    if (column.required && raw[column.name] === undefined) report(errors, { table, id, field: column.name, message: 'is required' });
  }
  // A new record says which family it belongs to: WatermelonDB keeps records the app created but
  // never pushed when the user switches family, and an empty family_id would file them under the
  // new family. (An updated record the server turns out not to have is checked after the look-up.)
  if (mustNameFamily && !namesFamily && !spec.isFamilyRow && !hasForeignFamily(raw, familyId)) {
    report(errors, { table, id, field: 'family_id', message: MISSING_FAMILY_ID });
  }
  if (typeof raw._changed === 'string' && raw._changed.length > JSON_LIMITS.maxChangedLength) {
    report(errors, { table, id, field: '_changed', message: `must be at most ${JSON_LIMITS.maxChangedLength} characters: the names of the changed columns` });
    return null;
  }
  return { id, doc, namesFamily, fingerprint: fingerprintOf(raw._changed, doc) };
}

/**
 * The record's locally changed columns (those it carries) and their values, hashed (128 bits).
 * Only with `updated_at` among them: the edit's own time makes the fingerprint one edit's, so the
 * same fingerprint again can only be that edit pushed again. Without it (a model that does not
 * move updated_at, a record not edited since it was created), a user who sets a column back to
 * the value the phone last pushed, after another member changed it, would push the same
 * fingerprint as a new edit, and lose it as a replay.
 */
function fingerprintOf(changed: unknown, doc: Record<string, unknown>): string | null {
  if (typeof changed !== 'string') return null;
  const columns = [...new Set(changed.split(','))].filter((c) => c !== 'id' && Object.hasOwn(doc, c)).sort();
  if (!columns.includes('updated_at')) return null;
  return createHash('sha256').update(JSON.stringify([columns, columns.map((c) => doc[c])])).digest('base64url').slice(0, 22);
}

/** The message of a new record without the caller's family_id. */
export const MISSING_FAMILY_ID = "is required on a new record: the id of the user's family (GET /api/v1/auth/me)";

function hasForeignFamily(raw: Record<string, unknown>, familyId: string): boolean {
  return typeof raw.family_id === 'string' && raw.family_id !== '' && raw.family_id !== familyId;
}

const columnIndex = new Map<string, Map<string, ColumnSpec>>();
function columnOf(spec: TableSpec, name: string): ColumnSpec | undefined {
  let columns = columnIndex.get(spec.name);
  if (!columns) columnIndex.set(spec.name, (columns = new Map(spec.columns.map((c) => [c.name, c]))));
  return columns.get(name);
}

/** A value that failed validation (a class, so user JSON such as {"error": 1} can never look like one). */
export class Invalid {
  constructor(readonly error: string) {}
}

/** The value to store, or an `Invalid`. */
export function normalizeValue(column: ColumnSpec, value: unknown): unknown {
  if (value === null || value === undefined) {
    if (column.kind === 'json-string-array') return [];
    return column.required ? new Invalid('must not be null') : null;
  }
  switch (column.kind) {
    case 'string': {
      if (typeof value !== 'string') return new Invalid('must be a string');
      const problem = textProblem(value, column.maxLength);
      if (problem) return new Invalid(problem);
      if (column.required && value.trim() === '') return new Invalid('must not be empty');
      return value;
    }
    case 'timestamp':
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return new Invalid(column.kind === 'timestamp' ? 'must be a timestamp in ms (integer)' : 'must be an integer');
      if (value < column.min || value > column.max) return new Invalid(`must be between ${column.min} and ${column.max}`);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return new Invalid('must be a finite number');
      if (column.gt !== undefined && !(value > column.gt)) return new Invalid(`must be greater than ${column.gt}`);
      if (column.lt !== undefined && !(value < column.lt)) return new Invalid(`must be less than ${column.lt}`);
      return value;
    case 'boolean':
      // WatermelonDB's SQLite side stores booleans as 0/1; accept both spellings.
      if (value === true || value === 1) return true;
      if (value === false || value === 0) return false;
      return new Invalid('must be a boolean');
    case 'enum':
      // WatermelonDB fills a string column the app declared non-optional with '': "not set".
      if (value === '' && !column.required) return null;
      return typeof value === 'string' && column.values.includes(value) ? value : new Invalid(`must be one of ${column.values.join(', ')}`);
    case 'uuid':
      return isLowerCaseUuid(value) ? value : new Invalid('must be a lower-case UUID');
    case 'json-number-map':
      return parseNumberMap(value);
    case 'json-string-array':
      return parseStringArray(value);
  }
}

function parseJson(value: unknown): { value: unknown } | Invalid {
  if (typeof value !== 'string') return new Invalid('must be a JSON string');
  if (value.length > JSON_LIMITS.maxJsonLength) return new Invalid(`must be at most ${JSON_LIMITS.maxJsonLength} characters of JSON`);
  try {
    return { value: JSON.parse(value) as unknown };
  } catch {
    return new Invalid('must be valid JSON');
  }
}

function parseNumberMap(value: unknown): unknown {
  if (value === '') return null;
  const json = parseJson(value);
  if (json instanceof Invalid) return json;
  const parsed = json.value;
  if (!isPlainObject(parsed)) return new Invalid('must be a JSON object of numbers');
  const entries = Object.entries(parsed);
  if (entries.length > JSON_LIMITS.maxEntries) return new Invalid(`must have at most ${JSON_LIMITS.maxEntries} entries`);
  for (const [key, n] of entries) {
    const problem = textProblem(key, JSON_LIMITS.maxTextLength) ?? (key.trim() === '' ? 'empty' : undefined);
    if (problem) return new Invalid(`has an invalid indicator name (${problem})`);
    if (typeof n !== 'number' || !Number.isFinite(n)) return new Invalid(`indicator "${key.slice(0, 40)}" must be a finite number`);
  }
  return parsed;
}

function parseStringArray(value: unknown): unknown {
  if (value === '') return [];
  const json = parseJson(value);
  if (json instanceof Invalid) return json;
  const parsed = json.value;
  if (!Array.isArray(parsed)) return new Invalid('must be a JSON array of strings');
  if (parsed.length > JSON_LIMITS.maxEntries) return new Invalid(`must have at most ${JSON_LIMITS.maxEntries} entries`);
  for (const item of parsed) {
    if (typeof item !== 'string') return new Invalid('must be a JSON array of strings');
    const problem = textProblem(item, JSON_LIMITS.maxTextLength);
    if (problem) return new Invalid(`has an invalid entry (${problem})`);
  }
  return parsed;
}

/** Text PostgreSQL can store (the rule of every request body), within varchar(n), which counts code points. */
function textProblem(value: string, maxLength: number): string | undefined {
  const unstorable = unstorableTextProblem(value);
  if (unstorable) return unstorable;
  if (characterCount(value, maxLength) > maxLength) return `must be at most ${maxLength} characters`;
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
