/**
 * The synced tables and columns as app developers read them (README "Synced tables and
 * columns"), generated from the registry so the documentation cannot drift from what the
 * server accepts: a unit test compares the README with `syncTablesMarkdown()`.
 */
import { SYNC_TABLES, TEXT_MAX_LENGTH, type ColumnSpec, type TableSpec } from './sync-schema.js';
import { JSON_LIMITS } from './sync-validator.js';

const MAX_TIMESTAMP_TEXT = 'the largest JS date';
/** The JSON columns' text limit as the table writes it (316,000). */
const JSON_TEXT_MAX = JSON_LIMITS.maxJsonLength.toLocaleString('en');

function describeType(c: ColumnSpec): string {
  switch (c.kind) {
    case 'string':
      return 'string';
    case 'timestamp':
      return 'number (ms since epoch, integer)';
    case 'number':
      return 'number';
    case 'integer':
      return 'number (integer)';
    case 'boolean':
      return 'boolean (or 0/1)';
    case 'enum':
      return 'string';
    case 'uuid':
      return 'string (UUID)';
    case 'json-number-map':
      return 'string: JSON object name → number';
    case 'json-string-array':
      return 'string: JSON array of strings';
  }
}

function describeRule(c: ColumnSpec): string {
  const rules: string[] = [];
  if (c.kind === 'string') rules.push(c.maxLength === TEXT_MAX_LENGTH ? `≤ ${TEXT_MAX_LENGTH.toLocaleString('en')} chars` : `≤ ${c.maxLength} chars`);
  if (c.kind === 'string' && c.required) rules.push('not empty');
  if (c.kind === 'enum') rules.push(`${c.values.join(' / ')}${c.required ? '' : " (or '' / null: not set)"}`);
  if (c.kind === 'number' && (c.gt !== undefined || c.lt !== undefined)) {
    rules.push(`${c.gt !== undefined ? `> ${c.gt}` : ''}${c.gt !== undefined && c.lt !== undefined ? ' and ' : ''}${c.lt !== undefined ? `< ${c.lt}` : ''}`);
  }
  if (c.kind === 'number' && c.gt === undefined && c.lt === undefined) rules.push('finite');
  if (c.kind === 'integer') rules.push(c.max === Number.MAX_SAFE_INTEGER ? `≥ ${c.min}` : `${c.min}–${c.max}`);
  if (c.kind === 'timestamp') rules.push(`${c.min === 0 ? '0' : `${c.min} (${new Date(c.min).toISOString().slice(0, 10)})`} to ${MAX_TIMESTAMP_TEXT}`);
  if (c.kind === 'json-number-map') rules.push(`≤ ${JSON_LIMITS.maxEntries} entries, names ≤ ${JSON_LIMITS.maxTextLength} chars, finite numbers; ≤ ${JSON_TEXT_MAX} chars of JSON`);
  if (c.kind === 'json-string-array') rules.push(`≤ ${JSON_LIMITS.maxEntries} entries, each ≤ ${JSON_LIMITS.maxTextLength} chars; ≤ ${JSON_TEXT_MAX} chars of JSON`);
  if (c.name === 'blood_test_id') rules.push('a live blood test of the family');
  if (c.name === 'file_url') rules.push('a file of the family (`POST /api/v1/upload`) or empty');
  return rules.join('; ') || '—';
}

function describeUse(c: ColumnSpec): string {
  if (c.readOnly) return 'read-only (ignored in a push)';
  if (c.nullMeansAbsent) return 'null = keep (new record: server time)';
  // The validator stores null and '' as an empty list (WatermelonDB's "not set" for a string column).
  if (c.kind === 'json-string-array') return c.required ? "required ('' or null: `[]`)" : "optional ('' or null: `[]`)";
  return c.required ? 'required' : 'optional';
}

function tableMarkdown(table: TableSpec): string {
  const since = table.since && table.since > 1 ? ` (app schema ${table.since}+)` : '';
  const rows = [
    '| column | type | rules | in a push |',
    '|---|---|---|---|',
    `| \`id\` | string (UUID) | lower-case canonical UUID | required |`,
    `| \`family_id\` | string (UUID) | ${table.isFamilyRow ? 'the family id (= `id`)' : "the user's family"} | ${table.isFamilyRow ? 'read-only' : 'required on a new record'} |`,
    ...table.columns.map((c) => {
      const added = c.since && c.since > 1 ? ` (app schema ${c.since}+)` : '';
      return `| \`${c.name}\`${added} | ${describeType(c)} | ${describeRule(c)} | ${describeUse(c)} |`;
    }),
  ];
  return [`**\`${table.name}\`**${since}`, '', ...rows].join('\n');
}

/** The README block between `<!-- sync-columns:start -->` and `<!-- sync-columns:end -->`. */
export function syncTablesMarkdown(): string {
  return SYNC_TABLES.map(tableMarkdown).join('\n\n');
}

export const SYNC_COLUMNS_START = '<!-- sync-columns:start (generated from src/modules/sync/sync-schema.ts; a unit test keeps it in step) -->';
export const SYNC_COLUMNS_END = '<!-- sync-columns:end -->';
