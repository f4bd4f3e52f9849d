import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { isJsonColumn, SYNC_TABLE_BY_NAME, writableColumns, type ColumnSpec, type StringColumnSpec, type SyncTableName, type TableSpec } from '../../src/modules/sync/sync-schema.js';
import { emptyChanges, pull, push, type SyncCaller } from '../factories/sync.factory.js';
import { useTestApp } from '../setup/test-app.js';
import { register } from '../sync-client/family.js';

/**
 * Property tests of the sync round trip through real PostgreSQL: a generated record per table —
 * values at the edges of what the push accepts (lengths in code points with astral characters,
 * denormal and extreme doubles, -0, the largest dates, odd but valid JSON), sometimes one column
 * replaced by anything at all — is pushed over HTTP. The push answers 200 or 422 naming that
 * column, never a 500; after a 200 the record pulled back equals the record pushed, column by
 * column, in the wire format the README documents (ms numbers, JSON columns as compact JSON
 * strings, booleans as booleans, '' of an optional enum as null). The same for the REST and upload
 * fields that write synced columns (PATCH /families/me, the upload's document fields), register's
 * name, the sync routes' own parameters, and raw bytes inside a JSON string. Seeded and bounded: a
 * failure prints the seed and the shrunk input; rerun with it (fc.assert's `seed` and `path`).
 */
// FUZZ_SEED / FUZZ_RUNS explore further by hand; the suite runs the fixed seed.
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);

const t = useTestApp();

const cp = (c: string, n: number) => c.repeat(n);
/** Code points that are valid but unusual: astral, combining, joiners, BOM, separators, controls, quotes. */
const oddChar = fc.constantFrom('x', '😀', 'é', 'e\u0301', '\u00a0', '\u2028', '\ufeff', '\u007f', '\u0001', '\u200d', '"', '\\', "'", '\uffff', '\u{10ffff}', '𝄞');

/** A string the column takes: exactly at its limit in code points (astral ones are 2 UTF-16 units), or short and odd. */
function stringFor(column: StringColumnSpec): fc.Arbitrary<string> {
  const max = column.maxLength;
  const atLimit = fc.tuple(oddChar, fc.constantFrom(max, max - 1)).map(([c, n]) => {
    const units = [...c].length; // 'e\u0301' is two code points
    return cp(c, Math.floor(n / units)) + 'y'.repeat(n % units);
  });
  const short = fc.string({ unit: fc.oneof(oddChar, fc.integer({ min: 1, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c))), minLength: column.required ? 1 : 0, maxLength: 20 });
  return fc.oneof(atLimit, short).filter((s) => !column.required || s.trim() !== '');
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });

/** A value the column takes, biased to its edges. */
function validFor(column: ColumnSpec): fc.Arbitrary<unknown> {
  switch (column.kind) {
    case 'string':
      return stringFor(column);
    case 'timestamp':
    case 'integer': {
      const [min, max] = [column.min, column.max];
      return fc.oneof(fc.constantFrom(min, max, min + 1, max - 1, 0, 1_764_000_000_000).filter((v) => v >= min && v <= max), fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }), fc.maxSafeInteger().filter((v) => v >= min && v <= max));
    }
    case 'number': {
      if (column.gt === undefined || column.lt === undefined) return fc.oneof(fc.constantFrom(-0, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, 2.2250738585072014e-308, 0.1 + 0.2, 1e21, 123456789.12345679), finite);
      const [gt, lt] = [column.gt, column.lt];
      return fc.oneof(fc.constantFrom(Number.MIN_VALUE, 1e-300, 0.1 + 0.2, lt - lt * Number.EPSILON, 31.5), fc.double({ min: gt, max: lt, minExcluded: true, maxExcluded: true, noNaN: true }));
    }
    case 'boolean':
      return fc.constantFrom(true, false, 0, 1);
    case 'enum':
      return column.required ? fc.constantFrom(...column.values) : fc.constantFrom(...column.values, '', null);
    case 'json-number-map': {
      const name = fc.string({ unit: oddChar, minLength: 1, maxLength: 100 }).filter((s) => s.trim() !== '');
      const object = fc.dictionary(name, fc.oneof(finite, fc.constantFrom(-0, 5e-324, 1e308)), { maxKeys: 8 }).map((o) => JSON.stringify(o));
      return fc.oneof(object, fc.constantFrom('{}', '', null, ' { "hb" : 7.1 , "ferritin":1200 } ', '{"a":1,"a":2}', '{"__proto__":1}', '{"a":-0}', '{"a":1e-400}', '{"a":1E+2}', '{"\\u00e9":1}'));
    }
    case 'json-string-array': {
      const item = fc.string({ unit: oddChar, maxLength: 100 });
      return fc.oneof(fc.array(item, { maxLength: 8 }).map((a) => JSON.stringify(a)), fc.constantFrom('[]', '', ' [ "hb" , "hb" ] ', '["\\u00e9"]'));
    }
    case 'uuid':
      return fc.uuid({ version: 4 });
  }
}

