// Synthetic but realistic medical records in the sync wire format (what the
// WatermelonDB client pushes), and the same rows as direct SQL for the baselines.
import { randomUUID } from 'node:crypto';
import { isJsonColumn, SYNC_TABLES, writableColumns } from '../../dist/src/modules/sync/sync-schema.js';

export const DATA_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const LABS = ['Central Lab', 'City Hospital Lab', 'Invitro', 'Helix'];
const INDICATORS = ['Hb', 'Ferritin', 'RBC', 'WBC', 'PLT', 'ALT', 'AST', 'Bilirubin'];

const row = (familyId, i) => ({ family_id: familyId, created_at: T0 + i * 1000, updated_at: T0 + i * 1000 + 17, _status: 'created', _changed: '' });

const makers = {
  transfusions: (id, familyId, i) => ({
    id,
    ...row(familyId, i),
    date: T0 + (i % 3650) * DAY,
    volume_ml: 200 + (i % 300),
    patient_weight_kg: 20 + (i % 40) / 2,
    medication: i % 3 ? 'Deferasirox 20 mg/kg' : null,
    indicators_before: JSON.stringify({ Hb: 70 + (i % 20), Ferritin: 1200 + i % 900 }),
    indicators_after: JSON.stringify({ Hb: 100 + (i % 25) }),
    hospital: 'Regional Children Hospital',
    reaction: i % 17 ? null : 'mild fever, resolved',
    notes: `Transfusion ${i}: packed red cells, filtered, irradiated. Tolerated well.`,
  }),
  blood_tests: (id, familyId, i) => ({
    id,
    ...row(familyId, i),
    date: T0 + (i % 3650) * DAY,
    comment: i % 2 ? 'routine control before transfusion' : null,
    laboratory: LABS[i % LABS.length],
  }),
  blood_test_results: (id, familyId, i, bloodTestId) => ({
    id,
    ...row(familyId, i),
    blood_test_id: bloodTestId,
    name: INDICATORS[i % INDICATORS.length],
    value: Math.round((50 + (i % 1000) / 7) * 100) / 100,
    unit: 'g/L',
    reference_min: 110,
    reference_max: 150,
  }),
  analysis_templates: (id, familyId, i) => ({
    id,
    ...row(familyId, i),
    name: `Template ${i}`,
    indicators_json: JSON.stringify(INDICATORS.slice(0, 2 + (i % 6))),
  }),
  reminders: (id, familyId, i) => ({
    id,
    ...row(familyId, i),
    title: `Chelation therapy dose ${i}`,
    remind_at: T0 + i * 3_600_000,
    frequency: ['once', 'daily', 'weekly', 'monthly', 'every_n_days'][i % 5],
    interval_days: i % 5 === 4 ? 3 : null,
    is_completed: i % 4 === 0,
    completed_at: i % 4 === 0 ? T0 + i * 3_600_000 + 60_000 : null,
    notes: i % 3 ? null : 'take with water, not juice',
  }),
  documents: (id, familyId, i) => ({
    id,
    ...row(familyId, i),
    name: `scan-${i}.pdf`,
    category: ['lab_result', 'discharge_summary', 'prescription', 'imaging', 'other'][i % 5],
    file_url: null,
    mime_type: 'application/pdf',
    size_bytes: 100_000 + i,
    notes: null,
  }),
};

/** The caller's families row as the client pushes it (patient fields changed). */
export function familyRow(familyId, i = 0) {
  return {
    id: familyId,
    family_id: familyId,
    invite_code: 'IGNORD', // read-only: sent back by the client, ignored by the server
    patient_name: `Patient ${i}`,
    patient_birth_date: Date.UTC(2016, 4, 12),
    patient_weight_kg: 25 + (i % 10),
    patient_blood_group: 'B+',
    patient_diagnosis: 'beta-thalassemia major',
    notes: `updated ${i}`,
    created_at: T0,
    updated_at: T0 + i,
    _status: 'updated',
    _changed: 'patient_weight_kg,notes',
  };
}

