import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCleanupService, MAX_GRACE_HOURS, MAX_RETENTION_DAYS } from '../../src/modules/documents/file-cleanup.service.js';
import { FILE_STORAGE, type FileStorage } from '../../src/modules/documents/storage/file-storage.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { useTestApp } from '../setup/test-app.js';
import { register, type Member } from '../sync-client/family.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Sets a file's modification time `hours` back. */
function age(path: string, hours: number): void {
  const then = new Date(Date.now() - hours * HOUR);
  utimesSync(path, then, then);
}

function pdf(): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500), Buffer.from('\n%%EOF\n')]);
}

function documentRecord(fileUrl: string | null, overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    name: 'Ferritin',
    category: 'lab_result',
    file_url: fileUrl,
    mime_type: 'application/pdf',
    size_bytes: 509,
    notes: null,
    created_at: Date.now(),
    updated_at: Date.now(),
    ...overrides,
  };
}

describe('files: sync validation of documents.file_url and cleanup', () => {
  const uploadDir = mkdtempSync(join(tmpdir(), 'hemoday-cleanup-e2e-'));
  const t = useTestApp({ UPLOAD_DIR: uploadDir });
  let cleanup: FileCleanupService;

  beforeAll(() => {
    cleanup = t.app.get(FileCleanupService);
  });
  afterAll(() => rmSync(uploadDir, { recursive: true, force: true }));

  async function upload(m: Member, fields: Record<string, string> = {}): Promise<{ id: string; file_url: string; document?: { id: string } }> {
    const req = t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`);
    for (const [k, v] of Object.entries(fields)) req.field(k, v);
    return (await req.attach('file', pdf(), 'scan.pdf').expect(201)).body;
  }

  /** A first push (last_pulled_at=0) that creates `created` documents. */
  const pushDocuments = (m: Member, created: Array<Record<string, unknown>>) => push(t, m, 0, changesOf('documents', { created }));

  describe('sync push', () => {
    it("accepts a document pointing at the family's own file", async () => {
      const m = await register(t);
      const file = await upload(m);
      const doc = documentRecord(file.file_url);
      await pushDocuments(m, [doc]).expect(200);
      const [row] = await t.db.query('SELECT file_url FROM documents WHERE id = $1', [doc.id]);
      expect(row.file_url).toBe(file.file_url);
    });

    it("rejects a document pointing at another family's file, a missing file, a foreign URL or another spelling of its own file; nothing applied", async () => {
      const a = await register(t);
      const b = await register(t);
      const theirs = await upload(a);
      const own = await upload(b);
      // Other spellings of the family's own file too: the URL is compared as the server writes it.
      const spellings = [
        `/api/v1/files/${own.id.toUpperCase()}`,
        own.file_url.toUpperCase(),
        `${own.file_url}/`,
        `${own.file_url}?download=1`,
        own.file_url.replace('-', '%2D'),
        ` ${own.file_url}`,
        `https://api.example.com${own.file_url}`,
        `//api.example.com${own.file_url}`,
        own.file_url.replace('/files/', '/files//'),
      ];
      for (const url of [theirs.file_url, `/api/v1/files/${randomUUID()}`, 'https://example.com/x.pdf', `/api/v1/files/${own.id}/../x`, ...spellings]) {
        const fine = documentRecord(own.file_url);
        const bad = documentRecord(url);
        const res = await pushDocuments(b, [fine, bad]);
        expect({ url, status: res.status }).toEqual({ url, status: 422 });
        // The sync 422 shape: the first offending record named by table, id and field; all of them in errors.
        expect(res.body.details).toEqual({
          code: 'VALIDATION_FAILED',
          table: 'documents',
          id: bad.id,
          field: 'file_url',
          errors: [{ table: 'documents', id: bad.id, field: 'file_url', message: expect.any(String) }],
        });
        expect(await t.db.query('SELECT id FROM documents WHERE id = ANY($1::uuid[])', [[fine.id, bad.id]])).toEqual([]);
      }
    });

    it('names every document pointing at a missing file, with the recovery in the message', async () => {
      const m = await register(t);
      const gone = `/api/v1/files/${randomUUID()}`;
      const docs = [documentRecord(gone), documentRecord(gone), documentRecord(`/api/v1/files/${randomUUID()}`)];
      const res = await pushDocuments(m, docs).expect(422);
      expect(res.body.details.id).toBe(docs[0].id);
      expect(res.body.details.errors.map((e: { id: string }) => e.id).sort()).toEqual(docs.map((d) => d.id).sort());
      expect(res.body.message).toMatch(/upload the file again, or push the document with file_url null/);
    });

    it('accepts documents without a file (null or empty file_url)', async () => {
      const m = await register(t);
      await pushDocuments(m, [documentRecord(null), documentRecord('')]).expect(200);
    });
  });

  describe('FileCleanupService', () => {
    it('removes only unreferenced files past the grace period and files of documents deleted past retention', async () => {
      const m = await register(t);
      const other = await register(t);
      const unreferencedOld = await upload(m);
      const unreferencedNew = await upload(m);
      const live = await upload(m, { name: 'live', category: 'other' });
      const deletedLongAgo = await upload(m, { name: 'gone', category: 'other' });
      const deletedRecently = await upload(m, { name: 'recent', category: 'other' });
      const otherFamilyOld = await upload(other);

      const old = [unreferencedOld, live, deletedLongAgo, deletedRecently, otherFamilyOld].map((f) => f.id);
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [old]);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [deletedLongAgo.document!.id, Date.now() - 31 * DAY]);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [deletedRecently.document!.id, Date.now() - 1 * DAY]);

      const onDisk = (f: { id: string }, familyId = m.familyId) => existsSync(join(uploadDir, familyId, f.id));
      const rows = async () =>
        (await t.db.query('SELECT id FROM files WHERE family_id = $1', [m.familyId])).map((r: { id: string }) => r.id).sort();
      const expected = [
        { id: unreferencedOld.id, reason: 'unreferenced' },
        { id: deletedLongAgo.id, reason: 'document_deleted' },
      ].sort((x, y) => x.id.localeCompare(y.id));

      const dry = await cleanup.run({ dryRun: true, familyIds: [m.familyId] });
      expect(dry).toMatchObject({ dry_run: true, grace_hours: 24, retention_days: 30, unreferenced: 1, document_deleted: 1, failures: [] });
      expect(dry.files.map(({ id, reason }) => ({ id, reason })).sort((x, y) => x.id.localeCompare(y.id))).toEqual(expected);
      expect(dry.bytes).toBe(dry.files.reduce((n, f) => n + f.size_bytes, 0));
      expect((await rows()).length).toBe(5);
      expect(onDisk(unreferencedOld) && onDisk(deletedLongAgo)).toBe(true);

      const real = await cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      expect(real).toMatchObject({ dry_run: false, unreferenced: 1, document_deleted: 1, failures: [] });
      expect(real.files.map(({ id, reason }) => ({ id, reason })).sort((x, y) => x.id.localeCompare(y.id))).toEqual(expected);
      expect(await rows()).toEqual([unreferencedNew.id, live.id, deletedRecently.id].sort());
      expect(onDisk(unreferencedOld)).toBe(false);
      expect(onDisk(deletedLongAgo)).toBe(false);
      for (const kept of [unreferencedNew, live, deletedRecently]) {
        expect(onDisk(kept)).toBe(true);
        await t.http().get(kept.file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
      }
      await t.http().get(unreferencedOld.file_url).set('Authorization', `Bearer ${m.token}`).expect(404);
      // Outside the families asked for, nothing is touched.
      expect(onDisk(otherFamilyOld, other.familyId)).toBe(true);

      // A second run has nothing left to do.
      expect((await cleanup.run({ dryRun: false, familyIds: [m.familyId] })).files).toEqual([]);
    });

    it('a file whose object is not in the store is reported apart, in the dry run too, and its bytes are not counted as freed', async () => {
      // What a cleanup job without the uploads volume sees (an empty UPLOAD_DIR): it said it had freed the
      // bytes of files it never found, and its dry run showed nothing wrong (found by review).
      const m = await register(t);
      const [present, gone] = [await upload(m), await upload(m)];
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [[present.id, gone.id]]);
      rmSync(join(uploadDir, m.familyId, gone.id));
      const [{ size_bytes: presentBytes }] = await t.db.query('SELECT size_bytes::int FROM files WHERE id = $1', [present.id]);
      const ids = (files: Array<{ id: string }>) => files.map((f) => f.id).sort();

      const dry = await cleanup.run({ dryRun: true, familyIds: [m.familyId] });
      expect(dry).toMatchObject({ store: `UPLOAD_DIR ${uploadDir}`, unreferenced: 2, bytes: presentBytes, failures: [] });
      expect(ids(dry.files)).toEqual(ids([present, gone]));
      expect(ids(dry.missing)).toEqual([gone.id]);

      const real = await cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      expect(real).toMatchObject({ unreferenced: 2, bytes: presentBytes, failures: [] });
      expect(ids(real.missing)).toEqual([gone.id]);
      // The rows go all the same (an object is deleted only after its row, so none can be waiting for it).
      expect(await t.db.query('SELECT id FROM files WHERE family_id = $1', [m.familyId])).toEqual([]);
      expect(existsSync(join(uploadDir, m.familyId, present.id))).toBe(false);
      expect((await cleanup.run({ dryRun: true, familyIds: [m.familyId] })).missing).toEqual([]);
    });

    it('never removes a file a live document points at, even with grace 0 and retention 0', async () => {
      const m = await register(t);
      const file = await upload(m, { name: 'live', category: 'other' });
      // A second document pointing at the same file, deleted long ago: one live reference is enough.
      const gone = documentRecord(file.file_url);
      await pushDocuments(m, [gone]).expect(200);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [gone.id, Date.now() - 400 * DAY]);
      await t.db.query(`UPDATE files SET created_at = now() - interval '400 days' WHERE id = $1`, [file.id]);
      const report = await cleanup.run({ dryRun: false, familyIds: [m.familyId], graceHours: 0, retentionDays: 0 });
      expect(report.files).toEqual([]);
      await t.http().get(file.file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
    });

    it('keeps a file while any document that pointed at it was deleted within the retention period, however long ago another one was', async () => {
      const m = await register(t);
      const file = await upload(m, { name: 'first', category: 'other' });
      // A second document pointing at the same scan (a copy made on a phone), deleted only yesterday:
      // the retention counts from the last deletion, so a revival of it still finds its file.
      const copy = documentRecord(file.file_url);
      await pushDocuments(m, [copy]).expect(200);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [file.document!.id, Date.now() - 31 * DAY]);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [copy.id, Date.now() - 1 * DAY]);
      await t.db.query(`UPDATE files SET created_at = now() - interval '40 days' WHERE id = $1`, [file.id]);
      expect((await cleanup.run({ dryRun: false, familyIds: [m.familyId] })).files).toEqual([]);
      await t.http().get(file.file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
      // Once the last deletion is past the retention period too, the file goes.
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [copy.id, Date.now() - 31 * DAY]);
      const report = await cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      expect(report.files.map(({ id, reason }) => ({ id, reason }))).toEqual([{ id: file.id, reason: 'document_deleted' }]);
    });

    it('deletes the stored objects only after the row deletion has committed', async () => {
      const m = await register(t);
      const file = await upload(m);
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = $1`, [file.id]);
      const storage = t.app.get<FileStorage>(FILE_STORAGE);
      const original = storage.delete;
      const seen: Array<{ key: string; rowVisible: boolean }> = [];
      storage.delete = async function (this: FileStorage, key: string) {
        // Another connection: sees the row until the cleanup's transaction commits.
        const rows = await t.db.query('SELECT 1 FROM files WHERE storage_key = $1', [key]);
        seen.push({ key, rowVisible: rows.length > 0 });
        return original.call(this, key);
      };
      try {
        await cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      } finally {
        storage.delete = original;
      }
      expect(seen).toEqual([{ key: `${m.familyId}/${file.id}`, rowVisible: false }]);
      expect(existsSync(join(uploadDir, m.familyId, file.id))).toBe(false);
    });

    it('reports an object it could not delete after the commit once, and sweeps it later as an orphan', async () => {
      const m = await register(t);
      const file = await upload(m);
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = $1`, [file.id]);
      // Stored three days ago too: old enough for this run's own orphan sweep, which must leave it to
      // the next run, not try it again (a second failure for one object, or the object reported both
      // as a failure and as a swept orphan; found by review).
      const threeDaysAgo = new Date(Date.now() - 3 * 24 * HOUR);
      utimesSync(join(uploadDir, m.familyId, file.id), threeDaysAgo, threeDaysAgo);
      const storage = t.app.get<FileStorage>(FILE_STORAGE);
      const original = storage.delete;
      storage.delete = async () => {
        throw new Error('storage unavailable');
      };
      let report;
      try {
        report = await cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      } finally {
        storage.delete = original;
      }
      const key = `${m.familyId}/${file.id}`;
      expect(report.files.map((f) => f.id)).toEqual([file.id]);
      expect(report.failures).toEqual([{ family_id: m.familyId, key, message: 'storage unavailable' }]);
      expect(report.orphans).toEqual([]);
      expect(await t.db.query('SELECT id FROM files WHERE id = $1', [file.id])).toEqual([]);
      expect(existsSync(join(uploadDir, key))).toBe(true);
      // Two hours on, the object without a row is old enough for the orphan sweep.
      const later = await cleanup.run({ dryRun: false, familyIds: [m.familyId], graceHours: 0, nowMs: Date.now() + 2 * HOUR });
      expect(later.orphans.map((o) => o.key)).toEqual([key]);
      expect(later.failures).toEqual([]);
      expect(existsSync(join(uploadDir, key))).toBe(false);
    });

    it('sweeps stored objects that have no row (and temporary files) past the grace period, at least 1 h; dry run only reports', async () => {
      const m = await register(t);
      const withRow = await upload(m, { name: 'kept', category: 'other' });
      const dir = join(uploadDir, m.familyId);
      // Not the server's: `notes.txt` (not even a key segment) and `scan-backup` (a segment, but no UUID) stay, however old.
      const name = { old: randomUUID(), part: `.${randomUUID()}.part`, twoHours: randomUUID(), recent: randomUUID(), foreign: 'notes.txt', plain: 'scan-backup' };
      writeFileSync(join(dir, name.old), randomBytes(123));
      writeFileSync(join(dir, name.part), randomBytes(45));
      writeFileSync(join(dir, name.twoHours), randomBytes(7));
      writeFileSync(join(dir, name.recent), randomBytes(9));
      writeFileSync(join(dir, name.foreign), 'not made by the server');
      writeFileSync(join(dir, name.plain), 'not made by the server either');
      for (const n of [withRow.id, name.old, name.part, name.foreign, name.plain]) age(join(dir, n), 30);
      age(join(dir, name.twoHours), 2);
      age(join(dir, name.recent), 0.5);
      const orphans = (r: { orphans: Array<{ key: string; kind: string; size_bytes: number }> }) =>
        r.orphans.map(({ key, kind, size_bytes }) => ({ key, kind, size_bytes })).sort((a, b) => a.key.localeCompare(b.key));
      const expected = (...entries: Array<[string, string, number]>) =>
        entries.map(([n, kind, size_bytes]) => ({ key: `${m.familyId}/${n}`, kind, size_bytes })).sort((a, b) => a.key.localeCompare(b.key));

      // Default grace (24 h): only the 30-hour-old leftovers.
      const dry = await cleanup.run({ dryRun: true, familyIds: [m.familyId] });
      expect(orphans(dry)).toEqual(expected([name.old, 'object', 123], [name.part, 'temporary', 45]));
      expect(dry.orphan_bytes).toBe(168);
      expect(dry.files).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual([withRow.id, ...Object.values(name)].sort());

      // Grace 0: also the two-hour-old object, but not the one written 30 minutes ago (the 1 h floor).
      const real = await cleanup.run({ dryRun: false, familyIds: [m.familyId], graceHours: 0 });
      expect(orphans(real)).toEqual(expected([name.old, 'object', 123], [name.part, 'temporary', 45], [name.twoHours, 'object', 7]));
      expect(readdirSync(dir).sort()).toEqual([withRow.id, name.recent, name.foreign, name.plain].sort());
      await t.http().get(withRow.file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
    });

    it('sweeps the folder of a family that no longer exists (its rows went with it)', async () => {
      const goneFamily = randomUUID();
      const key = `${goneFamily}/${randomUUID()}`;
      mkdirSync(join(uploadDir, goneFamily));
      writeFileSync(join(uploadDir, key), randomBytes(10));
      age(join(uploadDir, key), 48);
      const report = await cleanup.run({ dryRun: false, familyIds: [goneFamily] });
      expect(report.orphans.map((o) => o.key)).toEqual([key]);
      expect(existsSync(join(uploadDir, key))).toBe(false);
    });

    it('a deleted document written again without file_url keeps its stored one only while that file exists', async () => {
      const m = await register(t);
      const kept = await upload(m, { name: 'kept', category: 'other' });
      const cleaned = await upload(m, { name: 'cleaned', category: 'other' });
      const docs = [kept.document!.id, cleaned.document!.id];
      const cursor = (await pull(t, m, null).expect(200)).body.timestamp;
      const deleted = (await push(t, m, cursor, changesOf('documents', { deleted: docs })).expect(200)).body.timestamp;
      // The retention of `cleaned` has passed and the cleanup removed its file; `kept` is within it.
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [cleaned.document!.id, Date.now() - 31 * DAY]);
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [[kept.id, cleaned.id]]);
      expect((await cleanup.run({ dryRun: false, familyIds: [m.familyId] })).files.map((f) => f.id)).toEqual([cleaned.id]);

      // A push without the column keeps the stored value (an older client): for a revived document,
      // that value names a file like a pushed one does, and must name one that still exists.
      const revive = (id: string, extra: Record<string, unknown> = {}) =>
        push(t, m, deleted, changesOf('documents', { updated: [{ id, name: 'back', category: 'other', created_at: 1, updated_at: 2, ...extra }] }));
      const refused = await revive(cleaned.document!.id).expect(422);
      expect(refused.body.details).toMatchObject({ table: 'documents', id: cleaned.document!.id, field: 'file_url' });
      expect(await t.db.query('SELECT deleted_at IS NOT NULL AS deleted FROM documents WHERE id = $1', [cleaned.document!.id])).toEqual([{ deleted: true }]);
      await revive(cleaned.document!.id, { file_url: null }).expect(200);

      const version = (await pull(t, m, null).expect(200)).body.timestamp;
      await push(t, m, version, changesOf('documents', { updated: [{ id: kept.document!.id, name: 'back', category: 'other', created_at: 1, updated_at: 2 }] })).expect(200);
      expect(await t.db.query('SELECT file_url, deleted_at FROM documents WHERE id = $1', [kept.document!.id])).toEqual([{ file_url: kept.file_url, deleted_at: null }]);

      // A document that never had a file (file_url empty) names none: written again without the column, it comes back as it was.
      const plain = { id: randomUUID(), name: 'no scan', category: 'other', file_url: '', created_at: 1, updated_at: 1 };
      await push(t, m, (await pull(t, m, null).expect(200)).body.timestamp, changesOf('documents', { created: [plain] })).expect(200);
      await push(t, m, (await pull(t, m, null).expect(200)).body.timestamp, changesOf('documents', { deleted: [plain.id] })).expect(200);
      const { file_url: _none, ...withoutColumn } = plain;
      await push(t, m, (await pull(t, m, null).expect(200)).body.timestamp, changesOf('documents', { updated: [{ ...withoutColumn, name: 'back' }] })).expect(200);
      expect(await t.db.query('SELECT file_url, deleted_at FROM documents WHERE id = $1', [plain.id])).toEqual([{ file_url: '', deleted_at: null }]);
    });

    // "More than" the periods, to the millisecond: a file uploaded exactly FILE_CLEANUP_GRACE_HOURS ago, or whose
    // document was deleted exactly DOCUMENT_RETENTION_DAYS ago, is still kept; a millisecond later it goes.
    it('keeps a file up to the end of the grace period and of the retention, and removes it just past them', async () => {
      const m = await register(t);
      const unreferenced = await upload(m);
      const deleted = await upload(m, { name: 'gone', category: 'other' });
      const uploadedAt = Date.now() - 10 * DAY;
      const deletedAt = Date.now() - 5 * DAY;
      await t.db.query('UPDATE files SET created_at = $2 WHERE id = ANY($1::uuid[])', [[unreferenced.id, deleted.id], new Date(uploadedAt)]);
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [deleted.document!.id, deletedAt]);
      const eligible = async (nowMs: number, graceHours: number, retentionDays: number) =>
        (await cleanup.run({ dryRun: true, familyIds: [m.familyId], nowMs, graceHours, retentionDays })).files.map((f) => f.id);

      expect(await eligible(uploadedAt + 24 * HOUR, 24, 30)).toEqual([]);
      expect(await eligible(uploadedAt + 24 * HOUR + 1, 24, 30)).toEqual([unreferenced.id]);
      expect(await eligible(deletedAt + 2 * DAY, 1, 2)).toEqual([unreferenced.id]);
      expect((await eligible(deletedAt + 2 * DAY + 1, 1, 2)).sort()).toEqual([unreferenced.id, deleted.id].sort());
    });

    it('refuses a grace period or retention out of bounds', async () => {
      await expect(cleanup.run({ dryRun: true, familyIds: [randomUUID()], graceHours: 10_000_000 })).rejects.toThrow(/grace hours must be/);
      await expect(cleanup.run({ dryRun: true, familyIds: [randomUUID()], retentionDays: -1 })).rejects.toThrow(/retention days must be/);
      // The bounds themselves are periods like any other (the CLI and the environment take them).
      await expect(cleanup.run({ dryRun: true, familyIds: [randomUUID()], graceHours: MAX_GRACE_HOURS, retentionDays: MAX_RETENTION_DAYS })).resolves.toMatchObject({
        grace_hours: MAX_GRACE_HOURS,
        retention_days: MAX_RETENTION_DAYS,
      });
    });

    it('honours custom grace and retention periods', async () => {
      const m = await register(t);
      const file = await upload(m, { name: 'x', category: 'other' });
      await t.db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [file.document!.id, Date.now() - 2 * DAY]);
      await t.db.query(`UPDATE files SET created_at = now() - interval '3 hours' WHERE id = $1`, [file.id]);
      expect((await cleanup.run({ dryRun: true, familyIds: [m.familyId] })).files).toEqual([]);
      const report = await cleanup.run({ dryRun: true, familyIds: [m.familyId], graceHours: 1, retentionDays: 1 });
      expect(report.files.map((f) => f.id)).toEqual([file.id]);
    });
  });
});
