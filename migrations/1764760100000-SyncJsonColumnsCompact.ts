import type { MigrationInterface, QueryRunner } from 'typeorm';

const JSON_COLUMNS: Array<[table: string, column: string]> = [
  ['transfusions', 'indicators_before'],
  ['transfusions', 'indicators_after'],
  ['analysis_templates', 'indicators_json'],
];

/**
 * The synced JSON columns become `json`, which keeps the text it is given: the push stores the
 * compact re-serialization of the validated value (JSON.stringify), and the pull sends that text.
 * As `jsonb` they were printed back from PostgreSQL's numeric, in full decimal: 5e-324 came back
 * as a 326-character literal and 1e308 as 309 digits, so a 0.3 MB push made a 6.8 MB pull, and a
 * member could grow the family's pull past what PostgreSQL (1 GB text) or V8 (512 MB strings) can
 * build. Existing values are rewritten compact: numbers in float8's shortest form (the values are
 * JS doubles, so they round-trip), no spaces. Nothing reads these columns but the pull, which sends
 * them as strings; no version is taken (the values are the same, only their spelling changes).
 */
export class SyncJsonColumnsCompact1764760100000 implements MigrationInterface {
  name = 'SyncJsonColumnsCompact1764760100000';

  async up(q: QueryRunner): Promise<void> {
    // Objects of numbers (indicators) and arrays of strings (indicator names): the shapes the push
    // has always validated. A subquery cannot appear in ALTER … USING; a function can.
    await q.query(`
      CREATE FUNCTION pg_temp.hemoday_compact_json(value jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
        SELECT (CASE jsonb_typeof(value)
          WHEN 'object' THEN
            (SELECT '{' || coalesce(string_agg(to_json(e.key)::text || ':' ||
                      CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value::text::float8)::text ELSE e.value::text END, ','), '') || '}'
               FROM jsonb_each(value) e)
          WHEN 'array' THEN
            (SELECT '[' || coalesce(string_agg(e.value::text, ',' ORDER BY e.i), '') || ']'
               FROM jsonb_array_elements(value) WITH ORDINALITY e(value, i))
          ELSE value::text END)::json
      $$`);
    for (const [table, column] of JSON_COLUMNS) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE json USING pg_temp.hemoday_compact_json(${column})`);
    }
    await q.query(`ALTER TABLE analysis_templates ALTER COLUMN indicators_json SET DEFAULT '[]'::json`);
    await q.query('DROP FUNCTION pg_temp.hemoday_compact_json(jsonb)');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table, column] of JSON_COLUMNS) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE jsonb USING ${column}::jsonb`);
    }
    await q.query(`ALTER TABLE analysis_templates ALTER COLUMN indicators_json SET DEFAULT '[]'::jsonb`);
  }
}
