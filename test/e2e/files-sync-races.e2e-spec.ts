import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { FileCleanupService } from '../../src/modules/documents/file-cleanup.service.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { Device, LostResponseError, syncProblems } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';

function pdf(): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500), Buffer.from('\n%%EOF\n')]);
}

/** Where the documents paths (upload, cleanup) meet the sync paths (push, replays, revivals). */
describe('files and sync racing each other', () => {
  let t: TestApp;
  let db: DataSource;
  let cleanup: FileCleanupService;

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
    cleanup = t.app.get(FileCleanupService);
  });
  afterAll(async () => {
    await t.close();
  });
  afterAll(() => {
    expect(syncProblems()).toEqual([]);
  });

  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });

  async function upload(m: Member): Promise<{ id: string; file_url: string; mime_type: string; size_bytes: number }> {
    return (await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).attach('file', pdf(), 'scan.pdf').expect(201)).body;
  }

  /** Makes the files older than the grace period, as a day offline does. */
  const ageFiles = (ids: string[]) => db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [ids]);

  it("a push retried after its answer was lost, whose file another phone replaced and the cleanup removed, is a replay, not a 422 (the recovery would undo the other phone's scan)", async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    const id = await phoneA.create('documents', { name: 'CBC', category: 'lab_result' });
    await phoneA.sync();
    await phoneB.sync();

    // A attaches its scan; the push lands, its answer never arrives: A still holds the edit as unpushed.
    const first = await upload(owner);
    await phoneA.update('documents', id, { file_url: first.file_url, mime_type: first.mime_type, size_bytes: first.size_bytes });
    await expect(phoneA.sync({ losePushResponse: true })).rejects.toBeInstanceOf(LostResponseError);
    // B replaces the scan; A's file is no longer referenced, and a day later the cleanup removes it.
    await phoneB.sync();
    const second = await upload(member);
    await phoneB.update('documents', id, { file_url: second.file_url, mime_type: second.mime_type, size_bytes: second.size_bytes });
    await phoneB.sync();
    await ageFiles([first.id, second.id]);
    const report = await cleanup.run({ dryRun: false, familyIds: [owner.familyId] });
    expect(report.files.map((f) => f.id)).toEqual([first.id]);

    // A comes back: its sync repeats the edit already applied. Not written (a replay), so the file it
    // names does not matter; before, it was a 422 on every sync, whose recovery (upload again, or
    // file_url null) overwrote B's scan.
    await phoneA.sync();
    await phoneA.sync();
    expect(await phoneA.find('documents', id)).toMatchObject({ file_url: second.file_url });
    const [row] = await db.query('SELECT file_url FROM documents WHERE id = $1', [id]);
    expect(row.file_url).toBe(second.file_url);
  });
});
