import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { buildDataSourceOptions } from '../../database/data-source-options.js';
import { FamilyEntity } from '../families/entities/family.entity.js';
import { generateInviteCode } from '../families/invite-code.js';
import { FileEntity } from './entities/file.entity.js';
import { FilesRepository } from './files.repository.js';
import { FilesService, type DownloadConditions } from './files.service.js';
import { type ByteRange, type FileStorage, StorageObjectNotFoundError } from './storage/file-storage.js';

const SIZE = 1000;
const SHA = 'a'.repeat(64);
const ETAG = `"${SHA}"`;
const CREATED_AT = new Date('2025-01-02T03:04:05Z');

const familyId = randomUUID();
const otherFamilyId = randomUUID();
const fileRow = (family: string, values: Partial<FileEntity> = {}): FileEntity => {
  const id = randomUUID();
  return { id, familyId: family, storageKey: `${family}/${id}`, mimeType: 'application/pdf', sizeBytes: SIZE, sha256: SHA, originalName: 'ferritin.pdf', createdBy: null, createdAt: CREATED_AT, ...values };
};
/** The family's file, an empty one of the same family, and another family's file. */
const file = fileRow(familyId);
const emptyFile = fileRow(familyId, { sizeBytes: 0 });
const foreignFile = fileRow(otherFamilyId);

/**
 * The download decision, over the run's real PostgreSQL: the file rows are read through the real
 * FilesRepository in the family's scope (another family's file is not found), and the storage
 * (not a database) records what it is asked for.
 */
let dataSource: DataSource;
const familyContext = new FamilyContext();
beforeAll(async () => {
  dataSource = new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 2 }));
  await dataSource.initialize();
  for (const id of [familyId, otherFamilyId]) await dataSource.getRepository(FamilyEntity).insert({ id, inviteCode: generateInviteCode(), createdAt: 1, updatedAt: 1 });
  await dataSource.getRepository(FileEntity).insert([file, emptyFile, foreignFile]);
});
afterAll(async () => {
  await dataSource?.query('DELETE FROM families WHERE id = ANY($1)', [[familyId, otherFamilyId]]); // their files go with them
  await dataSource?.destroy();
});

function serviceWith(storageGet?: (key: string, range?: ByteRange) => Promise<Readable>) {
  const reads: Array<{ key: string; range?: ByteRange }> = [];
  const storage = {
    get: async (key: string, range?: ByteRange) => {
      reads.push({ key, range });
      return storageGet ? storageGet(key, range) : Readable.from([Buffer.alloc(0)]);
    },
  } as unknown as FileStorage;
  const files = new FilesService(new FilesRepository(dataSource.getRepository(FileEntity), familyContext), storage);
  const scope = { userId: randomUUID(), familyId, role: 'member' as const, joinedVersion: 0 };
  const service = { prepareDownload: (id: string, conditions: DownloadConditions) => familyContext.run(scope, () => files.prepareDownload(id, conditions)) };
  return { service, reads };
}

const get = (conditions: Omit<DownloadConditions, 'method'> = {}): DownloadConditions => ({ method: 'GET', ...conditions });

