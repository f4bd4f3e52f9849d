import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { SyncRevivalSpans1764760000000 } from '../../migrations/1764760000000-SyncRevivalSpans.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';

const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];

/**
 * The sync column migrations against the run's real PostgreSQL, on the synced tables' server
 * columns as the earlier migrations left them, in a scratch schema of their own.
 */
describe('migrations of the synced tables\' server columns', () => {
  let dataSource: DataSource;
  let q: QueryRunner;
  let schema: string;

  beforeAll(async () => {
    dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1 }));
    await dataSource.initialize();
  });
  afterAll(() => dataSource?.destroy());

  beforeEach(async () => {
    schema = `mig_sync_${randomBytes(4).toString('hex')}`;
    q = dataSource.createQueryRunner();
    await q.query(`CREATE SCHEMA ${schema}`);
    await q.query(`SET search_path TO ${schema}`);
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
  });
  afterEach(async () => {
    await q.query(`DROP SCHEMA ${schema} CASCADE`);
    await q.query('RESET search_path');
    await q.release();
  });

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
});
