import watermelon from '@nozbe/watermelondb';
import type { TableSchemaSpec } from '@nozbe/watermelondb/Schema/index.js';
import migrationsModule from '@nozbe/watermelondb/Schema/migrations/index.js';

const { appSchema, tableSchema } = watermelon;
// CommonJS seen from ESM: the namespace's default is module.exports.
const { schemaMigrations, addColumns } = ((migrationsModule as unknown as { default?: unknown }).default ??
  migrationsModule) as typeof import('@nozbe/watermelondb/Schema/migrations/index.js');

/**
 * The HemoDay app's WatermelonDB schema as a test client declares it: the
 * wire columns of every synced table (family_id included). Version 1 lacks the
 * `documents.notes` column the server has always had (an app behind the server),
 * and version 2 adds it, so a migration sync can be exercised with the real client.
 */
const common = [
  { name: 'family_id', type: 'string' as const, isIndexed: true },
  { name: 'created_at', type: 'number' as const },
  { name: 'updated_at', type: 'number' as const },
];

export const TABLES: TableSchemaSpec[] = [
  {
    name: 'families',
    columns: [
      { name: 'invite_code', type: 'string' },
      { name: 'patient_name', type: 'string', isOptional: true },
      { name: 'patient_birth_date', type: 'number', isOptional: true },
      { name: 'patient_weight_kg', type: 'number', isOptional: true },
      { name: 'patient_blood_group', type: 'string', isOptional: true },
      { name: 'patient_diagnosis', type: 'string', isOptional: true },
      { name: 'notes', type: 'string', isOptional: true },
      ...common,
    ],
  },
  {
    name: 'transfusions',
    columns: [
      { name: 'date', type: 'number' },
      { name: 'volume_ml', type: 'number', isOptional: true },
      { name: 'patient_weight_kg', type: 'number', isOptional: true },
      { name: 'medication', type: 'string', isOptional: true },
      { name: 'indicators_before', type: 'string', isOptional: true },
      { name: 'indicators_after', type: 'string', isOptional: true },
      { name: 'hospital', type: 'string', isOptional: true },
      { name: 'reaction', type: 'string', isOptional: true },
      { name: 'notes', type: 'string', isOptional: true },
      ...common,
    ],
  },
  {
    name: 'blood_tests',
    columns: [
      { name: 'date', type: 'number' },
      { name: 'comment', type: 'string', isOptional: true },
      { name: 'laboratory', type: 'string', isOptional: true },
      ...common,
    ],
  },
  {
    name: 'blood_test_results',
    columns: [
      { name: 'blood_test_id', type: 'string', isIndexed: true },
      { name: 'name', type: 'string' },
      { name: 'value', type: 'number' },
      { name: 'unit', type: 'string', isOptional: true },
      { name: 'reference_min', type: 'number', isOptional: true },
      { name: 'reference_max', type: 'number', isOptional: true },
      ...common,
    ],
  },
  {
    name: 'analysis_templates',
    columns: [{ name: 'name', type: 'string' }, { name: 'indicators_json', type: 'string' }, ...common],
  },
  {
    name: 'reminders',
    columns: [
      { name: 'title', type: 'string' },
      { name: 'remind_at', type: 'number' },
      { name: 'frequency', type: 'string' },
      { name: 'interval_days', type: 'number', isOptional: true },
      { name: 'is_completed', type: 'boolean' },
      { name: 'completed_at', type: 'number', isOptional: true },
      { name: 'notes', type: 'string', isOptional: true },
      ...common,
    ],
  },
  {
    name: 'documents',
    columns: [
      { name: 'name', type: 'string' },
      { name: 'category', type: 'string' },
      { name: 'file_url', type: 'string', isOptional: true },
      { name: 'mime_type', type: 'string', isOptional: true },
      { name: 'size_bytes', type: 'number', isOptional: true },
      { name: 'notes', type: 'string', isOptional: true },
      ...common,
    ],
  },
];

export const TABLE_NAMES = TABLES.map((t) => t.name);

/** The current app schema (version 2). */
export const schemaV2 = appSchema({ version: 2, tables: TABLES.map((t) => tableSchema(t)) });

/** The previous app version: no documents.notes. */
export const schemaV1 = appSchema({
  version: 1,
  tables: TABLES.map((t) =>
    tableSchema(t.name === 'documents' ? { ...t, columns: t.columns.filter((c) => c.name !== 'notes') } : t),
  ),
});

/** The app's migration from version 1 to 2, as the app ships it: documents.notes. */
export const migrationsToV2 = schemaMigrations({
  migrations: [
    {
      toVersion: 2,
      steps: [
        addColumns({ table: 'documents', columns: [TABLES.find((t) => t.name === 'documents')!.columns.find((c) => c.name === 'notes')!] }),
      ],
    },
  ],
});

/** The migrations an app on `version` ships (none before version 2): WatermelonDB needs them for migration syncs. */
export function migrationsFor(version: number) {
  return version >= 2 ? migrationsToV2 : schemaMigrations({ migrations: [] });
}
