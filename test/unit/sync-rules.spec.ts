import { randomUUID } from 'node:crypto';
import { DomainError } from '../../src/common/errors/domain-error.js';
import { parseMigration, planPull } from '../../src/modules/sync/sync-pull.service.js';
import { APP_SCHEMA_VERSION, inClientSchema, SYNC_TABLES } from '../../src/modules/sync/sync-schema.js';
import { JSON_LIMITS, normalizeValue, validatePush, Invalid } from '../../src/modules/sync/sync-validator.js';

const family = randomUUID();
const column = (table: string, name: string) => SYNC_TABLES.find((t) => t.name === table)!.columns.find((c) => c.name === name)!;

describe('planPull', () => {
  const base = { familyId: family, joinedVersion: 100, deviceId: 'd', version: 500, migration: null };

  it('first sync: every table full, no replacement', () => {
    const plan = planPull({ ...base, cursor: null });
    expect(new Set(Object.values(plan.modes))).toEqual(new Set(['full']));
    expect(plan).toMatchObject({ replacement: false, cursor: 0, timestamp: 500 });
  });

  it('a cursor before joining, or beyond any version of this family, means replacement', () => {
    expect(planPull({ ...base, cursor: 99 }).replacement).toBe(true);
    expect(planPull({ ...base, cursor: 501 }).replacement).toBe(true);
    // …unless this device's last full snapshot was of this very family (left and rejoined it).
    expect(planPull({ ...base, cursor: 99, deviceHoldsFamily: true }).replacement).toBe(false);
    expect(planPull({ ...base, cursor: 501, deviceHoldsFamily: true }).replacement).toBe(true);
    expect(planPull({ ...base, cursor: 100 }).replacement).toBe(false);
    expect(planPull({ ...base, cursor: 500 }).modes.transfusions).toBe('incremental');
  });

  it('a device whose last full snapshot was of another family gets a replacement, whatever its cursor', () => {
    for (const cursor of [99, 100, 500]) expect(planPull({ ...base, cursor, deviceHoldsOtherFamily: true }).replacement).toBe(true);
    // A first sync is a full snapshot anyway (not a replacement: the device holds nothing).
    expect(planPull({ ...base, cursor: null, deviceHoldsOtherFamily: true }).replacement).toBe(false);
  });

  it('a replacement sends rows as created only to a phone the installation\'s records say holds another family; by the cursor to any other (found by review)', () => {
    // The installation's record of the cursor (or else its latest record) names another family: it holds none of these rows.
    expect(planPull({ ...base, cursor: 99, deviceHoldsOtherFamily: true, knownToHoldOtherFamily: true }).modes.transfusions).toBe('full');
    expect(planPull({ ...base, cursor: 300, deviceHoldsOtherFamily: true, knownToHoldOtherFamily: true }).modes.transfusions).toBe('full');
    expect(planPull({ ...base, cursor: 600, deviceHoldsOtherFamily: true, knownToHoldOtherFamily: true }).modes.transfusions).toBe('full');
    // No such record: a restored backup puts every phone's cursor ahead of the family's version, unrecorded; a
    // cursor pulled without X-Device-Id, or trimmed; a member removed and added back (joined since the cursor, yet
    // the phone may hold this very family): `updated` up to the cursor, so a deletion made on the phone survives.
    expect(planPull({ ...base, cursor: 99 })).toMatchObject({ replacement: true, modes: { transfusions: 'held' } });
    expect(planPull({ ...base, cursor: 99, deviceId: null })).toMatchObject({ replacement: true, modes: { transfusions: 'held' } });
    expect(planPull({ ...base, cursor: 300, deviceHoldsOtherFamily: true }).modes.transfusions).toBe('held');
    expect(planPull({ ...base, cursor: 600, deviceHoldsOtherFamily: true }).modes.transfusions).toBe('held');
    expect(planPull({ ...base, cursor: 600, deviceId: null }).modes.transfusions).toBe('held');
    expect(planPull({ ...base, cursor: 400, deviceHoldsOtherFamily: true, forceReplacement: true }).modes.transfusions).toBe('held');
    // A table new to the client (migration) still comes whole as created.
    const migrated = planPull({ ...base, cursor: 600, deviceHoldsOtherFamily: true, migration: { tables: ['reminders'], columns: [{ table: 'documents', columns: ['notes'] }] } });
    expect(migrated.modes).toMatchObject({ reminders: 'full', documents: 'held', transfusions: 'held' });
  });

  it('a replacement stays one when the family version was raised past the cursor (forceReplacement)', () => {
    expect(planPull({ ...base, cursor: 400, deviceHoldsFamily: true, forceReplacement: true }).replacement).toBe(true);
    expect(planPull({ ...base, cursor: null, forceReplacement: true }).replacement).toBe(false); // a first sync replaces nothing
  });

  it('migration: new tables full, tables with new columns read whole; unknown names ignored', () => {
    const plan = planPull({ ...base, cursor: 200, migration: { tables: ['reminders', 'local_only'], columns: [{ table: 'documents', columns: ['notes'] }] } });
    expect(plan.modes).toMatchObject({ reminders: 'full', documents: 'columns', transfusions: 'incremental' });
  });

  it('every table belongs to app schema 1: a client on any schema version gets all of them', () => {
    for (const schemaVersion of [1, 2, 7, null]) {
      expect(Object.keys(planPull({ ...base, cursor: null, schemaVersion }).modes)).toHaveLength(SYNC_TABLES.length);
    }
    expect(APP_SCHEMA_VERSION).toBe(1);
    // Marking a table the released app already has would silently stop syncing it to those phones.
    expect(SYNC_TABLES.filter((t) => inClientSchema(t, 1) === false || t.columns.some((c) => !inClientSchema(c, 1)))).toEqual([]);
  });

  it('a table or column added in a later app schema is left out for older clients, kept for newer or unknown ones', () => {
    expect(inClientSchema({ since: 2 }, 1)).toBe(false);
    expect(inClientSchema({ since: 2 }, 2)).toBe(true);
    expect(inClientSchema({ since: 2 }, 3)).toBe(true);
    expect(inClientSchema({ since: 2 }, null)).toBe(true);
    expect(inClientSchema({}, 1)).toBe(true);
  });

  it('parses the migration parameter as the client sends it', () => {
    expect(parseMigration('null')).toBeNull();
    expect(parseMigration(undefined)).toBeNull();
    expect(parseMigration('{"from":1,"tables":[],"columns":[{"table":"x","columns":["a"]}]}')).toEqual({ from: 1, tables: [], columns: [{ table: 'x', columns: ['a'] }] });
    expect(() => parseMigration('{')).toThrow(DomainError);
    expect(() => parseMigration('{"columns":[{"table":1}]}')).toThrow(DomainError);
  });
});

