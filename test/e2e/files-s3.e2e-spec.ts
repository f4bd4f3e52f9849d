import { jest } from '@jest/globals';
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { FileCleanupService } from '../../src/modules/documents/file-cleanup.service.js';
import { registerFamily, uniqueEmail } from '../factories/auth.factory.js';
import { startS3Server, type TestS3Server } from '../setup/s3-server.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

function binary(res: Response, callback: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

// s3rver (a test server, not S3) has been seen answering one GET with 404 for an object it had just
// served, once in a dozen loaded CI runs; the whole test is retried then, with the error logged.
jest.retryTimes(2, { logErrorsBeforeRetry: true });

/** The whole upload → download path with STORAGE_DRIVER=s3 against a real S3-compatible server. */
describe('files on S3-compatible storage (s3rver)', () => {
  let s3: TestS3Server;
  let t: TestApp;

  beforeAll(async () => {
    s3 = await startS3Server('hemoday-files');
    t = await createTestApp({
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      UPLOAD_MAX_BYTES: String(8 * 1024 * 1024),
    });
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  it('uploads to the bucket under <family>/<id>, downloads byte for byte and by range; refuses oversize leaving no object and no multipart upload', async () => {
    const { token, family } = await registerFamily(t, { email: uniqueEmail('s3') });
    const familyId = family.id;
    // Bigger than one 5 MiB part, so the multipart path of lib-storage is exercised.
    const content = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(6 * 1024 * 1024)]);
    const up = await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${token}`).attach('file', content, 'x.png').expect(201);
    expect(up.body).toMatchObject({ mime_type: 'image/png', size_bytes: content.length });

    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${familyId}/` }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[`${familyId}/${up.body.id}`, content.length]]);

    const full = await t.http().get(up.body.file_url).set('Authorization', `Bearer ${token}`).buffer(true).parse(binary).expect(200);
    expect(Buffer.compare(full.body as Buffer, content)).toBe(0);
    const part = await t
      .http()
      .get(up.body.file_url)
      .set('Authorization', `Bearer ${token}`)
      .set('Range', 'bytes=5242000-5243000')
      .buffer(true)
      .parse(binary)
      .expect(206);
    expect(Buffer.compare(part.body as Buffer, content.subarray(5242000, 5243001))).toBe(0);
    // A resume as Android's DownloadManager sends it (If-Match and an open range): the rest of the object; a
    // wrong ETag is a 412, the bucket not asked.
    const etag = `"${up.body.sha256}"`;
    const rest = await t
      .http()
      .get(up.body.file_url)
      .set('Authorization', `Bearer ${token}`)
      .set('If-Match', etag)
      .set('Range', 'bytes=6000000-')
      .buffer(true)
      .parse(binary)
      .expect(206);
    expect(Buffer.compare(rest.body as Buffer, content.subarray(6000000))).toBe(0);
    await t.http().get(up.body.file_url).set('Authorization', `Bearer ${token}`).set('If-Match', '"0000"').set('Range', 'bytes=6000000-').expect(412);

    const big = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(8 * 1024 * 1024)]);
    await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${token}`).attach('file', big, 'big.pdf').expect(413);
    const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(58), randomBytes(6 * 1024 * 1024)]);
    await t.http().post('/api/v1/upload').set('Authorization', `Bearer ${token}`).attach('file', exe, 'scan.pdf').expect(415);
    const after = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${familyId}/` }));
    expect(after.Contents?.map((o) => o.Key)).toEqual([`${familyId}/${up.body.id}`]);
    // The oversize file was past one 5 MiB part when it was refused: its multipart upload was aborted, not left with its parts.
    const uploads = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${familyId}/` }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('files:cleanup sweeps objects in the bucket that have no row, and leaves the others', async () => {
    const { token, family } = await registerFamily(t, { email: uniqueEmail('s3') });
    const familyId = family.id;
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(100)]);
    const kept = await t
      .http()
      .post('/api/v1/upload')
      .set('Authorization', `Bearer ${token}`)
      .field('name', 'kept')
      .field('category', 'imaging')
      .attach('file', png, 'x.png')
      .expect(201);
    const stray = `${familyId}/${randomUUID()}`;
    const foreign = `${familyId}/README.txt`;
    for (const Key of [stray, foreign]) await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: randomBytes(10) }));

    const cleanup = t.app.get(FileCleanupService);
    // The objects were written just now: too young for the sweep even with grace 0 (the 1 h floor)…
    expect((await cleanup.run({ dryRun: false, familyIds: [familyId], graceHours: 0 })).orphans).toEqual([]);
    // …and old enough two hours later.
    const report = await cleanup.run({ dryRun: false, familyIds: [familyId], graceHours: 0, nowMs: Date.now() + 2 * 3_600_000 });
    expect(report.orphans.map(({ key, kind, size_bytes }) => ({ key, kind, size_bytes }))).toEqual([{ key: stray, kind: 'object', size_bytes: 10 }]);
    expect(report.failures).toEqual([]);
    const left = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${familyId}/` }));
    expect(left.Contents?.map((o) => o.Key).sort()).toEqual([`${familyId}/${kept.body.id}`, foreign].sort());
  });
});
