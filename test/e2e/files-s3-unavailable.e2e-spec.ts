/**
 * Object storage (STORAGE_DRIVER=s3) that is down or never answers: an outage, answered 503
 * STORAGE_UNAVAILABLE with Retry-After, never a request (or files:cleanup) that waits forever.
 * No timed assertions: on code without the S3 timeouts these requests never end, and jest's
 * test timeout is what fails them. Run on the embedded run only: what they test is the driver's, the
 * same whatever PostgreSQL keeps the rows, and most of their time is waiting out S3 timeouts.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { childCwd } from '../setup/service-process.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';
import { describeOnEmbeddedRun } from '../setup/test-runs.js';

/** A TCP server that accepts every connection and never sends a byte (an S3 endpoint that hangs). */
async function silentServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read (and drop) whatever the client sends, answer nothing
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** A port nothing listens on (connections refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

const s3Env = (endpoint: string) => ({
  STORAGE_DRIVER: 's3',
  S3_ENDPOINT: endpoint,
  S3_BUCKET: 'hemoday-unavailable',
  S3_ACCESS_KEY_ID: 'key',
  S3_SECRET_ACCESS_KEY: 'secret',
  S3_TIMEOUT_SECONDS: '1',
});

const pdf = () => Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n');

const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: expect.any(String),
  details: { code: 'STORAGE_UNAVAILABLE', retryAfterSeconds: 30 },
};

describeOnEmbeddedRun('object storage that accepts connections and never answers (S3_TIMEOUT_SECONDS=1)', () => {
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let t: TestApp;

  beforeAll(async () => {
    silent = await silentServer();
    t = await createTestApp(s3Env(silent.endpoint));
  });
  afterAll(async () => {
    // First: a request still waiting on the silent server (old code) would hold the app's close.
    await silent?.close();
    await t?.close();
  });

  // Concurrent: each test has its own family, and most of its time is waiting out S3 timeouts.
  it.concurrent('an upload (with document fields) answers 503 STORAGE_UNAVAILABLE with Retry-After instead of hanging, and leaves no row and no new version', async () => {
    const family = await registerFamily(t);
    const db = t.app.get(DataSource);
    const versionOf = async () => (await db.query<Array<{ v: string }>>('SELECT sync_version AS v FROM families WHERE id = $1', [family.family.id]))[0].v;
    const before = await versionOf();

    const res = await t
      .http()
      .post('/api/v1/upload')
      .set(bearer(family.token))
      .field('name', 'Ferritin, March')
      .field('category', 'lab_result')
      .field('document_id', randomUUID())
      .attach('file', pdf(), 'scan.pdf');

    expect({ status: res.status, retryAfter: res.headers['retry-after'], body: res.body }).toEqual({ status: 503, retryAfter: '30', body: UNAVAILABLE });
    const [{ files }] = await db.query<Array<{ files: number }>>('SELECT count(*)::int AS files FROM files WHERE family_id = $1', [family.family.id]);
    const [{ documents }] = await db.query<Array<{ documents: number }>>('SELECT count(*)::int AS documents FROM documents WHERE family_id = $1', [family.family.id]);
    expect({ files, documents, version: await versionOf() }).toEqual({ files: 0, documents: 0, version: before });
  });

  it.concurrent('a download answers 503 STORAGE_UNAVAILABLE with Retry-After instead of hanging; a HEAD or a 304, which do not read the storage, still answer', async () => {
    const family = await registerFamily(t);
    const db = t.app.get(DataSource);
    const id = randomUUID();
    const sha256 = createHash('sha256').update(pdf()).digest('hex');
    // The row of a file stored earlier, while the storage answered (arranged behind the API: this storage cannot take an upload).
    await db.query(
      `INSERT INTO files (id, family_id, storage_key, mime_type, size_bytes, sha256, original_name, created_by)
       VALUES ($1, $2, $3, 'application/pdf', $4, $5, 'scan.pdf', $6)`,
      [id, family.family.id, `${family.family.id}/${id}`, pdf().length, sha256, family.user.id],
    );

    // Side by side: each waits out the S3 timeouts on its own connection to the silent endpoint.
    const [res, ranged] = await Promise.all([
      t.http().get(`/api/v1/files/${id}`).set(bearer(family.token)),
      t.http().get(`/api/v1/files/${id}`).set(bearer(family.token)).set('Range', 'bytes=0-3'),
    ]);
    expect({ status: res.status, retryAfter: res.headers['retry-after'], body: res.body }).toEqual({ status: 503, retryAfter: '30', body: UNAVAILABLE });
    expect({ status: ranged.status, code: ranged.body.details?.code }).toEqual({ status: 503, code: 'STORAGE_UNAVAILABLE' });

    await t.http().head(`/api/v1/files/${id}`).set(bearer(family.token)).expect(200);
    await t.http().get(`/api/v1/files/${id}`).set(bearer(family.token)).set('If-None-Match', `"${sha256}"`).expect(304);
  });
});

