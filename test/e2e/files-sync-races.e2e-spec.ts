import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { FileCleanupService } from '../../src/modules/documents/file-cleanup.service.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { useTestApp } from '../setup/test-app.js';
import { clientLog, Device, LostResponseError, SyncHttpError, syncProblems } from '../sync-client/device.js';
import { registerFamily, type Member } from '../sync-client/family.js';
import { until } from '../setup/wait.js';

function pdf(): Buffer {
  return Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500), Buffer.from('\n%%EOF\n')]);
}

/** Where the documents paths (upload, cleanup) meet the sync paths (push, replays), forced deterministically. */
describe('files and sync racing each other', () => {
  const t = useTestApp();
  let cleanup: FileCleanupService;

  beforeAll(() => {
    cleanup = t.app.get(FileCleanupService);
  });
  afterAll(() => {
    expect(syncProblems()).toEqual([]);
  });

  const device = (m: Member) => new Device({ baseUrl: t.baseUrl, token: m.token, familyId: m.familyId });

  async function upload(m: Member): Promise<{ id: string; file_url: string; mime_type: string; size_bytes: number }> {
    return (await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).attach('file', pdf(), 'scan.pdf').expect(201)).body;
  }

  /** Makes the files older than the grace period, as a day offline does. */
  const ageFiles = (ids: string[]) => t.db.query(`UPDATE files SET created_at = now() - interval '3 days' WHERE id = ANY($1::uuid[])`, [ids]);
  const documentPointingAt = (fileUrl: string) => ({ id: randomUUID(), name: 'CBC', category: 'lab_result', file_url: fileUrl, created_at: 1, updated_at: 1 });

  /** Every live document of the family points at a file that still has its row and its bytes. */
  async function everyLiveDocumentHasItsFile(m: Member): Promise<void> {
    const docs: Array<{ file_url: string }> = await t.db.query(
      `SELECT file_url FROM documents WHERE family_id = $1 AND deleted_at IS NULL AND coalesce(file_url, '') <> ''`,
      [m.familyId],
    );
    for (const { file_url } of docs) await t.http().get(file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
  }

  it('a document made on a phone offline gets its scan by the offline-first flow while another phone edits its notes and the cleanup runs: both phones end with the scan and the notes, the file stays', async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    await phoneB.sync();
    // Offline: A files a new document; it reaches B with A's next sync, the scan comes later.
    const id = await phoneA.create('documents', { name: 'Discharge', category: 'discharge_summary', notes: 'typed offline' });
    await phoneA.sync();
    await phoneB.sync();
    // A uploads the scan and points the record at it; B edits the notes and pushes first.
    const file = await upload(owner);
    await phoneA.update('documents', id, { file_url: file.file_url, mime_type: file.mime_type, size_bytes: file.size_bytes });
    await phoneB.update('documents', id, { notes: 'edited on B' });
    await phoneB.sync();
    // The cleanup runs before A pushes (the file is unreferenced, but within the grace period) and
    // again once A's push (409, pull, push) landed and the file is old: it keeps the file both times.
    await cleanup.run({ dryRun: false, familyIds: [owner.familyId] });
    await phoneA.syncUntilClean();
    await ageFiles([file.id]);
    expect((await cleanup.run({ dryRun: false, familyIds: [owner.familyId] })).files).toEqual([]);
    await phoneB.sync();
    await phoneA.sync();
    expect(await phoneA.snapshot()).toEqual(await phoneB.snapshot());
    expect(await phoneB.find('documents', id)).toMatchObject({ file_url: file.file_url, notes: 'edited on B', name: 'Discharge' });
    await everyLiveDocumentHasItsFile(owner);
  });

  it('a document made on a phone and not yet pushed, then given its scan by the one-call upload under its id: the pull sends it as created, WatermelonDB logs "already exists locally" and keeps the server\'s fields (README: such a document takes the offline-first flow)', async () => {
    const [owner] = await registerFamily(t);
    const phone = device(owner);
    await phone.sync();
    const id = await phone.create('documents', { name: 'CBC', category: 'lab_result', notes: 'typed offline' });
    const logged = clientLog.length;
    const uploaded = await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${owner.token}`).field('document_id', id).field('name', 'CBC').field('category', 'lab_result').attach('file', pdf(), 'cbc.pdf').expect(201);
    // Not a 409 and a second round, as the README said: the pull comes first and overwrites the record.
    await phone.sync();
    const problems = clientLog.splice(logged);
    expect(problems).toEqual([expect.stringContaining(`[Sync] Server wants client to create record documents#${id}, but it already exists locally`)]);
    expect(await phone.find('documents', id)).toMatchObject({ file_url: uploaded.body.document.file_url, notes: null });
    const [row] = await t.db.query('SELECT notes FROM documents WHERE id = $1', [id]);
    expect(row.notes).toBeNull();
  });

  it('the cleanup decides under the family lock: a push that points a document at a file after the cleanup listed it keeps the file', async () => {
    const [m] = await registerFamily(t);
    const file = await upload(m);
    await ageFiles([file.id]);
    // Hold the cleanup between its listing (the file is unreferenced) and its family transaction.
    const transaction = t.db.transaction.bind(t.db);
    let reached!: () => void;
    let release!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    t.db.transaction = (async (...args: Parameters<typeof transaction>) => {
      t.db.transaction = transaction;
      reached();
      await gate;
      return (transaction as (...a: unknown[]) => Promise<unknown>)(...args);
    }) as typeof t.db.transaction;
    try {
      const cleaning = cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      await atGate;
      const doc = documentPointingAt(file.file_url);
      await push(t, m, 0, changesOf('documents', { created: [doc] })).expect(200);
      release();
      expect((await cleaning).files).toEqual([]);
      await t.http().get(file.file_url).set('Authorization', `Bearer ${m.token}`).expect(200);
    } finally {
      t.db.transaction = transaction;
    }
  });

  it('a push queued behind the cleanup that removes its file is refused (422), never a document pointing at nothing', async () => {
    const [m] = await registerFamily(t);
    const file = await upload(m);
    await ageFiles([file.id]);
    // A session holding the file row: the cleanup takes the family lock, then its DELETE waits here.
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await holder.connect();
    try {
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const waiting = async (n: number) =>
        (
          await t.db.query(
            `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))
             SELECT count(*)::int AS n FROM pg_stat_activity a
              WHERE $1 = ANY(pg_blocking_pids(a.pid)) OR EXISTS (SELECT 1 FROM direct d WHERE d.pid = ANY(pg_blocking_pids(a.pid)))`,
            [pid],
          )
        )[0].n >= n;
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM files WHERE id = $1 FOR KEY SHARE', [file.id]);
      const cleaning = cleanup.run({ dryRun: false, familyIds: [m.familyId] });
      await until(() => waiting(1), 'the cleanup to wait for the file row');
      const doc = documentPointingAt(file.file_url);
      const pushing = push(t, m, 0, changesOf('documents', { created: [doc] })).then((res) => res);
      await until(() => waiting(2), 'the push to queue behind the cleanup');
      await holder.query('COMMIT');
      expect((await cleaning).files.map((f) => f.id)).toEqual([file.id]);
      const res = await pushing;
      expect(res.status).toBe(422);
      expect(res.body.details).toMatchObject({ table: 'documents', id: doc.id, field: 'file_url' });
      expect(await t.db.query('SELECT id FROM documents WHERE id = $1', [doc.id])).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('an upload and a push on the same document take turns under the family lock: neither is lost unseen, no document points at a missing file', async () => {
    const [m] = await registerFamily(t);
    const uploadTo = (documentId: string) =>
      t.http().post('/api/v1/upload').set('Authorization', `Bearer ${m.token}`).field('document_id', documentId).field('notes', 'rescanned').attach('file', pdf(), 'scan.pdf');
    const familyFiles = async () => (await t.db.query('SELECT id FROM files WHERE family_id = $1 ORDER BY id', [m.familyId])).map((r: { id: string }) => r.id);
    const version = async () => Number((await t.db.query('SELECT sync_version FROM families WHERE id = $1', [m.familyId]))[0].sync_version);

    // The push first: the upload finds the document deleted, answers 404, and keeps nothing.
    const first = await upload(m);
    const doc = documentPointingAt(first.file_url);
    const created = (await push(t, m, 0, changesOf('documents', { created: [doc] })).expect(200)).body.timestamp;
    const deleted = (await push(t, m, created, changesOf('documents', { deleted: [doc.id] })).expect(200)).body.timestamp;
    await uploadTo(doc.id).expect(404);
    expect(await familyFiles()).toEqual([first.id]);
    expect(await version()).toBe(deleted);

    // The upload first: a push of the document from before it (a deletion, an edit) is a 409, and the
    // device pulls the upload's version before it can push again.
    const second = await upload(m);
    const other = documentPointingAt(second.file_url);
    const cursor = (await push(t, m, deleted, changesOf('documents', { created: [other] })).expect(200)).body.timestamp;
    const uploaded = (await uploadTo(other.id).expect(201)).body;
    await push(t, m, cursor, changesOf('documents', { deleted: [other.id] })).expect(409);
    await push(t, m, cursor, changesOf('documents', { updated: [{ ...other, notes: 'edited' }] })).expect(409);
    const pulled = (await pull(t, m, cursor).expect(200)).body;
    expect(pulled.changes.documents.updated).toEqual([expect.objectContaining({ id: other.id, file_url: uploaded.file_url, notes: 'rescanned' })]);
    const [row] = await t.db.query('SELECT file_url, deleted_at FROM documents WHERE id = $1', [other.id]);
    expect(row).toEqual({ file_url: uploaded.file_url, deleted_at: null });
  });

  it("a phone's push that another phone's new scan and the cleanup overtook between its pull and its push is a 409, not a 422 (the recovery would undo the other phone's scan)", async () => {
    const [owner, member] = await registerFamily(t, 1);
    const phoneA = device(owner);
    const phoneB = device(member);
    await phoneA.sync();
    const first = await upload(owner);
    const id = await phoneA.create('documents', { name: 'CBC', category: 'lab_result', file_url: first.file_url, mime_type: first.mime_type, size_bytes: first.size_bytes });
    await phoneA.sync();
    await phoneB.sync();
    await ageFiles([first.id]);

    // A edits the notes; while its sync is on the way (pulled, not yet pushed), B replaces the scan
    // and the daily cleanup removes the one no document points at any more.
    await phoneA.update('documents', id, { notes: 'fasting' });
    let second!: Awaited<ReturnType<typeof upload>>;
    const attempt = phoneA.sync({
      beforePush: async () => {
        second = await upload(member);
        await phoneB.update('documents', id, { file_url: second.file_url, mime_type: second.mime_type, size_bytes: second.size_bytes });
        await phoneB.sync();
        expect((await cleanup.run({ dryRun: false, familyIds: [owner.familyId] })).files.map((f) => f.id)).toEqual([first.id]);
      },
    });
    // A's push still names the first scan, as its record did when it pulled. The row changed since
    // its pull: a conflict, which the next sync resolves by pulling B's scan under A's notes. A 422
    // for the file instead tells A to upload again or push file_url null, either of which undoes B's scan.
    const refused = await attempt.then(() => null, (error: unknown) => error);
    expect(refused).toBeInstanceOf(SyncHttpError);
    expect((refused as SyncHttpError).status).toBe(409);
    await phoneA.syncUntilClean();
    await phoneB.sync();
    expect(await phoneA.find('documents', id)).toMatchObject({ file_url: second.file_url, notes: 'fasting' });
    expect(await phoneB.snapshot()).toEqual(await phoneA.snapshot());
    await everyLiveDocumentHasItsFile(owner);
  });

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
    const [row] = await t.db.query('SELECT file_url FROM documents WHERE id = $1', [id]);
    expect(row.file_url).toBe(second.file_url);
  });
});