describe('push validation', () => {
  it('normalizes values per column kind', () => {
    expect(normalizeValue(column('reminders', 'is_completed'), 1)).toBe(true);
    expect(normalizeValue(column('transfusions', 'volume_ml'), 4999.9)).toBe(4999.9);
    expect(normalizeValue(column('transfusions', 'volume_ml'), 5000)).toBeInstanceOf(Invalid);
    expect(normalizeValue(column('transfusions', 'indicators_before'), '')).toBeNull();
    expect(normalizeValue(column('transfusions', 'indicators_before'), '{"error": 1}')).toEqual({ error: 1 });
    expect(normalizeValue(column('transfusions', 'indicators_before'), '{"hb": 1e400}')).toBeInstanceOf(Invalid);
    expect(normalizeValue(column('analysis_templates', 'indicators_json'), null)).toEqual([]);
    // WatermelonDB's "not set" for a string column: the README's `'' or null: []`.
    expect(normalizeValue(column('analysis_templates', 'indicators_json'), '')).toEqual([]);
    expect(normalizeValue(column('transfusions', 'notes'), '\ud800')).toBeInstanceOf(Invalid);
    expect(normalizeValue(column('transfusions', 'date'), 1.5)).toBeInstanceOf(Invalid);
  });

  it('a number column without physical bounds (a lab value, its reference range) refuses what is not finite: 1e400 in a pushed body parses to Infinity, which JSON cannot carry back (JSON.stringify writes null)', () => {
    for (const name of ['value', 'reference_min', 'reference_max']) {
      for (const bad of [Infinity, -Infinity, NaN]) {
        expect({ name, bad, value: normalizeValue(column('blood_test_results', name), bad) }).toEqual({ name, bad, value: new Invalid('must be a finite number') });
      }
    }
    const id = randomUUID();
    const changes: unknown = JSON.parse(
      `{"blood_test_results":{"created":[{"id":"${id}","blood_test_id":"${randomUUID()}","name":"Hb","value":1e400}],"updated":[],"deleted":[]}}`,
    );
    try {
      validatePush(changes, family);
      throw new Error('expected a 422');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).details).toMatchObject({ table: 'blood_test_results', id, field: 'value' });
    }
  });

  it('integer and timestamp bounds are inclusive, as documented (interval_days 1–3660): each bound itself is accepted, one past it refused', () => {
    const edges: Array<[string, string, number, number]> = [
      ['reminders', 'interval_days', 1, 3660],
      ['reminders', 'remind_at', 0, 8_640_000_000_000_000],
      ['documents', 'size_bytes', 0, Number.MAX_SAFE_INTEGER],
      ['families', 'patient_birth_date', -2_208_988_800_000, 8_640_000_000_000_000],
    ];
    for (const [table, name, min, max] of edges) {
      const spec = column(table, name);
      expect({ name, min: normalizeValue(spec, min), max: normalizeValue(spec, max) }).toEqual({ name, min, max });
      expect({ name, below: normalizeValue(spec, min - 1), above: normalizeValue(spec, max + 1) }).toEqual({
        name,
        below: new Invalid(`must be between ${min} and ${max}`),
        above: new Invalid(`must be between ${min} and ${max}`),
      });
    }
  });

  it('a boolean takes both spellings WatermelonDB may push (true/false, and SQLite\'s 1/0), nothing else', () => {
    const isCompleted = column('reminders', 'is_completed');
    expect([true, 1, false, 0].map((value) => normalizeValue(isCompleted, value))).toEqual([true, true, false, false]);
    for (const bad of [2, -1, '0', '1', 'false', '', 0.5, -0.5, [], {}]) {
      expect({ bad, value: normalizeValue(isCompleted, bad) }).toEqual({ bad, value: new Invalid('must be a boolean') });
    }
  });

  it('JSON columns: indicator names and template entries are non-blank text within the limits, at most 500 of them', () => {
    const indicators = column('transfusions', 'indicators_before');
    const names = column('analysis_templates', 'indicators_json');
    const map = (entries: Array<[string, number]>) => normalizeValue(indicators, JSON.stringify(Object.fromEntries(entries)));
    expect(map([['Hb', 9.5], ['x'.repeat(100), 1]])).toEqual({ Hb: 9.5, ['x'.repeat(100)]: 1 });
    for (const name of ['', '   ', 'x'.repeat(101), 'a\u0000b']) expect({ name, value: map([[name, 1]]) }).toEqual({ name, value: expect.any(Invalid) });
    expect(map(Array.from({ length: 500 }, (_, i): [string, number] => [`i${i}`, i]))).not.toBeInstanceOf(Invalid);
    expect(map(Array.from({ length: 501 }, (_, i): [string, number] => [`i${i}`, i]))).toBeInstanceOf(Invalid);
    for (const bad of ['null', '7', '"Hb"', '{"Hb": null}', '{"Hb": "9"}', '{"Hb": {"v": 1}}']) {
      expect({ bad, value: normalizeValue(indicators, bad) }).toEqual({ bad, value: expect.any(Invalid) });
    }
    expect(normalizeValue(names, '["Hb", "PLT"]')).toEqual(['Hb', 'PLT']);
    for (const bad of ['{}', 'null', '["x", null]', '[["Hb"]]', `["${'x'.repeat(101)}"]`, '["a\\u0000b"]', JSON.stringify(Array.from({ length: 501 }, (_, i) => `i${i}`))]) {
      expect({ bad, value: normalizeValue(names, bad) }).toEqual({ bad, value: expect.any(Invalid) });
    }
  });

  it('JSON text is parsed up to exactly JSON_LIMITS.maxJsonLength characters (pretty-printed whitespace included); one more is refused unparsed', () => {
    const indicators = column('transfusions', 'indicators_before');
    const names = column('analysis_templates', 'indicators_json');
    const padded = (json: string, length: number) => json + ' '.repeat(length - json.length);
    expect(normalizeValue(indicators, padded('{"Hb":9.5}', JSON_LIMITS.maxJsonLength))).toEqual({ Hb: 9.5 });
    expect(normalizeValue(names, padded('["Hb"]', JSON_LIMITS.maxJsonLength))).toEqual(['Hb']);
    const tooLong = new Invalid(`must be at most ${JSON_LIMITS.maxJsonLength} characters of JSON`);
    expect(normalizeValue(indicators, padded('{"Hb":9.5}', JSON_LIMITS.maxJsonLength + 1))).toEqual(tooLong);
    expect(normalizeValue(names, padded('["Hb"]', JSON_LIMITS.maxJsonLength + 1))).toEqual(tooLong);
  });

  it('a created or updated record that leaves out a required column is refused, naming it (is required), whatever table it is', () => {
    const complete: Record<string, Record<string, unknown>> = {
      transfusions: { date: 1 },
      blood_tests: { date: 1 },
      blood_test_results: { blood_test_id: randomUUID(), name: 'Hb', value: 9.5 },
      analysis_templates: { name: 'CBC', indicators_json: '["Hb"]' },
      reminders: { title: 'Iron', remind_at: 1, frequency: 'daily', is_completed: false },
      documents: { name: 'Scan', category: 'other' },
    };
    const required = SYNC_TABLES.flatMap((t) => t.columns.filter((c) => c.required).map((c) => [t.name, c.name] as const));
    expect(required.map(([table, name]) => `${table}.${name}`).sort()).toEqual(
      Object.entries(complete).flatMap(([table, values]) => Object.keys(values).map((name) => `${table}.${name}`)).sort(),
    );
    for (const [table, name] of required) {
      for (const kind of ['created', 'updated'] as const) {
        const id = randomUUID();
        const { [name]: _left, ...record } = complete[table];
        const changes = { [table]: { created: [], updated: [], deleted: [], [kind]: [{ id, family_id: family, ...record }] } };
        let details: unknown = null;
        try {
          validatePush(changes, family);
        } catch (error) {
          details = (error as DomainError).details;
        }
        expect({ table, name, kind, details }).toMatchObject({ table, name, kind, details: { table, id, field: name, errors: [{ field: name, message: 'is required' }] } });
      }
    }
    // The complete records themselves are accepted.
    for (const [table, record] of Object.entries(complete)) {
      expect(validatePush({ [table]: { created: [{ id: randomUUID(), family_id: family, ...record }], updated: [], deleted: [] } }, family).recordCount).toBe(1);
    }
  });

  it('_changed (the names of the locally changed columns) is taken up to exactly JSON_LIMITS.maxChangedLength characters, refused one past it', () => {
    const pushChanged = (length: number) => () => {
      const changed = `updated_at,date,${'x'.repeat(length - 'updated_at,date,'.length)}`;
      return validatePush({ blood_tests: { created: [{ id: randomUUID(), family_id: family, date: 1, updated_at: 2, _changed: changed }], updated: [], deleted: [] } }, family);
    };
    expect(pushChanged(JSON_LIMITS.maxChangedLength)().tables[0].upserts[0].fingerprint).toEqual(expect.any(String));
    expect(pushChanged(JSON_LIMITS.maxChangedLength + 1)).toThrow(`must be at most ${JSON_LIMITS.maxChangedLength} characters: the names of the changed columns`);
  });

  it('keeps only writable columns, ignores _status/_changed and read-only columns', () => {
    const push = validatePush(
      { families: { created: [], updated: [{ id: family, family_id: family, invite_code: 'ZZZZZZ', patient_name: 'A', _status: 'updated', _changed: 'patient_name' }], deleted: [] } },
      family,
    );
    expect(push.tables[0].upserts[0].doc).toEqual({ id: family, patient_name: 'A' });
  });

  it('collects every error and names the first', () => {
    const id = randomUUID();
    try {
      validatePush({ transfusions: { created: [{ id, date: 'x', volume_ml: -1 }], updated: [], deleted: [] } }, family);
      throw new Error('expected a 422');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      const details = (error as DomainError).details as { table: string; id: string; field: string; errors: unknown[] };
      expect(details).toMatchObject({ table: 'transfusions', id, field: 'date' });
      expect(details.errors).toHaveLength(2);
    }
  });

  it('refuses duplicated ids and a foreign family_id', () => {
    const id = randomUUID();
    expect(() => validatePush({ blood_tests: { created: [{ id, date: 1 }], updated: [], deleted: [id] } }, family)).toThrow(/duplicated/);
    expect(() => validatePush({ blood_tests: { created: [{ id, date: 1, family_id: randomUUID() }], updated: [], deleted: [] } }, family)).toThrow(/another family/);
    expect(validatePush({ blood_tests: { created: [{ id, date: 1, family_id: '' }], updated: [], deleted: [] } }, family).recordCount).toBe(1);
  });

  it('refuses an id pushed twice among created and updated records of a table, naming it', () => {
    const id = randomUUID();
    const record = { id, family_id: family, date: 1 };
    for (const [created, updated] of [[[record, record], []], [[record], [record]], [[], [record, record]]]) {
      expect(() => validatePush({ blood_tests: { created, updated, deleted: [] } }, family)).toThrow(`Invalid sync record blood_tests#${id}.id: duplicated in this push`);
    }
    // The same id in two tables is two records.
    expect(validatePush({ blood_tests: { created: [record], updated: [], deleted: [] }, transfusions: { created: [record], updated: [], deleted: [] } }, family).recordCount).toBe(2);
  });

  it('blood_test_id is a lower-case UUID, as every id: the same test in upper case is refused, not stored as another spelling', () => {
    const ref = column('blood_test_results', 'blood_test_id');
    const id = randomUUID();
    expect(normalizeValue(ref, id)).toBe(id);
    for (const bad of [id.toUpperCase(), `{${id}}`, id.replace(/-/g, ''), '', 42]) {
      expect({ bad, value: normalizeValue(ref, bad) }).toEqual({ bad, value: new Invalid('must be a lower-case UUID') });
    }
  });

  it('from a device, a created record must carry the family id; a wrong type is a 422, another family a 403', () => {
    const push = (record: Record<string, unknown>) => () =>
      validatePush({ blood_tests: { created: [{ id: randomUUID(), date: 1, ...record }], updated: [], deleted: [] } }, family, { requireFamilyId: true });
    const fieldOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return [(error as DomainError).code, ((error as DomainError).details as { field?: string }).field];
      }
      return null;
    };
    expect(fieldOf(push({}))).toEqual(['VALIDATION_FAILED', 'family_id']);
    expect(fieldOf(push({ family_id: '' }))).toEqual(['VALIDATION_FAILED', 'family_id']);
    expect(fieldOf(push({ family_id: null }))).toEqual(['VALIDATION_FAILED', 'family_id']);
    expect(fieldOf(push({ family_id: 5 }))).toEqual(['VALIDATION_FAILED', 'family_id']);
    expect(fieldOf(push({ family_id: randomUUID() }))).toEqual(['FORBIDDEN_RECORD', undefined]);
    expect(fieldOf(push({ family_id: family }))).toBeNull();
    // Updated records are checked once the server knows whether it has them.
    const updated = validatePush({ blood_tests: { created: [], updated: [{ id: randomUUID(), date: 1 }], deleted: [] } }, family, { requireFamilyId: true });
    expect(updated.tables[0].upserts[0].namesFamily).toBe(false);
  });
});