describeOnEmbeddedRun('files:cleanup (node dist/cli.js) with object storage down', () => {
  const CLI = resolve('dist/cli.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-s3-down-'));
  let silent: Awaited<ReturnType<typeof silentServer>>;
  let t: TestApp;

  function cli(args: string[], env: Record<string, string>): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
    const base: Record<string, string | undefined> = { ...process.env };
    delete base.NODE_OPTIONS;
    return new Promise((done) =>
      execFile(
        process.execPath,
        [CLI, ...args],
        // The timeout only keeps a hung run (code without S3 timeouts) from outliving the test.
        { env: { ...base, NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: process.env.TEST_DATABASE_URL!, DATA_DIR: dataDir, ...env }, cwd: childCwd(), timeout: 90_000 },
        (error, stdout, stderr) => done({ code: error ? ((error as { code?: number | string }).code ?? null) : 0, stdout, stderr }),
      ),
    );
  }

  beforeAll(async () => {
    silent = await silentServer();
    t = await createTestApp(); // local storage: only to register the family
  });
  afterAll(async () => {
    await silent?.close();
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** stderr's lines without the AWS SDK's own notice about the Node version (a process warning of several lines, not ours). */
  const ourLines = (stderr: string) =>
    stderr
      .replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?^\(Use `node --trace-warnings[^\n]*\n/m, '')
      .split('\n')
      .filter(Boolean);

  it('stops with one line saying object storage is unreachable, exit 1: a silent endpoint (S3_TIMEOUT_SECONDS=1) and a refused one', async () => {
    const family = await registerFamily(t);
    // Only this family's folder (--family): the database is shared with the other test files.
    const args = ['files:cleanup', '--dry-run', '--family', family.family.id];

    const hung = await cli(args, s3Env(silent.endpoint));
    expect({ code: hung.code, stdout: hung.stdout, stderr: ourLines(hung.stderr) }).toEqual({
      code: 1,
      stdout: '',
      stderr: [expect.stringMatching(/^error: object storage is unreachable or not answering \(ListObjectsV2: .*timed out.*\(3 attempts\)\); check S3_ENDPOINT/)],
    });

    // Before: "cannot reach the database (connection refused …)", the S3 client's socket error taken for PostgreSQL's.
    const refused = await cli(args, s3Env(`http://127.0.0.1:${await closedPort()}`));
    expect({ code: refused.code, stdout: refused.stdout, stderr: ourLines(refused.stderr) }).toEqual({
      code: 1,
      stdout: '',
      stderr: [expect.stringMatching(/^error: object storage is unreachable or not answering \(ListObjectsV2: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(3 attempts\)\); check S3_ENDPOINT/)],
    });
  });

  it('stops at the first object it cannot look up before deleting it (one line, exit 1) rather than failing every object after the full timeout', async () => {
    const family = await registerFamily(t);
    const db = t.app.get(DataSource);
    // Two unreferenced files, two days old: due for deletion.
    for (const id of [randomUUID(), randomUUID()]) {
      await db.query(
        `INSERT INTO files (id, family_id, storage_key, mime_type, size_bytes, sha256, created_at)
         VALUES ($1, $2, $3, 'application/pdf', 10, repeat('0', 64), now() - interval '2 days')`,
        [id, family.family.id, `${family.family.id}/${id}`],
      );
    }
    const run = await cli(['files:cleanup', '--family', family.family.id], s3Env(`http://127.0.0.1:${await closedPort()}`));
    expect({ code: run.code, stdout: run.stdout, stderr: ourLines(run.stderr) }).toEqual({
      code: 1,
      stdout: '',
      stderr: [expect.stringMatching(/^error: object storage is unreachable or not answering \(HeadObject: connect ECONNREFUSED 127\.0\.0\.1:\d+ \(3 attempts\)\); check S3_ENDPOINT/)],
    });
  });
});
