import { randomBytes } from 'node:crypto';
import rawRecordModule from '@nozbe/watermelondb/RawRecord/index.js';
import { useTestApp } from '../setup/test-app.js';
import { Device, syncProblems, type Raw } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';
import { schemaV2, TABLE_NAMES } from '../sync-client/schema.js';
import { turboLoad, TurboLoadError, type SqliteRow, type TurboLoad } from '../sync-client/turbo-loader.js';

// CommonJS seen from ESM: the namespace's default is module.exports.
const { sanitizedRaw } = ((rawRecordModule as unknown as { default?: unknown }).default ??
  rawRecordModule) as typeof import('@nozbe/watermelondb/RawRecord/index.js');

/** Escapes, control characters, JSON's line separators, combining marks, astral characters, right-to-left text. */
const UNICODE = 'Амир 阿米尔 أمير 🩸💉 e\u0301 "q" \\ / \n\t\r\u0001\u001f \u2028\u2029 </script>';
/** A string of exactly `codePoints` code points (the server's length limits count code points). */
const text = (codePoints: number) => {
  const chars = [...UNICODE];
  return Array.from({ length: codePoints }, (_, i) => chars[i % chars.length]).join('');
};
const NOTES = text(20_000);

const pdf = () => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500), Buffer.from('\n%%EOF\n')]);

/**
 * The app's records, read from its database (LokiJS here) as WatermelonDB holds them, with
 * `_status` and `_changed`, sorted by id.
 */
async function stored(device: Device, table: string): Promise<Raw[]> {
  const records = await device.database.get(table).query().fetch();
  return records.map((r) => ({ ...(r._raw as unknown as Raw) })).sort((a, b) => a.id.localeCompare(b.id));
}

/** The turbo rows of a table, sorted by id. */
const turboRows = (load: TurboLoad, table: string): SqliteRow[] =>
  [...(load.tables[table]?.values() ?? [])].sort((a, b) => String(a.id).localeCompare(String(b.id)));

/** A raw record as the native loader would have inserted it: SQLite has no booleans (0/1), the only difference by design. */
const asSqlite = (raw: Raw): SqliteRow => Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : (v as string | number | null)]));

/** The body with `edit` applied to its parsed `changes` (a server bug, made by hand). */
type Changes = Record<string, Record<string, Array<Record<string, unknown>>>>;
const edited = (body: string, edit: (changes: Changes, whole: Record<string, unknown>) => void) => {
  const whole = JSON.parse(body) as { changes: Changes };
  edit(whole.changes, whole);
  return JSON.stringify(whole);
};

/**
 * DESIGN.md (Pull): the pull supports WatermelonDB's turbo first sync, whose body goes as text to
 * the native SQLite loader and is never parsed by JavaScript. That loader cannot run in Node, so
 * the body a real first sync received is loaded by a model of it (test/sync-client/turbo-loader.ts)
 * and compared with what the JavaScript path (synchronize() without turbo) stored from that body.
 */
