import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigType } from '@nestjs/config';
import { DataSource } from 'typeorm';
import { uploadConfig } from '../../src/config/configuration.js';
import { useTestApp } from '../setup/test-app.js';
import { changesOf, emptyChanges, pull, push, recordCounts } from '../factories/sync.factory.js';
import { register, type Member } from '../sync-client/family.js';

const LIMIT = 10;

/**
 * SYNC_FAMILY_MAX_RECORDS: a family's rows in the synced data tables, tombstones included, are
 * limited, against one account (or a stolen token) filling the database every family shares.
 */
describe('sync: a family\'s record limit (SYNC_FAMILY_MAX_RECORDS)', () => {
  const t = useTestApp({ SYNC_FAMILY_MAX_RECORDS: String(LIMIT) });
  const db = () => t.app.get(DataSource);
  const transfusion = (overrides: Record<string, unknown> = {}) => ({ id: randomUUID(), date: 1_764_000_000_000, volume_ml: 250, ...overrides });
  const reminder = () => ({ id: randomUUID(), title: 'Next transfusion', remind_at: 1_764_000_000_000, frequency: 'once', is_completed: false });

  /** The family's record_count, and what its rows really are. */
  const counts = (m: Member) => recordCounts(db(), m.familyId);
  /** The objects stored in the family's folder of the local storage. */
  const storedObjects = (m: Member) => {
    const folder = join(t.app.get<ConfigType<typeof uploadConfig>>(uploadConfig.KEY).dir, m.familyId);
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

  it('an upload that creates a document is counted like a pushed record', async () => {
    const m = await register(t);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), Buffer.alloc(2000, 0x20)]);
    await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).field('name', 'Scan').field('category', 'other').attach('file', pdf, 'scan.pdf').expect(201);
    expect(await counts(m)).toEqual({ kept: 1, rows: 1 });
  });
});