/** How `n` records split over the tables (the families row counts as one when included). */
function mix(n, withFamilyRow) {
  let rest = n - (withFamilyRow ? 1 : 0);
  if (rest < 0) throw new Error(`cannot make ${n} records`);
  const small = rest < 7;
  const part = (share) => (small ? 0 : Math.max(1, Math.floor(rest * share)));
  const counts = { blood_tests: part(0.2) };
  counts.blood_test_results = 2 * counts.blood_tests;
  counts.transfusions = part(0.16);
  counts.reminders = part(0.1);
  counts.documents = part(0.08);
  counts.analysis_templates = rest - counts.blood_tests - counts.blood_test_results - counts.transfusions - counts.reminders - counts.documents;
  return counts;
}

/**
 * `n` new records (all seven tables when `withFamilyRow` and n ≥ 8) as a push's
 * `changes`; results reference blood tests created in the same push.
 */
export function makeChanges(n, familyId, { withFamilyRow = true, seq = 0 } = {}) {
  const counts = mix(n, withFamilyRow);
  const changes = {};
  const empty = () => ({ created: [], updated: [], deleted: [] });
  if (withFamilyRow) changes.families = { created: [], updated: [familyRow(familyId, seq)], deleted: [] };
  let i = seq;
  for (const table of DATA_TABLES) changes[table] = empty();
  for (let k = 0; k < counts.blood_tests; k++) changes.blood_tests.created.push(makers.blood_tests(randomUUID(), familyId, i++));
  for (let k = 0; k < counts.blood_test_results; k++) {
    const test = changes.blood_tests.created[k % counts.blood_tests];
    changes.blood_test_results.created.push(makers.blood_test_results(randomUUID(), familyId, i++, test.id));
  }
  for (const table of ['transfusions', 'reminders', 'documents', 'analysis_templates']) {
    for (let k = 0; k < counts[table]; k++) changes[table].created.push(makers[table](randomUUID(), familyId, i++));
  }
  return changes;
}

export function countRecords(changes) {
  let n = 0;
  for (const t of Object.values(changes)) n += t.created.length + t.updated.length + t.deleted.length;
  return n;
}

export function idsByTable(changes) {
  const ids = {};
  for (const [table, t] of Object.entries(changes)) ids[table] = [...t.created, ...t.updated].map((r) => r.id);
  return ids;
}

export function makeRecord(table, familyId, i, extra) {
  return makers[table](randomUUID(), familyId, i, extra);
}

const SPEC = new Map(SYNC_TABLES.map((s) => [s.name, s]));
const PG_MAX_PARAMS = 65_535;

/**
 * The baseline write: the same rows with the server columns filled, one
 * multi-row INSERT per table (split only where PostgreSQL's 65,535-parameter
 * limit forces it) and one UPDATE of the families row, in one transaction.
 * Returns the statements, ready to run.
 */
export function baselineStatements(changes, { familyId, userId, deviceId, version }) {
  const statements = [];
  const fam = changes.families?.updated?.[0];
  if (fam) {
    const cols = writableColumns(SPEC.get('families'));
    statements.push({
      text: `UPDATE families SET ${cols.map((c, k) => `"${c.name}" = $${k + 1}`).join(', ')}, server_version = $${cols.length + 1},
             sync_version = $${cols.length + 1}, updated_by = $${cols.length + 2} WHERE id = $${cols.length + 3}`,
      values: [...cols.map((c) => fam[c.name] ?? null), version, userId, familyId],
    });
  }
  for (const table of DATA_TABLES) {
    const rows = changes[table]?.created ?? [];
    if (!rows.length) continue;
    const wire = writableColumns(SPEC.get(table)).map((c) => c.name);
    const cols = ['id', 'family_id', ...wire, 'server_version', 'server_created_version', 'created_by', 'updated_by', 'created_by_device'];
    const perRow = cols.length;
    const chunk = Math.floor(PG_MAX_PARAMS / perRow);
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      const values = [];
      const tuples = part.map((r, k) => {
        values.push(r.id, familyId, ...wire.map((c) => r[c] ?? null), version, version, userId, userId, deviceId);
        return `(${cols.map((_, j) => `$${k * perRow + j + 1}`).join(', ')})`;
      });
      statements.push({ text: `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES ${tuples.join(', ')}`, values });
    }
  }
  return statements;
}