/** Anything a JSON body can carry in a column (most of it refused with a 422). */
const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom(-0, 1e308, 5e-324, 2 ** 63, 8.64e15 + 1, -1, 1.5, '', ' ', '\u0000', '\ud800', '{"a":1e999}', '[1]', true, 2, '0'),
);

/** The column's numeric bounds (inclusive for timestamps and integers, exclusive for numbers). */
function boundsOf(column: ColumnSpec): Array<number | undefined> {
  if (column.kind === 'timestamp' || column.kind === 'integer') return [column.min, column.max];
  return column.kind === 'number' ? [column.gt, column.lt] : [];
}

/** For the column given something else than validFor: just past its edges (a code point too many, a NUL, a lone surrogate, a bound), or anything. */
function wildFor(column: ColumnSpec): fc.Arbitrary<unknown> {
  const edges: Array<fc.Arbitrary<unknown>> = [anything];
  if (column.kind === 'string') {
    const max = column.maxLength;
    edges.push(fc.constantFrom('x', '😀', '\u0000', '\ud800', '\udfff').map((c) => 'y'.repeat(max) + c));
    edges.push(fc.constantFrom('\u0000', '\ud800', '\udc00', 'a\ud83d', '\ude00b').map((c) => `a${c}`));
  }
  for (const bound of boundsOf(column)) {
    if (bound !== undefined) edges.push(fc.constantFrom(bound - 1, bound + 1, bound, bound + 0.5, bound - 0.5, -bound));
  }
  if (isJsonColumn(column)) edges.push(fc.constantFrom('{"\\u0000":1}', '{"\\ud800":1}', '["\\ud800"]', '["\\u0000"]', '{"a":"1"}', '[1]', '{"a":1e400}', `{"${'k'.repeat(101)}":1}`, '{', 'null'));
  return fc.oneof(...edges);
}

/** Columns a generated record carries: most, with valid values; or one column anything at all. */
function recordArb(spec: TableSpec, fixed: Record<string, unknown>): fc.Arbitrary<{ record: Record<string, unknown>; wild: string | null }> {
  const columns = writableColumns(spec).filter((c) => !(c.name in fixed) && !(spec.name === 'documents' && c.name === 'file_url'));
  const values = Object.fromEntries(columns.map((c) => [c.name, c.required ? validFor(c) : fc.option(validFor(c), { nil: undefined, freq: 6 })]));
  const wild = fc.option(fc.constantFrom(...columns).chain((c) => fc.tuple(fc.constant(c.name), wildFor(c))), { nil: null, freq: 3 });
  return fc.tuple(fc.record(values), wild).map(([generated, wildValue]) => {
    const record: Record<string, unknown> = { ...fixed, ...generated, _status: 'created', _changed: '' };
    for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
    if (wildValue) record[wildValue[0]] = wildValue[1];
    return { record, wild: wildValue ? wildValue[0] : null };
  });
}

