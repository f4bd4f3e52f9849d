import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import type { FileEntity } from './entities/file.entity.js';
import type { FilesRepository } from './files.repository.js';
import { FilesService, type DownloadConditions } from './files.service.js';
import { type ByteRange, type FileStorage, StorageObjectNotFoundError } from './storage/file-storage.js';

const SIZE = 1000;
const SHA = 'a'.repeat(64);
const ETAG = `"${SHA}"`;

const file: FileEntity = {
  id: '00000000-0000-4000-8000-000000000001',
  familyId: '00000000-0000-4000-8000-0000000000f1',
  storageKey: '00000000-0000-4000-8000-0000000000f1/00000000-0000-4000-8000-000000000001',
  mimeType: 'application/pdf',
  sizeBytes: SIZE,
  sha256: SHA,
  originalName: 'ferritin.pdf',
  createdBy: null,
  createdAt: new Date('2025-01-02T03:04:05Z'),
};

/**
 * The download decision without a database: the repository answers from one row (the family
 * scoping it applies is tested in the e2e specs) and the storage records what it is asked for.
 */
function serviceWith(row: FileEntity | null, storageGet?: (key: string, range?: ByteRange) => Promise<Readable>) {
  const reads: Array<{ key: string; range?: ByteRange }> = [];
  const files = { findOne: async () => row } as unknown as FilesRepository;
  const storage = {
    get: async (key: string, range?: ByteRange) => {
      reads.push({ key, range });
      return storageGet ? storageGet(key, range) : Readable.from([Buffer.alloc(0)]);
    },
  } as unknown as FileStorage;
  return { service: new FilesService(files, storage), reads };
}

const get = (conditions: Omit<DownloadConditions, 'method'> = {}): DownloadConditions => ({ method: 'GET', ...conditions });

describe('FilesService.prepareDownload', () => {
  it('no conditions: 200 with the whole file, its ETag and the private cache headers', async () => {
    const { service, reads } = serviceWith(file);
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
    const { service, reads } = serviceWith(file);
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
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=0-1,5-6' }));
    expect(plan.status).toBe(200);
    expect(plan.headers['Content-Length']).toBe(String(SIZE));
    expect(plan.headers['Content-Range']).toBeUndefined();
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it('a range past the end: 416 naming the size, and no storage read', async () => {
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, get({ range: `bytes=${SIZE}-` }));
    expect(plan).toEqual({ status: 416, headers: { 'Accept-Ranges': 'bytes', 'Content-Range': `bytes */${SIZE}` } });
    expect(reads).toEqual([]);
  });

  it.each([ETAG, `W/${ETAG}`, `"other", ${ETAG}`, '*'])('If-None-Match %s: 304 with the ETag, no body, no storage read', async (ifNoneMatch) => {
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, get({ ifNoneMatch, range: 'bytes=0-9' }));
    expect(plan.status).toBe(304);
    expect(plan.headers.ETag).toBe(ETAG);
    expect(plan.headers['Content-Length']).toBeUndefined();
    expect(plan.body).toBeUndefined();
    expect(reads).toEqual([]);
  });

  it('If-None-Match with another ETag: the file as usual', async () => {
    const { service } = serviceWith(file);
    expect((await service.prepareDownload(file.id, get({ ifNoneMatch: '"other"' }))).status).toBe(200);
  });

  it('If-Range with the current ETag: the range is served', async () => {
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=10-19', ifRange: ETAG }));
    expect(plan.status).toBe(206);
    expect(reads).toEqual([{ key: file.storageKey, range: { start: 10, end: 19 } }]);
  });

  it.each(['"stale"', `W/${ETAG}`, file.createdAt.toUTCString()])('If-Range %s (not the current strong ETag): 200 with the whole file', async (ifRange) => {
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, get({ range: 'bytes=10-19', ifRange }));
    expect(plan.status).toBe(200);
    expect(plan.headers['Content-Length']).toBe(String(SIZE));
    expect(reads).toEqual([{ key: file.storageKey, range: undefined }]);
  });

  it('If-Range with a wrong ETag and an unsatisfiable range: 200, not 416 (the range is ignored)', async () => {
    const { service } = serviceWith(file);
    expect((await service.prepareDownload(file.id, get({ range: `bytes=${SIZE}-`, ifRange: '"stale"' }))).status).toBe(200);
  });

  it('HEAD: the same status and headers as GET, without reading the storage', async () => {
    const { service, reads } = serviceWith(file);
    const plan = await service.prepareDownload(file.id, { method: 'HEAD', range: 'bytes=0-9' });
    expect(plan.status).toBe(206);
    expect(plan.headers).toMatchObject({ 'Content-Range': `bytes 0-9/${SIZE}`, 'Content-Length': '10' });
    expect(plan.body).toBeUndefined();
    expect(reads).toEqual([]);
  });

  it('an empty file: 200 with Content-Length 0; any range of it is unsatisfiable', async () => {
    const { service } = serviceWith({ ...file, sizeBytes: 0 });
    expect((await service.prepareDownload(file.id, get())).headers['Content-Length']).toBe('0');
    expect((await service.prepareDownload(file.id, get({ range: 'bytes=-5' }))).status).toBe(416);
  });

  it('no row (another family, or none): NOT_FOUND', async () => {
    const { service } = serviceWith(null);
    await expect(service.prepareDownload(file.id, get())).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File not found' });
  });

  it('a row whose bytes are gone: NOT_FOUND (content missing), logged for the operator; other storage failures pass through', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const missing = serviceWith(file, async (key) => {
      throw new StorageObjectNotFoundError(key);
    });
    const error = await missing.service.prepareDownload(file.id, get()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.NOT_FOUND, message: 'File content is not available' });
    expect(logged).toHaveBeenCalledWith({ fileId: file.id, key: file.storageKey }, 'file row without stored object');
    logged.mockRestore();

    const broken = new Error('connection reset');
    const failing = serviceWith(file, async () => {
      throw broken;
    });
    await expect(failing.service.prepareDownload(file.id, get())).rejects.toBe(broken);
  });
});
