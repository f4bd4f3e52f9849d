import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DRAINED_MAX_BYTES, rawRequest } from '../setup/raw-request.js';
import { useTestApp } from '../setup/test-app.js';
import { changesOf, emptyChanges, pull, push, recordCounts } from '../factories/sync.factory.js';
import { register, type Member } from '../sync-client/family.js';
import { sessionsWaitingBehind, until } from '../setup/wait.js';

const LIMIT = 10;

/**
 * SYNC_FAMILY_MAX_RECORDS: a family's rows in the synced data tables, tombstones included, are
 * limited, against one account (or a stolen token) filling the database every family shares.
 */
describe('sync: a family\'s record limit (SYNC_FAMILY_MAX_RECORDS)', () => {
  const uploadDir = mkdtempSync(join(tmpdir(), 'hemoday-record-quota-'));
  const t = useTestApp({ SYNC_FAMILY_MAX_RECORDS: String(LIMIT), UPLOAD_DIR: uploadDir });
  afterAll(() => rmSync(uploadDir, { recursive: true, force: true }));
  const db = () => t.app.get(DataSource);
  const transfusion = (overrides: Record<string, unknown> = {}) => ({ id: randomUUID(), date: 1_764_000_000_000, volume_ml: 250, ...overrides });
  const reminder = () => ({ id: randomUUID(), title: 'Next transfusion', remind_at: 1_764_000_000_000, frequency: 'once', is_completed: false });

  /** The family's record_count, and what its rows really are. */
  const counts = (m: Member) => recordCounts(db(), m.familyId);
  /** The objects stored in the family's folder of the local storage. */
  const storedObjects = (m: Member) => {
    const folder = join(uploadDir, m.familyId);
    return existsSync(folder) ? readdirSync(folder) : [];
  };

  it('a push that would take the family past it is refused whole (413 RECORD_QUOTA_EXCEEDED, nothing applied); edits, deletions and pushes within it go on', async () => {
    const m = await register(t);
    let cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    const kept = [transfusion(), transfusion(), transfusion(), transfusion(), transfusion(), transfusion()];
    const test = { id: randomUUID(), date: 1_764_000_000_000 };
    const result = { id: randomUUID(), blood_test_id: test.id, name: 'Hb', value: 9.1 };
    cursor = (await push(t, m, cursor, { ...emptyChanges(), transfusions: { created: kept, updated: [], deleted: [] }, blood_tests: { created: [test], updated: [], deleted: [] }, blood_test_results: { created: [result], updated: [], deleted: [] } }).expect(200)).body.timestamp;
    expect(await counts(m)).toEqual({ kept: 8, rows: 8 });

    const refused = await push(t, m, cursor, changesOf('reminders', { created: [reminder(), reminder(), reminder()] })).expect(413);
    expect(refused.body).toMatchObject({
      statusCode: 413,
      error: 'Payload Too Large',
      details: { code: 'RECORD_QUOTA_EXCEEDED', max_records: LIMIT, stored_records: 8, new_records: 3 },
    });
    expect(refused.body.message).toMatch(/SYNC_FAMILY_MAX_RECORDS/);
    expect((await pull(t, m, cursor).expect(200)).body.changes.reminders).toEqual({ created: [], updated: [], deleted: [] });
    expect(await counts(m)).toEqual({ kept: 8, rows: 8 });

    // Up to the limit exactly, with edits and a deletion in the same push (a tombstone keeps its row).
    cursor = (
      await push(t, m, cursor, {
        ...emptyChanges(),
        transfusions: { created: [], updated: [{ ...kept[0], notes: 'edited' }], deleted: [kept[1].id] },
        reminders: { created: [reminder(), reminder()], updated: [], deleted: [] },
      }).expect(200)
    ).body.timestamp;
    expect(await counts(m)).toEqual({ kept: LIMIT, rows: LIMIT });

    // At the limit: a new record is refused, even as an "update" of a record the server does not have…
    const missing = await push(t, m, cursor, changesOf('transfusions', { updated: [transfusion()] })).expect(413);
    expect(missing.body.details).toMatchObject({ stored_records: LIMIT, new_records: 1 });
    // …while edits, deletions and the family's own row still go through, and a record deleted then
    // pushed again takes its old row (no new one).
    cursor = (
      await push(t, m, cursor, {
        ...emptyChanges(),
        families: { created: [], updated: [{ id: m.familyId, patient_name: 'Amira' }], deleted: [] },
        transfusions: { created: [{ ...kept[1], notes: 'restored' }], updated: [{ ...kept[2], volume_ml: 300 }], deleted: [kept[3].id] },
      }).expect(200)
    ).body.timestamp;
    expect(await counts(m)).toEqual({ kept: LIMIT, rows: LIMIT });
  });

  it('pushes racing for the last room cannot pass it together: each is checked against the count its predecessors left', async () => {
    const m = await register(t);
    const cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    // Six pushes of three new records at once, room for ten: three go through, whatever the order.
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => push(t, m, cursor, changesOf('transfusions', { created: [transfusion(), transfusion(), transfusion()] }))),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 413, 413, 413]);
    expect(await counts(m)).toEqual({ kept: 9, rows: 9 });
  });

  it('a push queued behind another write of the family is checked against the count that write left (read under the lock, not before it)', async () => {
    const m = await register(t);
    const cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await holder.connect();
    try {
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // Another write of eight records, as FamilyVersionService makes it: the family row locked and bumped, the rows counted.
      await holder.query('BEGIN');
      const bumped = await holder.query<{ v: string }>(
        'UPDATE families SET sync_version = sync_version + 1, record_count = record_count + 8 WHERE id = $1 RETURNING sync_version::text AS v',
        [m.familyId],
      );
      await holder.query(
        `INSERT INTO transfusions (id, family_id, date, volume_ml, created_at, updated_at, server_version, server_created_version)
         SELECT gen_random_uuid(), $1, 1, 250, 1, 1, $2, $2 FROM generate_series(1, 8)`,
        [m.familyId, bumped.rows[0].v],
      );
      const pushing = push(t, m, cursor, changesOf('transfusions', { created: [transfusion(), transfusion(), transfusion()] })).then((r) => r);
      await until(async () => (await sessionsWaitingBehind(holder, rows[0].pid)) > 0, 'the push to wait for the family lock');
      await holder.query('COMMIT');
      const res = await pushing;
      expect(res.status).toBe(413);
      expect(res.body.details).toMatchObject({ code: 'RECORD_QUOTA_EXCEEDED', stored_records: 8, new_records: 3 });
    } finally {
      await holder.end();
    }
    expect(await counts(m)).toEqual({ kept: 8, rows: 8 });
  });

  it('a blood test created and deleted on the phone before it synced is stored as a tombstone with its results: all three rows count', async () => {
    const m = await register(t);
    const cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    const testId = randomUUID();
    const results = [0, 1].map((i) => ({ id: randomUUID(), blood_test_id: testId, name: `r${i}`, value: i }));
    const push3 = () => push(t, m, cursor, { ...emptyChanges(), blood_tests: { created: [], updated: [], deleted: [testId] }, blood_test_results: { created: results, updated: [], deleted: [] } });
    await db().query('UPDATE families SET record_count = $2 WHERE id = $1', [m.familyId, LIMIT - 2]); // room for two rows only
    expect((await push3().expect(413)).body.details).toMatchObject({ stored_records: LIMIT - 2, new_records: 3 });
    await db().query('UPDATE families SET record_count = 0 WHERE id = $1', [m.familyId]);
    await push3().expect(200);
    expect(await counts(m)).toEqual({ kept: 3, rows: 3 });
  });

  it('an upload that would create a document past the limit is refused with the same 413 and stores nothing; one that updates a document, or creates none, is not limited by it', async () => {
    const m = await register(t);
    const cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    const documentId = randomUUID();
    await push(t, m, cursor, {
      ...emptyChanges(),
      transfusions: { created: Array.from({ length: LIMIT - 1 }, () => transfusion()), updated: [], deleted: [] },
      documents: { created: [{ id: documentId, name: 'Discharge letter', category: 'discharge_summary', file_url: '' }], updated: [], deleted: [] },
    }).expect(200);
    const [{ files: filesBefore }] = await db().query('SELECT count(*)::int AS files FROM files WHERE family_id = $1', [m.familyId]);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), Buffer.alloc(2000, 0x20)]);
    const upload = (fields: Record<string, string>) => {
      const req = t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`);
      for (const [k, v] of Object.entries(fields)) req.field(k, v);
      return req.attach('file', pdf, 'scan.pdf');
    };

    const refused = await upload({ name: 'Lab results', category: 'lab_result' }).expect(413);
    expect(refused.body.details).toMatchObject({ code: 'RECORD_QUOTA_EXCEEDED', max_records: LIMIT, stored_records: LIMIT, new_records: 1 });
    expect((await db().query('SELECT count(*)::int AS files FROM files WHERE family_id = $1', [m.familyId]))[0].files).toBe(filesBefore);
    // Nor are its bytes kept (found by review: refused at the commit, the upload took the 413 for a
    // failed COMMIT and kept the object, outside the family's storage limit, until files:cleanup).
    expect(storedObjects(m)).toEqual([]);

    await upload({ document_id: documentId }).expect(201);
    await upload({}).expect(201);
    expect(await counts(m)).toEqual({ kept: LIMIT, rows: LIMIT });
  });

  /**
   * A multipart upload written by hand: `before` are the fields sent before the file part, `after`
   * those sent after it, and `fileBytes` of a PDF-looking file (under UPLOAD_MAX_BYTES, 20 MiB by
   * default: only the record limit can refuse it), with its Content-Length declared.
   */
  const rawUpload = (m: Member, fileBytes: number, before: Record<string, string>, after: Record<string, string> = {}) => {
    const boundary = `----hemoday${randomUUID()}`;
    const fields = (values: Record<string, string>) =>
      Object.entries(values).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
    const prefix = `${fields(before)}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n\r\n%PDF-1.4\n`;
    const suffix = `\r\n${fields(after)}--${boundary}--\r\n`;
    return rawRequest(t, {
      method: 'POST',
      path: '/api/v1/upload',
      headers: { Authorization: `Bearer ${m.token}`, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      declaredLength: Buffer.byteLength(prefix) + fileBytes + Buffer.byteLength(suffix),
      prefix,
      chunk: Buffer.alloc(64 * 1024, 0x41),
      total: fileBytes,
      suffix,
    });
  };
  /** Nothing of the family was ever written to the storage: its folder is made by its first file. */
  const storedNothing = async (m: Member) => {
    expect(existsSync(join(uploadDir, m.familyId))).toBe(false);
    expect(await db().query('SELECT count(*)::int AS n FROM files WHERE family_id = $1', [m.familyId])).toEqual([{ n: 0 }]);
  };

  it('at the limit, an upload whose fields before the file create a document is refused before its file is stored (the phone reads the 413)', async () => {
    const m = await register(t);
    await db().query('UPDATE families SET record_count = $2 WHERE id = $1', [m.familyId, LIMIT]);
    // A phone-sized file: read to its end and dropped (as after any refusal), so the answer is read.
    const answer = await rawUpload(m, 1024 * 1024, { document_id: randomUUID(), name: 'Scan', category: 'imaging' });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body!)).toMatchObject({ details: { code: 'RECORD_QUOTA_EXCEEDED', max_records: LIMIT, stored_records: LIMIT, new_records: 1 } });
    await storedNothing(m);
    expect(await counts(m)).toEqual({ kept: LIMIT, rows: 0 });
  });

  it('at the limit, such an upload of a large file is answered after a few MiB of it at most, and the connection closed', async () => {
    const m = await register(t);
    await db().query('UPDATE families SET record_count = $2 WHERE id = $1', [m.familyId, LIMIT]);
    const answer = await rawUpload(m, 16 * 1024 * 1024, { document_id: randomUUID(), name: 'Scan', category: 'imaging' });
    // Stored before the refusal, the file would have been read whole (16 MiB).
    expect(answer.serverRead).toBeLessThan(DRAINED_MAX_BYTES);
    if (answer.status !== undefined) {
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body!)).toMatchObject({ details: { code: 'RECORD_QUOTA_EXCEEDED' } });
      expect(answer.headers!.connection).toBe('close');
    } else {
      expect(['EPIPE', 'ECONNRESET']).toContain(answer.error);
    }
    await storedNothing(m);
  });

  it('at the limit, an upload is not refused before its file when it may still update a document: a document_id after the file naming one is taken', async () => {
    const m = await register(t);
    const cursor = (await pull(t, m).expect(200)).body.timestamp as number;
    const documentId = randomUUID();
    await push(t, m, cursor, changesOf('documents', { created: [{ id: documentId, name: 'Discharge letter', category: 'discharge_summary', file_url: '' }] })).expect(200);
    await db().query('UPDATE families SET record_count = $2 WHERE id = $1', [m.familyId, LIMIT]);
    const answer = await rawUpload(m, 4096, { name: 'Discharge letter, page 2', category: 'discharge_summary' }, { document_id: documentId });
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body!).document).toMatchObject({ id: documentId, name: 'Discharge letter, page 2' });
    expect(await counts(m)).toEqual({ kept: LIMIT, rows: 1 });
  });

  it('an upload that creates a document is counted like a pushed record', async () => {
    const m = await register(t);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), Buffer.alloc(2000, 0x20)]);
    await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).field('name', 'Scan').field('category', 'other').attach('file', pdf, 'scan.pdf').expect(201);
    expect(await counts(m)).toEqual({ kept: 1, rows: 1 });
  });
});