/**
 * What a pull must send for a column pushed as `pushed` (`absent`: not in the record), per the README;
 * `kept` is what the row held before (undefined: a new row).
 */
function expectWire(column: ColumnSpec, pushed: unknown, absent: boolean, pulled: unknown, kept: Record<string, unknown> | undefined): void {
  const where = `${column.name}: pushed ${JSON.stringify(pushed)}${absent ? ' (absent)' : ''}, pulled ${JSON.stringify(pulled)}, held ${JSON.stringify(kept?.[column.name])}`;
  if (column.nullMeansAbsent && (absent || pushed === null)) {
    // Kept on an existing row, the server's time on a new one.
    expect([where, kept ? pulled === kept[column.name] : typeof pulled === 'number']).toEqual([where, true]);
    return;
  }
  let expected: unknown = absent ? (kept ? kept[column.name] : null) : pushed;
  if (absent) {
    expect([where, pulled === expected]).toEqual([where, true]);
    return;
  }
  if (column.kind === 'boolean' && (expected === 0 || expected === 1)) expected = expected === 1;
  if (column.kind === 'enum' && expected === '') expected = null;
  if (column.kind === 'json-number-map' && expected === '') expected = null;
  if (column.kind === 'json-string-array' && (expected === '' || expected === null)) expected = '[]';
  if (isJsonColumn(column) && typeof expected === 'string') {
    // Stored as parsed and re-serialized: compact, duplicate keys folded, numbers in their shortest form.
    expect([where, pulled]).toEqual([where, JSON.stringify(JSON.parse(expected))]);
    return;
  }
  // === on purpose: -0 is sent as 0 (JSON.stringify writes it so); every other number exactly.
  expect([where, pulled === expected]).toEqual([where, true]);
}

function wireRecord(body: { changes: Record<string, { created: Array<{ id: string }>; updated: Array<{ id: string }> }> }, table: string, id: string) {
  const { created, updated } = body.changes[table];
  return [...created, ...updated].find((r) => r.id === id) as Record<string, unknown> | undefined;
}