describe('FilesService.prepareDownload', () => {
  it('no conditions: 200 with the whole file, its ETag and the private cache headers', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get());
    expect(plan.status).toBe(200);
    expect(plan.headers).toMatchObject({
      ETag: ETAG,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'private, no-cache',
      'Content-Type': 'application/pdf',
      'Content-Length': String(SIZE),
      'Last-Modified': file.createdAt.toUTCString(),
      'X-Content-Type-Options': 'nosniff',
      // A file is the client's bytes (only its first ones are checked): should a browser ever render one, nothing of it runs.
      'Content-Security-Policy': "default-src 'none'; sandbox",
    });
    expect(plan.headers['Content-Range']).toBeUndefined();
    expect(plan.body).toBeInstanceOf(Readable);
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=900-', { start: 900, end: 999 }],
    ['bytes=-10', { start: 990, end: 999 }],
  ])('Range %s: 206 with that part, read from the storage as a range', async (range, part) => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ range }));
    expect(plan.status).toBe(206);
    expect(plan.headers).toMatchObject({
      'Content-Range': `bytes ${part.start}-${part.end}/${SIZE}`,
      'Content-Length': String(part.end - part.start + 1),
      ETag: ETAG,
    });
    expect(reads).toEqual([{ key: file.storageKey, range: part }]);
  });

  it('several ranges: 200 with the whole file (only single ranges are served)', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=0-1,5-6' }));
    expect(plan.status).toBe(200);
    expect(plan.headers['Content-Length']).toBe(String(SIZE));
    expect(plan.headers['Content-Range']).toBeUndefined();
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it('a range past the end: 416 naming the size, and no storage read', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ range: `bytes=${SIZE}-` }));
    expect(plan).toEqual({ status: 416, headers: { 'Accept-Ranges': 'bytes', 'Content-Range': `bytes */${SIZE}` } });
    expect(reads).toEqual([]);
  });

  it.each([ETAG, `W/${ETAG}`, `"other", ${ETAG}`, '*'])('If-None-Match %s: 304 with the ETag, no body, no storage read', async (ifNoneMatch) => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ ifNoneMatch, range: 'bytes=0-9' }));
    expect(plan.status).toBe(304);
    expect(plan.headers.ETag).toBe(ETAG);
    expect(plan.headers['Content-Length']).toBeUndefined();
    expect(plan.body).toBeUndefined();
    expect(reads).toEqual([]);
  });

  it('If-None-Match with another ETag: the file as usual', async () => {
    const { service } = serviceWith();
    expect((await service.prepareDownload(file.id, get({ ifNoneMatch: '"other"' }))).status).toBe(200);
  });

  // RFC 9110 §13.1.1: If-Match compares strongly, and a false condition is a 412, never the file. Android's
  // DownloadManager resumes a large scan with If-Match and a Range; both were ignored (200 or 206 of whatever the id held).
  it.each([ETAG, '*', `"other", ${ETAG}`, ` ${ETAG} `])('If-Match %s (the file, strongly): the range is served as asked', async (ifMatch) => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ ifMatch, range: 'bytes=10-19' }));
    expect(plan.status).toBe(206);
    expect(reads).toEqual([{ key: file.storageKey, range: { start: 10, end: 19 } }]);
  });

  it.each(['"other"', `W/${ETAG}`, `"other", W/${ETAG}`, SHA, ''])('If-Match %j (no strong match): 412 PRECONDITION_FAILED, for GET and HEAD, before any range, and no storage read', async (ifMatch) => {
    const { service, reads } = serviceWith();
    for (const conditions of [get({ ifMatch }), get({ ifMatch, range: 'bytes=10-19' }), get({ ifMatch, range: `bytes=${SIZE}-` }), { method: 'HEAD', ifMatch }]) {
      await expect(service.prepareDownload(file.id, conditions)).rejects.toMatchObject({ code: ErrorCode.PRECONDITION_FAILED, status: 412 });
    }
    expect(reads).toEqual([]);
  });

  it('If-Unmodified-Since: 412 when the date is before Last-Modified; served when it is not, or is no HTTP-date', async () => {
    const { service, reads } = serviceWith();
    const before = new Date(CREATED_AT.getTime() - 1000).toUTCString();
    await expect(service.prepareDownload(file.id, get({ ifUnmodifiedSince: before }))).rejects.toMatchObject({ code: ErrorCode.PRECONDITION_FAILED });
    expect(reads).toEqual([]);
    for (const ifUnmodifiedSince of [CREATED_AT.toUTCString(), new Date(CREATED_AT.getTime() + 1000).toUTCString(), 'yesterday']) {
      expect((await service.prepareDownload(file.id, get({ ifUnmodifiedSince }))).status).toBe(200);
    }
  });

  // RFC 9110 §13.2.2: If-Match first, and If-Unmodified-Since only without it; then If-None-Match (304) over If-Modified-Since.
  it('the conditions in RFC 9110 order: If-Match over If-Unmodified-Since, a 412 before a 304', async () => {
    const { service } = serviceWith();
    const before = new Date(CREATED_AT.getTime() - 1000).toUTCString();
    expect((await service.prepareDownload(file.id, get({ ifMatch: ETAG, ifUnmodifiedSince: before }))).status).toBe(200);
    await expect(service.prepareDownload(file.id, get({ ifMatch: '"other"', ifUnmodifiedSince: CREATED_AT.toUTCString() }))).rejects.toMatchObject({
      code: ErrorCode.PRECONDITION_FAILED,
    });
    await expect(service.prepareDownload(file.id, get({ ifMatch: '"other"', ifNoneMatch: ETAG }))).rejects.toMatchObject({ code: ErrorCode.PRECONDITION_FAILED });
    await expect(service.prepareDownload(file.id, get({ ifUnmodifiedSince: before, ifModifiedSince: CREATED_AT.toUTCString() }))).rejects.toMatchObject({
      code: ErrorCode.PRECONDITION_FAILED,
    });
    expect((await service.prepareDownload(file.id, get({ ifMatch: ETAG, ifNoneMatch: ETAG }))).status).toBe(304);
  });

  // RFC 9110 §13.1.3: If-Modified-Since is ignored whenever If-None-Match is in the request, an empty one (an empty
  // list, matching nothing) included.
  it('an empty If-None-Match still sets If-Modified-Since aside: 200 with the whole file, not a 304', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ ifNoneMatch: '', ifModifiedSince: CREATED_AT.toUTCString() }));
    expect(plan.status).toBe(200);
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it('If-Match on a file that is not there (or is another family\'s): 404, as without it (RFC 9110 §13.2.1)', async () => {
    const { service } = serviceWith();
    for (const id of [foreignFile.id, randomUUID()]) {
      for (const ifMatch of ['*', ETAG, '"other"']) {
        await expect(service.prepareDownload(id, get({ ifMatch }))).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File not found' });
      }
    }
  });

  it('If-Range with the current ETag: the range is served', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=10-19', ifRange: ETAG }));
    expect(plan.status).toBe(206);
    expect(reads).toEqual([{ key: file.storageKey, range: { start: 10, end: 19 } }]);
  });

  // An empty If-Range (a client that had no ETag to send) names no validator, so it matches none: RFC 9110 §13.1.5
  // wants the Range ignored then, and the README says any If-Range but the ETag gets the whole file (found by review:
  // '' is falsy, and the range was served as if no If-Range had been sent).
  it.each(['"stale"', `W/${ETAG}`, file.createdAt.toUTCString(), ''])('If-Range %j (not the current strong ETag): 200 with the whole file', async (ifRange) => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=10-19', ifRange }));
    expect(plan.status).toBe(200);
    expect(plan.headers['Content-Length']).toBe(String(SIZE));
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it('If-Range with a wrong ETag and an unsatisfiable range: 200, not 416 (the range is ignored)', async () => {
    const { service } = serviceWith();
    expect((await service.prepareDownload(file.id, get({ range: `bytes=${SIZE}-`, ifRange: '"stale"' }))).status).toBe(200);
  });

  it('HEAD: the headers of the whole file, without reading the storage', async () => {
    const { service, reads } = serviceWith();
    const plan = await service.prepareDownload(file.id, { method: 'HEAD' });
    expect(plan.status).toBe(200);
    expect(plan.headers).toMatchObject({ 'Content-Length': String(SIZE), ETag: ETAG, 'Accept-Ranges': 'bytes' });
    expect(plan.body).toBeUndefined();
    expect(reads).toEqual([]);
  });

  // RFC 9110 §14.2: range handling is defined for GET only, and a server MUST ignore a Range received
  // with any other method. A HEAD with a Range answered 206 (and 416 past the end) for a body it never sends.
  it.each(['bytes=0-9', `bytes=${SIZE}-`])('HEAD with Range %s: the Range is ignored, 200 with the whole length', async (range) => {
    const { service, reads } = serviceWith();
    for (const ifRange of [undefined, ETAG]) {
      const plan = await service.prepareDownload(file.id, { method: 'HEAD', range, ifRange });
      expect(plan.status).toBe(200);
      expect(plan.headers['Content-Length']).toBe(String(SIZE));
      expect(plan.headers['Content-Range']).toBeUndefined();
      expect(plan.body).toBeUndefined();
    }
    expect(reads).toEqual([]);
  });

  it('an empty file: 200 with Content-Length 0; any range of it is unsatisfiable', async () => {
    const { service } = serviceWith();
    expect((await service.prepareDownload(emptyFile.id, get())).headers['Content-Length']).toBe('0');
    expect((await service.prepareDownload(emptyFile.id, get({ range: 'bytes=-5' }))).status).toBe(416);
  });

  it('no row (another family, or none): NOT_FOUND, and no storage read', async () => {
    const { service, reads } = serviceWith();
    for (const id of [foreignFile.id, randomUUID()]) {
      await expect(service.prepareDownload(id, get())).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File not found' });
    }
    expect(reads).toEqual([]);
  });

  it('a row whose bytes are gone: NOT_FOUND (content missing), logged for the operator; a row removed by cleanup meanwhile: NOT_FOUND, not logged; other storage failures pass through', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const missing = serviceWith(async (key) => {
      throw new StorageObjectNotFoundError(key);
    });
    const error = await missing.service.prepareDownload(file.id, get()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File content is not available' });
    expect(logged).toHaveBeenCalledWith({ fileId: file.id, key: file.storageKey }, 'file row without stored object');

    // files:cleanup removed the row, then the bytes, as the download was under way: the file is gone, no alarm.
    const removed = fileRow(familyId);
    await dataSource.getRepository(FileEntity).insert(removed);
    const cleanedUp = serviceWith(async (key) => {
      await dataSource.getRepository(FileEntity).delete({ id: removed.id });
      throw new StorageObjectNotFoundError(key);
    });
    logged.mockClear();
    await expect(cleanedUp.service.prepareDownload(removed.id, get())).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File not found' });
    expect(logged).not.toHaveBeenCalled();
    logged.mockRestore();

    const broken = new Error('connection reset');
    const failing = serviceWith(async () => {
      throw broken;
    });
    await expect(failing.service.prepareDownload(file.id, get())).rejects.toBe(broken);
  });
});
