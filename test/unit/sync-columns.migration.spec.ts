import type { QueryRunner } from 'typeorm';
import { SyncRevivalSpans1764760000000 } from '../../migrations/1764760000000-SyncRevivalSpans.js';
import { SyncJsonColumnsCompact1764760100000 } from '../../migrations/1764760100000-SyncJsonColumnsCompact.js';
import { useScratchSchema } from '../setup/scratch-schema.js';

const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/**
 * The sync column migrations against the run's real PostgreSQL, on the synced tables' server
 * columns as the earlier migrations left them, in a scratch schema of their own.
 */
describe('migrations of the synced tables\' server columns', () => {
  let q: QueryRunner;
  let schema: string;
  useScratchSchema(
    'mig_sync',
    async (q) => {
      for (const table of DATA_TABLES) {
        await q.query(`
          CREATE TABLE ${table} (
            id serial PRIMARY KEY,
            server_created_version bigint NOT NULL,
            deleted_at bigint,
            created_by_device varchar(200),
            prev_created_version bigint,
            prev_deleted_version bigint,
            prev_created_by_device varchar(200),
            deleted_by_device varchar(200)
            ${table === 'transfusions' ? ', indicators_before jsonb, indicators_after jsonb' : ''}
            ${table === 'analysis_templates' ? `, indicators_json jsonb NOT NULL DEFAULT '[]'` : ''}
          )`);
      }
    },
    (runner, name) => ((q = runner), (schema = name)),
  );

  it('carries each revived record\'s previous life over as its first span, and back', async () => {
    await q.query(`
      INSERT INTO transfusions (id, server_created_version, deleted_at, created_by_device, prev_created_version, prev_deleted_version, prev_created_by_device, deleted_by_device)
      VALUES (1, 30, NULL, 'phone-a', 10, 20, 'phone-b', 'phone-c'),  -- revived, live: deleted_by_device named the previous life's deleter
             (2, 30, 40, 'phone-a', 10, 20, 'phone-b', 'phone-d'),    -- revived, deleted again: it names the newer deletion
             (3, 10, NULL, 'phone-a', NULL, NULL, NULL, NULL)`);
    const migration = new SyncRevivalSpans1764760000000();
    await migration.up(q);
    expect(await q.query('SELECT id, prev_spans, deleted_by_device FROM transfusions ORDER BY id')).toEqual([
      { id: 1, prev_spans: [{ c: 10, d: 20, cd: 'phone-b', dd: 'phone-c' }], deleted_by_device: null },
      { id: 2, prev_spans: [{ c: 10, d: 20, cd: 'phone-b' }], deleted_by_device: 'phone-d' },
      { id: 3, prev_spans: null, deleted_by_device: null },
    ]);
    // Two lives ago and the last one: down keeps the last.
    await q.query(`UPDATE transfusions SET prev_spans = '[{"c":1,"d":2,"cd":"x","dd":"y"}]'::jsonb || prev_spans WHERE id = 1`);
    await migration.down(q);
    expect(await q.query('SELECT id, prev_created_version, prev_deleted_version, prev_created_by_device, deleted_by_device FROM transfusions ORDER BY id')).toEqual([
      { id: 1, prev_created_version: '10', prev_deleted_version: '20', prev_created_by_device: 'phone-b', deleted_by_device: 'phone-c' },
      { id: 2, prev_created_version: '10', prev_deleted_version: '20', prev_created_by_device: 'phone-b', deleted_by_device: 'phone-d' },
      { id: 3, prev_created_version: null, prev_deleted_version: null, prev_created_by_device: null, deleted_by_device: null },
    ]);
  });

  it('rewrites the JSON columns compact (jsonb printed 5e-324 as 326 characters), values unchanged, and back', async () => {
    // Indicator names are typed by people: a quote or a backslash in one must stay JSON (found by mutation testing).
    const before = { tiny: 5e-324, huge: 1e308, hb: 7.1, neg: -0.5, big: 123456789012345680000, 'Fe"\\': 12 };
    await q.query(`INSERT INTO transfusions (id, server_created_version, indicators_before, indicators_after) VALUES (1, 1, $1::jsonb, NULL), (2, 1, '{}', '{"hb": 9}')`, [
      JSON.stringify(before),
    ]);
    await q.query(`INSERT INTO analysis_templates (id, server_created_version, indicators_json) VALUES (1, 1, $1::jsonb), (2, 1, DEFAULT)`, [JSON.stringify(['Hb', 'é "quoted"', 'PLT'])]);
    expect((await q.query('SELECT length(indicators_before::text) AS n FROM transfusions WHERE id = 1'))[0].n).toBeGreaterThan(600);

    const migration = new SyncJsonColumnsCompact1764760100000();
    await migration.up(q);
    const rows: Array<{ before: string | null; after: string | null }> = await q.query(
      'SELECT indicators_before::text AS before, indicators_after::text AS after FROM transfusions ORDER BY id',
    );
    expect(rows[0].before).not.toMatch(/\s/);
    expect(rows[0].before!.length).toBeLessThan(100);
    expect(JSON.parse(rows[0].before!)).toEqual(before);
    expect(rows.slice(1)).toEqual([{ before: '{}', after: '{"hb":9}' }]);
    expect(rows[0].after).toBeNull();
    expect(await q.query('SELECT indicators_json::text AS names FROM analysis_templates ORDER BY id')).toEqual([
      { names: JSON.stringify(['Hb', 'é "quoted"', 'PLT']) },
      { names: '[]' },
    ]);
    const types = await q.query(
      `SELECT table_name, column_name, data_type, column_default FROM information_schema.columns
        WHERE table_schema = $1 AND data_type IN ('json', 'jsonb') ORDER BY table_name, column_name`,
      [schema],
    );
    expect(types).toEqual([
      { table_name: 'analysis_templates', column_name: 'indicators_json', data_type: 'json', column_default: "'[]'::json" },
      { table_name: 'transfusions', column_name: 'indicators_after', data_type: 'json', column_default: null },
      { table_name: 'transfusions', column_name: 'indicators_before', data_type: 'json', column_default: null },
    ]);
    // The temporary helper is gone with the migration.
    expect(await q.query(`SELECT 1 FROM pg_proc WHERE proname = 'hemoday_compact_json'`)).toEqual([]);

    await migration.down(q);
    expect((await q.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'indicators_before'`, [schema]))[0].data_type).toBe('jsonb');
    expect(JSON.parse((await q.query('SELECT indicators_before::text AS t FROM transfusions WHERE id = 1'))[0].t)).toEqual(before);
  });
});