describe('turbo first sync (WatermelonDB unsafeTurbo)', () => {
  const t = useTestApp();
  afterAll(() => {
    expect(syncProblems()).toEqual([]);
  });
  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });

  it('a first pull loads through the turbo loader to exactly the rows the JS client stored, from every table, with no deletions', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    await phoneA.sync();
    const upload = (await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${owner.token}`).attach('file', pdf(), 'scan.pdf').expect(201)).body as {
      file_url: string;
      mime_type: string;
      size_bytes: number;
    };

    // Every column filled, at its length limit where it has one; and a record of each table with its optional columns null.
    await phoneA.update('families', owner.familyId, {
      patient_name: text(200),
      patient_birth_date: -1_000_000_000_000, // 1938: a negative date
      patient_weight_kg: 31.25,
      patient_blood_group: 'AB-',
      patient_diagnosis: text(500),
      notes: NOTES,
    });
    const full: Record<string, string> = {};
    full.transfusions = await phoneA.create('transfusions', {
      date: 1_764_000_000_000,
      volume_ml: 312.5,
      patient_weight_kg: 30.25,
      medication: text(500),
      indicators_before: JSON.stringify({ hb: 7.1, 'ферритин': 1850, '🩸 "x"\\': -0.5, tiny: 1e-7 }),
      indicators_after: JSON.stringify({ hb: 10.2, big: 1.7976931348623157e308 }),
      hospital: text(300),
      reaction: text(2000),
      notes: NOTES,
    });
    full.blood_tests = await phoneA.create('blood_tests', { date: 1_764_000_000_001, comment: NOTES, laboratory: text(300) });
    full.blood_test_results = await phoneA.create('blood_test_results', {
      blood_test_id: full.blood_tests,
      name: text(100),
      value: 0.1 + 0.2,
      unit: text(50),
      reference_min: 5e-324,
      reference_max: 1.7976931348623157e308,
    });
    full.analysis_templates = await phoneA.create('analysis_templates', { name: text(200), indicators_json: JSON.stringify(['Hb', 'Ферритин', '🩸 "PLT"\\']) });
    full.reminders = await phoneA.create('reminders', {
      title: text(300),
      remind_at: 1_764_100_000_000,
      frequency: 'every_n_days',
      interval_days: 3660,
      is_completed: true,
      completed_at: 1_764_200_000_000,
      notes: NOTES,
    });
    full.documents = await phoneA.create('documents', {
      name: text(300),
      category: 'lab_result',
      file_url: upload.file_url,
      mime_type: upload.mime_type,
      size_bytes: upload.size_bytes,
      notes: NOTES,
    });
    const sparseTest = await phoneA.create('blood_tests', { date: 0 });
    const sparse = [
      await phoneA.create('transfusions', { date: 1 }),
      sparseTest,
      await phoneA.create('blood_test_results', { blood_test_id: sparseTest, name: 'Hb', value: -0.5 }),
      await phoneA.create('analysis_templates', { name: 'CBC', indicators_json: '[]' }),
      await phoneA.create('reminders', { title: 'Deferasirox', remind_at: 2, frequency: 'once', is_completed: false }),
      await phoneA.create('documents', { name: 'Discharge', category: 'other' }),
    ];
    // The fixture fills what it says: no null and no '' in any column of the full records (as phone A holds them before any sync).
    for (const [table, id] of [...Object.entries(full), ['families', owner.familyId]]) {
      const empty = Object.entries((await phoneA.find(table, id))!).filter(([, v]) => v === null || v === '');
      expect({ table, empty }).toEqual({ table, empty: [] });
    }
    // What phone A wrote, as it holds it before any sync (its own later pulls replace it with what the server sends back).
    const written = await phoneA.snapshot();
    // Tombstones in every table that has them: each record synced, then deleted (the test's result goes with it).
    const doomedTest = await phoneA.create('blood_tests', { date: 3 });
    const doomed: Record<string, string> = {
      transfusions: await phoneA.create('transfusions', { date: 3 }),
      blood_tests: doomedTest,
      blood_test_results: await phoneA.create('blood_test_results', { blood_test_id: doomedTest, name: 'Hb', value: 8 }),
      analysis_templates: await phoneA.create('analysis_templates', { name: 'gone', indicators_json: '["Hb"]' }),
      reminders: await phoneA.create('reminders', { title: 'gone', remind_at: 3, frequency: 'daily', is_completed: true }),
      documents: await phoneA.create('documents', { name: 'gone', category: 'imaging' }),
    };
    await phoneA.sync();
    for (const table of ['transfusions', 'analysis_templates', 'reminders', 'documents', 'blood_tests']) await phoneA.remove(table, doomed[table]);
    await phoneA.sync();
    await phoneA.sync(); // takes the server's deletion of the doomed test's result
    for (const [table, id] of Object.entries(doomed)) {
      const [row] = await t.db.query(`SELECT deleted_at IS NOT NULL AS deleted FROM ${table} WHERE id = $1`, [id]);
      expect({ table, deleted: row?.deleted }).toEqual({ table, deleted: true });
    }

    // A new phone's first sync, with the real client (JS path); the body it applied, as text.
    const phoneB = device(member);
    await phoneB.sync();
    expect(phoneB.pulls).toBe(1);
    const body = phoneB.lastPullText!;
    const load = turboLoad(body, schemaV2); // throws TurboLoadError where the native loader fails

    expect(load.lost).toEqual([]);
    const cursor = Number(await phoneB.database.adapter.getLocal('__watermelon_last_pulled_at'));
    expect(load.residuals).toEqual({ timestamp: cursor });
    for (const table of TABLE_NAMES) {
      const client = await stored(phoneB, table);
      const turbo = turboRows(load, table);
      expect({ table, count: client.length }).toEqual({ table, count: table === 'families' ? 1 : 2 }); // full and sparse
      // Column by column: every row, every column, _status and _changed included.
      expect({ table, rows: turbo }).toEqual({ table, rows: client.map(asSqlite) });
      // And as the app reads them back (the SQLite adapter sanitizes every row it reads).
      expect(turbo.map((row) => sanitizedRaw(row, schemaV2.tables[table]))).toEqual(client);
    }
    for (const [table, id] of Object.entries(doomed)) expect(load.tables[table].has(id)).toBe(false);
    for (const id of sparse) expect(Object.values(load.tables).some((rows) => rows.has(id))).toBe(true);
    // Both paths stored what phone A wrote: a value the server altered or dropped would be lost in both alike.
    expect(await phoneB.snapshot()).toEqual(written);
  });

  it('the model is not vacuous: it refuses what the native loader refuses and reports a value the loader would drop', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    await phoneA.sync();
    const reminder = await phoneA.create('reminders', { title: 'Deferasirox', remind_at: 1, frequency: 'daily', is_completed: true });
    const transfusion = await phoneA.create('transfusions', { date: 1, volume_ml: 300, indicators_before: JSON.stringify({ hb: 7 }) });
    await phoneA.sync();
    const phoneB = device(member);
    await phoneB.sync();
    const body = phoneB.lastPullText!;
    expect(turboLoad(body, schemaV2).lost).toEqual([]);

    const refused = (json: string) => {
      try {
        turboLoad(json, schemaV2);
      } catch (error) {
        expect(error).toBeInstanceOf(TurboLoadError);
        return (error as Error).message;
      }
      return 'loaded';
    };
    // A deletion in a first pull (a tombstone sent to a new phone): the native loader throws.
    expect(refused(edited(body, (c) => void ((c.reminders as Record<string, unknown>).deleted = [reminder])))).toBe('expected deleted field to be empty');
    expect(refused(edited(body, (c) => void (c.reminders.moved = [])))).toBe('bad changeset field');
    expect(refused(edited(body, (c) => void c.reminders.updated.push(c.reminders.created[0])))).toBe('UNIQUE constraint failed: reminders.id');
    expect(refused(edited(body, (_c, whole) => void (whole.timestamp = String(whole.timestamp))))).toMatch(/invalid timestamp/);
    expect(refused(body.replace('{"changes":', '{"changes":[],"x":'))).toBe('changes is not an object');
    // What the native loader skips without a word: a table or a column the app does not have.
    expect(refused(edited(body, (c) => void (c.pets = { created: [{ id: 'x' }], updated: [], deleted: [] })))).toBe('loaded');

    // Values of the wrong JSON type keep the column's default: reported, and the rows differ from the client's.
    const mistyped = turboLoad(
      edited(body, (c) => {
        Object.assign(c.reminders.created.find((r) => r.id === reminder)!, { is_completed: 'true', extra: 1 });
        const tr = c.transfusions.created.find((r) => r.id === transfusion)!;
        Object.assign(tr, { volume_ml: '300', indicators_before: JSON.parse(tr.indicators_before as string) });
        delete tr.date;
      }),
      schemaV2,
    );
    expect(mistyped.lost.sort()).toEqual(
      [
        `reminders/${reminder}.is_completed: JSON string for a boolean column`,
        `transfusions/${transfusion}.date: absent`,
        `transfusions/${transfusion}.indicators_before: JSON object for a string column`,
        `transfusions/${transfusion}.volume_ml: JSON string for a number column`,
      ].sort(),
    );
    expect(mistyped.tables.reminders.get(reminder)).toMatchObject({ is_completed: 0 });
    expect(mistyped.tables.transfusions.get(transfusion)).toMatchObject({ date: 0, volume_ml: null, indicators_before: null });
    expect(turboRows(mistyped, 'transfusions')).not.toEqual((await stored(phoneB, 'transfusions')).map(asSqlite));
    // simdjson walks fields in order, duplicates included: the first (bound) value stays, where JSON.parse keeps the last.
    const doubled = turboLoad(body.replace('"volume_ml":300', '"volume_ml":300,"volume_ml":"300"'), schemaV2);
    expect(doubled.tables.transfusions.get(transfusion)).toMatchObject({ volume_ml: 300 });
    expect(doubled.lost).toEqual([]);
  });
});
