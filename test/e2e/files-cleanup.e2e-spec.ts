import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { FileCleanupService } from '../../src/modules/documents/file-cleanup.service.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

interface Member {
  token: string;
  familyId: string;
}

const TABLES = ['families', 'transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'];
const DAY = 86_400_000;

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

function changesWithDocuments(created: unknown[]) {
  const changes = Object.fromEntries(TABLES.map((t) => [t, { created: [] as unknown[], updated: [], deleted: [] }]));
  changes.documents.created = created;
  return changes;
}

describe('files: sync validation of documents.file_url and cleanup', () => {
  let t: TestApp;
  let db: DataSource;
  let cleanup: FileCleanupService;
  const uploadDir = mkdtempSync(join(tmpdir(), 'hemoday-cleanup-e2e-'));

  beforeAll(async () => {
    t = await createTestApp({ UPLOAD_DIR: uploadDir });
    db = t.app.get(DataSource);
    cleanup = t.app.get(FileCleanupService);
  });
  afterAll(async () => {
    await t.close();
    rmSync(uploadDir, { recursive: true, force: true });
  });

  async function register(): Promise<Member> {
    const res = await t
      .http()
      .post('/api/v1/auth/register')
      .send({ email: `cleanup-${randomUUID()}@example.test`, password: 'correct horse battery' })
      .expect(201);
    return { token: res.body.access_token, familyId: res.body.user.family_id };
  }

  async function upload(m: Member, fields: Record<string, string> = {}): Promise<{ id: string; file_url: string; document?: { id: string } }> {
    const req = t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`);
    for (const [k, v] of Object.entries(fields)) req.field(k, v);
    return (await req.attach('file', pdf(), 'scan.pdf').expect(201)).body;
  }

  const push = (m: Member, created: unknown[]) =>
    t.http().post('/api/v1/sync?last_pulled_at=0').set('Authorization', `Bearer ${m.token}`).send({ changes: changesWithDocuments(created) });

  describe('sync push', () => {
    it("accepts a document pointing at the family's own file", async () => {
      const m = await register();
      const file = await upload(m);
      const doc = documentRecord(file.file_url);
      await push(m, [doc]).expect(200);
      const [row] = await db.query('SELECT file_url FROM documents WHERE id = $1', [doc.id]);
      expect(row.file_url).toBe(file.file_url);
    });

    it("rejects a document pointing at another family's file, a missing file or a foreign URL; nothing applied", async () => {
      const a = await register();
      const b = await register();
      const theirs = await upload(a);
      const own = await upload(b);
      for (const url of [theirs.file_url, `/api/v1/files/${randomUUID()}`, 'https://example.com/x.pdf', `/api/v1/files/${own.id}/../x`]) {
        const fine = documentRecord(own.file_url);
        const bad = documentRecord(url);
        const res = await push(b, [fine, bad]);
        expect({ url, status: res.status }).toEqual({ url, status: 422 });
        // The sync 422 shape: the first offending record named by table, id and field; all of them in errors.
        expect(res.body.details).toEqual({
          code: 'VALIDATION_FAILED',
          table: 'documents',
          id: bad.id,
          field: 'file_url',
          errors: [{ table: 'documents', id: bad.id, field: 'file_url', message: expect.any(String) }],
        });
        expect(await db.query('SELECT id FROM documents WHERE id = ANY($1::uuid[])', [[fine.id, bad.id]])).toEqual([]);
      }
    });

    it('names every document pointing at a missing file, with the recovery in the message', async () => {
      const m = await register();
      const gone = `/api/v1/files/${randomUUID()}`;
      const docs = [documentRecord(gone), documentRecord(gone), documentRecord(`/api/v1/files/${randomUUID()}`)];
      const res = await push(m, docs).expect(422);
      expect(res.body.details.id).toBe(docs[0].id);
      expect(res.body.details.errors.map((e: { id: string }) => e.id).sort()).toEqual(docs.map((d) => d.id).sort());
      expect(res.body.message).toMatch(/upload the file again, or push the document with file_url null/);
    });

    it('accepts documents without a file (null or empty file_url)', async () => {
      const m = await register();
      await push(m, [documentRecord(null), documentRecord('')]).expect(200);
    });
  });

  describe('FileCleanupService', () => {
    it('removes only unreferenced files past the grace period and files of documents deleted past retention', async () => {
      const m = await register();
      const other = await register();
      const unreferencedOld = await upload(m);
      const unreferencedNew = await upload(m);
      const live = await upload(m, { name: 'live', category: 'other' });
      const deletedLongAgo = await upload(m, { name: 'gone', category: 'other' });
      const deletedRecently = await upload(m, { name: 'recent', category: 'other' });
      const otherFamilyOld = await upload(other);

      const old = [unreferencedOld, live, deletedLongAgo, deletedRecently, otherFamilyOld].map((f) => f.id);
      await db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [old]);
      await db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [deletedLongAgo.document!.id, Date.now() - 31 * DAY]);
      await db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [deletedRecently.document!.id, Date.now() - 1 * DAY]);

      const onDisk = (f: { id: string }, familyId = m.familyId) => existsSync(join(uploadDir, familyId, f.id));
      const rows = async () =>
        (await db.query('SELECT id FROM files WHERE family_id = $1', [m.familyId])).map((r: { id: string }) => r.id).sort();
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

    it('honours custom grace and retention periods', async () => {
      const m = await register();
      const file = await upload(m, { name: 'x', category: 'other' });
      await db.query('UPDATE documents SET deleted_at = $2 WHERE id = $1', [file.document!.id, Date.now() - 2 * DAY]);
      await db.query(`UPDATE files SET created_at = now() - interval '3 hours' WHERE id = $1`, [file.id]);
      expect((await cleanup.run({ dryRun: true, familyIds: [m.familyId] })).files).toEqual([]);
      const report = await cleanup.run({ dryRun: true, familyIds: [m.familyId], graceHours: 1, retentionDays: 1 });
      expect(report.files.map((f) => f.id)).toEqual([file.id]);
    });
  });
});