/** Pushes generated records of `table` (one per run) and checks each answer and round trip. */
async function roundTrips(table: SyncTableName): Promise<void> {
  const spec = SYNC_TABLE_BY_NAME.get(table)!;
  const m: SyncCaller = await register(t);
  let cursor: number = (await pull(t, m, null).expect(200)).body.timestamp;
  const testId = randomUUID();
  const fixed: Record<string, unknown> = spec.isFamilyRow ? { id: m.familyId } : { family_id: m.familyId };
  if (table === 'blood_test_results') {
    fixed.blood_test_id = testId;
    cursor = (await push(t, m, cursor, { ...emptyChanges(), blood_tests: { created: [{ id: testId, family_id: m.familyId, date: 1 }], updated: [], deleted: [] } }).expect(200)).body.timestamp;
  }
  // The family row exists from the start; another table's last stored record may be written again.
  let held: Record<string, unknown> | undefined = spec.isFamilyRow ? wireRecord((await pull(t, m, null).expect(200)).body, 'families', m.familyId) : undefined;
  let stored = 0;
  const again = fc.constantFrom('new', 'created', 'updated');
  await fc.assert(
    fc.asyncProperty(recordArb(spec, fixed), again, async ({ record, wild }, how) => {
      // A new record, or the last stored one pushed again as created (created-but-existing: an
      // update) or as updated: columns it leaves out keep their values.
      const kept = spec.isFamilyRow || (how !== 'new' && held) ? held : undefined;
      const id = kept ? (kept.id as string) : randomUUID();
      record.id = id;
      const changes = emptyChanges();
      changes[table][how === 'created' || (!kept && !spec.isFamilyRow) ? 'created' : 'updated'] = [record];
      const res = await push(t, m, cursor, changes);
      const context = JSON.stringify({ status: res.status, body: res.body, wild });
      expect([context, res.status < 500]).toEqual([context, true]);
      if (res.status !== 200) {
        // The one refusal possible: the column given anything at all, named.
        expect([context, res.status, res.body.details?.table, res.body.details?.field]).toEqual([context, 422, table, wild]);
        return;
      }
      stored++;
      const body = (await pull(t, m, cursor).expect(200)).body;
      cursor = body.timestamp;
      const pulled = wireRecord(body, table, id);
      expect([context, pulled?.id]).toEqual([context, id]);
      for (const column of writableColumns(spec)) {
        if (column.name === 'file_url' || column.name === 'blood_test_id') continue;
        expectWire(column, record[column.name], !(column.name in record), pulled![column.name], kept);
      }
      held = pulled;
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: false },
  );
  // Most runs must reach PostgreSQL, or the property proves little.
  expect(stored).toBeGreaterThan(RUNS / 3);
}

describe('sync round trip (property-based, real PostgreSQL)', () => {
  for (const table of ['families', 'transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'] as const) {
    it(`${table}: a generated push answers 200 or a 422 naming the odd column, never 500; what is stored pulls back as pushed`, async () => {
      await roundTrips(table);
    });
  }
});

/**
 * The REST fields that write synced columns (PATCH /families/me: the patient fields, validated by the
 * sync registry through @SyncColumn) and the account's name (register): generated bodies answer
 * 200/201 or 400 naming the odd field, never 500; what is stored reads back as sent, through REST
 * and, for the patient fields, through a sync pull.
 */
describe('REST fields (property-based, real PostgreSQL)', () => {
  const familySpec = SYNC_TABLE_BY_NAME.get('families')!;
  const patientColumns = writableColumns(familySpec).filter((c) => c.name !== 'updated_at');

  it('PATCH /families/me: 200 or a 400 naming the odd field, never 500; GET /families/me and a pull send back what was stored', async () => {
    const m = await register(t);
    const fields = Object.fromEntries(patientColumns.map((c) => [c.name, fc.option(fc.oneof(validFor(c), fc.constant(null)), { nil: undefined, freq: 3 })]));
    const wild = fc.option(fc.constantFrom(...patientColumns).chain((c) => fc.tuple(fc.constant(c.name), wildFor(c))), { nil: null, freq: 3 });
    let cursor: number = (await pull(t, m, null).expect(200)).body.timestamp;
    let before: Record<string, unknown> = (await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200)).body;
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(fc.record(fields), wild, async (generated, odd) => {
        const body: Record<string, unknown> = Object.fromEntries(Object.entries(generated).filter(([, v]) => v !== undefined));
        if (odd) body[odd[0]] = odd[1];
        const res = await t.http().patch('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).send(body);
        const context = JSON.stringify({ status: res.status, body: res.body, odd: odd?.[0] ?? null });
        expect([context, res.status < 500]).toEqual([context, true]);
        if (res.status !== 200) {
          expect([context, res.status, res.body.details?.fields?.[0]?.field]).toEqual([context, 400, odd?.[0]]);
          return;
        }
        stored++;
        const after = (await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200)).body;
        const pulled = await pull(t, m, cursor).expect(200);
        cursor = pulled.body.timestamp;
        const row = wireRecord(pulled.body, 'families', m.familyId) ?? (await pull(t, m, null).expect(200)).body.changes.families.created[0];
        for (const column of patientColumns) {
          const sent = column.name in body;
          const expected = sent ? (column.kind === 'enum' && body[column.name] === '' ? null : body[column.name]) : before[column.name];
          const where = `${column.name}: sent ${JSON.stringify(body[column.name])}${sent ? '' : ' (absent)'}, REST ${JSON.stringify(after[column.name])}, pull ${JSON.stringify(row[column.name])}`;
          // === on purpose: -0 is stored as 0 (see the sync round trip above).
          expect([where, after[column.name] === expected, row[column.name] === expected]).toEqual([where, true, true]);
        }
        before = after;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(stored).toBeGreaterThan(RUNS / 3);
  });

  it('register: the name answers 201 or a 400 naming it, never 500; GET /auth/me sends back the name trimmed (null when nothing is left)', async () => {
    const name = fc.oneof(stringFor({ name: 'name', kind: 'string', sqlType: 'text', maxLength: 200 }), wildFor({ name: 'name', kind: 'string', sqlType: 'text', maxLength: 200 }), fc.constantFrom(' Leila ', '\ufeffLeila\u00a0', '\u2028', '   ', ''));
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(name, async (value) => {
        const email = `fuzz-${randomUUID()}@example.com`;
        const res = await t.http().post('/api/v1/auth/register').send({ email, password: 'correct horse battery', name: value });
        const context = JSON.stringify({ status: res.status, body: res.body, name: value });
        expect([context, res.status < 500]).toEqual([context, true]);
        if (res.status !== 201) {
          expect([context, res.status, res.body.details?.fields?.[0]?.field]).toEqual([context, 400, 'name']);
          return;
        }
        stored++;
        const me = (await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${res.body.access_token}`).expect(200)).body;
        const expected = typeof value === 'string' ? value.trim() || null : value;
        const where = `sent ${JSON.stringify(value)}, got ${JSON.stringify(me.user.name)}`;
        expect([where, me.user.name === expected]).toEqual([where, true]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(stored).toBeGreaterThan(RUNS / 3);
  });
});

/** The sync routes' own parameters: the cursor (query or body), schema_version, migration, X-Device-Id. */
describe('sync parameters (property-based, real PostgreSQL)', () => {
  const numberish = fc.oneof(
    fc.constantFrom('', ' ', 'null', 'undefined', '-0', '0', '1', ' 1', '1.0', '1.5', '1e3', '1e400', '-1', '0x10', '0b1', 'NaN', 'Infinity', '9007199254740991', '9007199254740993', '9223372036854775807', '9223372036854775808', '18446744073709551616', '1_000', '١'),
    fc.maxSafeInteger().map(String),
    fc.string({ maxLength: 8 }),
  );
  const migration = fc.oneof(fc.json({ maxDepth: 3 }), fc.constantFrom('{"from":1,"tables":["transfusions"],"columns":[]}', '{"from":0,"tables":[],"columns":[{"table":"transfusions","columns":["x"]}]}', '{"from":1e400}', '{"from":-1,"tables":null}', '{"tables":["__proto__"],"columns":[{"table":"__proto__","columns":["id"]}]}', '{}', 'null'), fc.string({ maxLength: 8 }));
  const device = fc.oneof(fc.constant(undefined), fc.string({ unit: 'binary-ascii', maxLength: 10 }).filter((s) => /^[\x20-\x7e]*$/.test(s) && s.trim() === s), fc.constant('d'.repeat(201)));

  it('GET /sync with any cursor, schema_version, migration and device id: 200 or a 4xx, never 500', async () => {
    const m = await register(t);
    await fc.assert(
      fc.asyncProperty(fc.record({ last_pulled_at: numberish, schema_version: numberish, migration, other: numberish }, { requiredKeys: [] }), device, async (query, deviceId) => {
        const req = t.http().get('/api/v1/sync').query(query).set('Authorization', `Bearer ${m.token}`);
        const res = await (deviceId === undefined ? req : req.set('X-Device-Id', deviceId));
        const context = JSON.stringify({ query, deviceId, status: res.status, body: res.status === 200 ? '(pull)' : res.body });
        expect([context, res.status < 500]).toEqual([context, true]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('POST /sync with any cursor, in the query or the body: 200 or a 4xx, never 500', async () => {
    const m = await register(t);
    const bodyCursor = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom(-0, 1e308, 2 ** 53, 2 ** 63, -1, 1.5, 0));
    await fc.assert(
      fc.asyncProperty(fc.option(numberish, { nil: undefined }), fc.option(bodyCursor, { nil: undefined }), device, async (queryCursor, lastPulledAt, deviceId) => {
        const record = { id: randomUUID(), family_id: m.familyId, date: 1 };
        const body = { changes: { ...emptyChanges(), blood_tests: { created: [record], updated: [], deleted: [] } }, ...(lastPulledAt === undefined ? {} : { lastPulledAt }) };
        const req = t.http().post('/api/v1/sync').query(queryCursor === undefined ? {} : { last_pulled_at: queryCursor }).set('Authorization', `Bearer ${m.token}`);
        const res = await (deviceId === undefined ? req : req.set('X-Device-Id', deviceId)).send(body);
        const context = JSON.stringify({ queryCursor, lastPulledAt, deviceId, status: res.status, body: res.body });
        expect([context, res.status < 500]).toEqual([context, true]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/**
 * POST /api/v1/upload's document fields (name, category, notes: the sync registry's rules through
 * @SyncColumn) and the file's name: 201 or a 400 naming the field, never 500; the document pulls
 * back as sent, and the file downloads under a name built from the one sent.
 */
describe('upload fields (property-based, real PostgreSQL)', () => {
  const documents = SYNC_TABLE_BY_NAME.get('documents')!;
  const column = (name: string) => documents.columns.find((c) => c.name === name)!;
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

  it('document fields and file name: 201 or a 400 naming the field, never 500; the document pulls back as sent', async () => {
    const m = await register(t);
    let cursor: number = (await pull(t, m, null).expect(200)).body.timestamp;
    const [name, category, notes] = [column('name'), column('category'), column('notes')];
    if (name.kind !== 'string' || category.kind !== 'enum' || notes.kind !== 'string') throw new Error('documents: name and notes are strings, category an enum');
    const text = (c: StringColumnSpec) => fc.oneof({ arbitrary: stringFor(c), weight: 4 }, { arbitrary: wildFor(c).filter((v): v is string => typeof v === 'string'), weight: 1 });
    const fields = fc.record({
      name: text(name),
      category: fc.oneof({ arbitrary: fc.constantFrom(...category.values), weight: 6 }, { arbitrary: fc.constantFrom('', 'Other', 'x'), weight: 1 }),
      notes: fc.option(text(notes), { nil: undefined }),
    });
    const fileName = fc.oneof({ arbitrary: fc.string({ unit: oddChar, minLength: 1, maxLength: 300 }), weight: 2 }, fc.constantFrom('scan.png', '../../etc/passwd', '.hidden', ' ', 'a\\b.png', '%00.png', '😀'.repeat(300)));
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(fields, fileName, async (sent, filename) => {
        const id = randomUUID();
        const req = t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).field('document_id', id).field('name', sent.name).field('category', sent.category);
        if (sent.notes !== undefined) req.field('notes', sent.notes);
        const res = await req.attach('file', png, { filename, contentType: 'image/png' });
        const context = JSON.stringify({ status: res.status, body: res.body, sent, filename });
        expect([context, res.status < 500]).toEqual([context, true]);
        if (res.status !== 201) {
          // form-data writes the file name raw in filename="…": a control character (DEL) is not HTTP, and a
          // backslash escapes what follows (a final one, the closing quote): the client's header is malformed.
          const malformed = /[\u0000-\u001f\u007f\\]/.test(filename) && res.body.details?.code === 'INVALID_UPLOAD';
          expect([context, res.status, malformed || ['name', 'category', 'notes'].includes(res.body.details?.fields?.[0]?.field)]).toEqual([context, 400, true]);
          return;
        }
        stored++;
        const body = (await pull(t, m, cursor).expect(200)).body;
        cursor = body.timestamp;
        const doc = wireRecord(body, 'documents', id)!;
        // What went over the wire: form-data encodes a lone surrogate as U+FFFD (UTF-8 has no other way).
        const wire = (v: string) => (v as string & { toWellFormed(): string }).toWellFormed();
        const expected = { id, name: wire(sent.name), category: sent.category, notes: sent.notes === undefined ? null : wire(sent.notes), file_url: res.body.file_url, mime_type: 'image/png', size_bytes: png.length };
        expect([context, doc && Object.fromEntries(Object.keys(expected).map((k) => [k, doc[k]]))]).toEqual([context, expected]);
        const file = await t.http().get(res.body.file_url).set('Authorization', `Bearer ${m.token}`);
        expect([context, file.status]).toEqual([context, 200]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(stored).toBeGreaterThan(RUNS / 3);
  });
});

/** A JSON request whose body is exactly `body`, as bytes (supertest would re-encode a string as UTF-8). */
function rawJson(method: string, path: string, token: string, body: Buffer): Promise<{ status: number; body: { details?: { code?: string }; message?: string } }> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(body.length) };
    const req = httpRequest(`${t.baseUrl}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Bytes inside a JSON string of a push or a PATCH: valid UTF-8 is stored as the text it encodes;
 * anything else (Latin-1 `é` as E9, a UTF-8-encoded surrogate, an overlong NUL) is refused with 400
 * MALFORMED_REQUEST and nothing is stored — it used to be decoded to U+FFFD, answered 200 and
 * synced to every device in place of what the client sent.
 */
describe('body bytes (property-based, real PostgreSQL)', () => {
  // No '"', '\\' or control characters: the bytes stay inside one JSON string.
  const byte = fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0x20, max: 0x7e }).filter((b) => b !== 0x22 && b !== 0x5c));
  const bytes = fc.oneof(
    fc.constantFrom([0xe9], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbf, 0xbd], [0xf0, 0x9f, 0x98, 0x80], [0xc3, 0xa9], [0xe2, 0x80]),
    fc.array(byte, { minLength: 1, maxLength: 8 }),
  ).map((b) => Buffer.from(b));

  it('a push and a PATCH: valid UTF-8 stored as its text, anything else 400 MALFORMED_REQUEST with nothing stored', async () => {
    const m = await register(t);
    let cursor: number = (await pull(t, m, null).expect(200)).body.timestamp;
    await fc.assert(
      fc.asyncProperty(bytes, async (inside) => {
        const utf8 = isUtf8(inside);
        const text = inside.toString('utf8');
        const id = randomUUID();
        const [head, tail] = JSON.stringify({ changes: { ...emptyChanges(), blood_tests: { created: [{ id, family_id: m.familyId, date: 1, comment: '<>' }], updated: [], deleted: [] } } }).split('<>');
        const pushed = await rawJson('POST', `/api/v1/sync?last_pulled_at=${cursor}`, m.token, Buffer.concat([Buffer.from(head), inside, Buffer.from(tail)]));
        const patched = await rawJson('PATCH', '/api/v1/families/me', m.token, Buffer.concat([Buffer.from('{"notes":"'), inside, Buffer.from('"}')]));
        const context = JSON.stringify({ bytes: inside.toString('hex'), utf8, push: pushed, patch: patched });
        const refused = [400, 'MALFORMED_REQUEST'];
        expect([context, pushed.status, pushed.body.details?.code ?? 'stored']).toEqual([context, ...(utf8 ? [200, 'stored'] : refused)]);
        expect([context, patched.status, patched.body.details?.code ?? 'stored']).toEqual([context, ...(utf8 ? [200, 'stored'] : refused)]);
        const body = (await pull(t, m, cursor).expect(200)).body;
        cursor = body.timestamp;
        const comment = wireRecord(body, 'blood_tests', id)?.comment;
        // The family row is in the pull when the PATCH changed it (the same notes again change nothing).
        const family = wireRecord(body, 'families', m.familyId);
        const notes = (await t.http().get('/api/v1/families/me').set('Authorization', `Bearer ${m.token}`).expect(200)).body.notes;
        expect([context, comment, family === undefined || family.notes === notes]).toEqual([context, utf8 ? text : undefined, true]);
        if (utf8) expect([context, notes]).toEqual([context, text]);
        else expect([context, family]).toEqual([context, undefined]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