/**
 * The baseline read: every live row of a family as JSON, the same wire columns
 * the pull sends, aggregated by PostgreSQL in one statement and fetched as text.
 */
export function baselinePullSql() {
  const tables = SYNC_TABLES.map((spec) => {
    const cols = [`'id', t.id`, `'family_id', ${spec.isFamilyRow ? 't.id' : 't.family_id'}`, ...spec.columns.map((c) => `'${c.name}', t."${c.name}"${isJsonColumn(c) ? '::text' : ''}`)];
    const where = spec.isFamilyRow ? 't.id = $1' : 't.family_id = $1 AND t.deleted_at IS NULL';
    return `'${spec.name}', (SELECT coalesce(json_agg(json_build_object(${cols.join(', ')})), '[]'::json) FROM "${spec.name}" t WHERE ${where})`;
  });
  return `SELECT json_build_object(${tables.join(',\n')})::text AS body`;
}

/** Incremental baseline: rows of the family changed after a version, same shape, one statement. */
export function baselineIncrementalSql() {
  const tables = SYNC_TABLES.map((spec) => {
    const cols = [`'id', t.id`, ...spec.columns.map((c) => `'${c.name}', t."${c.name}"${isJsonColumn(c) ? '::text' : ''}`)];
    const where = spec.isFamilyRow ? 't.id = $1 AND t.server_version > $2' : 't.family_id = $1 AND t.server_version > $2';
    return `'${spec.name}', (SELECT coalesce(json_agg(json_build_object(${cols.join(', ')})), '[]'::json) FROM "${spec.name}" t WHERE ${where})`;
  });
  return `SELECT json_build_object(${tables.join(',\n')})::text AS body`;
}

/**
 * A push of exactly `n` changes of every kind, made against `previous` (a push
 * of `n` new records from makeChanges): the families row, every transfusion and
 * every document updated; every reminder and analysis template deleted; new
 * blood tests with two results each for the rest. The same tables and kinds at
 * every size, so the statement count must not change with n.
 */
export function makeMixedChanges(previous, familyId, seq = 1_000_000) {
  const empty = () => ({ created: [], updated: [], deleted: [] });
  const changes = Object.fromEntries(['families', ...DATA_TABLES].map((t) => [t, empty()]));
  const edit = (r, k) => ({ ...r, notes: `edited ${k}`, updated_at: r.updated_at + 1000, _status: 'updated', _changed: 'notes,updated_at' });
  changes.families.updated.push(familyRow(familyId, seq));
  let k = 0;
  for (const table of ['transfusions', 'documents']) for (const r of previous[table].created) changes[table].updated.push(edit(r, k++));
  for (const table of ['reminders', 'analysis_templates']) changes[table].deleted.push(...previous[table].created.map((r) => r.id));
  const n = countRecords(previous);
  let rest = n - countRecords(changes);
  const tests = Math.floor(rest / 3);
  if (tests < 1) throw new Error(`a mixed push of ${n} has no room for creates`);
  let i = seq;
  for (let t = 0; t < tests; t++) changes.blood_tests.created.push(makers.blood_tests(randomUUID(), familyId, i++));
  rest -= tests;
  for (let r = 0; r < rest; r++) {
    changes.blood_test_results.created.push(makers.blood_test_results(randomUUID(), familyId, i++, changes.blood_tests.created[r % tests].id));
  }
  return changes;
}
