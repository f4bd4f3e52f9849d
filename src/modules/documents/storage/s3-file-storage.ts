import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import {
  assertSafeFolder,
  assertSafeKey,
  type ByteRange,
  type FileStorage,
  isSafeSegment,
  type StorageEntry,
  type StoredObjectInfo,
  StorageObjectNotFoundError,
} from './file-storage.js';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Keys per ListObjectsV2 page (S3's maximum, 1000, by default; small in tests to exercise paging). */
  listPageSize?: number;
}

/**
 * S3-compatible object storage (AWS S3, MinIO, Garage, SeaweedFS…). Uploads
 * stream through lib-storage's multipart Upload (5 MiB parts, at most two in
 * flight), so memory use is bounded whatever the file size; a failed upload
 * aborts its multipart upload and leaves no object.
 */
export class S3FileStorage implements FileStorage {
  readonly driver = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly listPageSize: number;

  constructor(options: S3StorageOptions, client?: S3Client) {
    this.bucket = options.bucket;
    this.listPageSize = options.listPageSize ?? 1000;
    this.client =
      client ??
      new S3Client({
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
        credentials:
          options.accessKeyId && options.secretAccessKey
            ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
            : undefined,
      });
  }

  async put(key: string, body: Readable): Promise<StoredObjectInfo> {
    assertSafeKey(key);
    let failure: unknown;
    // lib-storage reads the body with an async iterator; remember a stream error so the caller
    // gets the original cause (e.g. "too large") rather than the SDK's wrapper.
    body.once('error', (error) => (failure ??= error));
    const upload = new Upload({
      client: this.client,
      // Wrapped: lib-storage guesses the total size from a body's `size`/`length` property, which an
      // arbitrary stream class may have with another meaning (and then aborts "expected N parts").
      params: { Bucket: this.bucket, Key: key, Body: Readable.from(body) },
      queueSize: 2,
      partSize: 5 * 1024 * 1024,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // A single-part upload that failed may still have been sent; make sure nothing stays.
      await this.delete(key).catch(() => undefined);
      throw failure ?? error;
    }
    if (failure) {
      await this.delete(key).catch(() => undefined);
      throw failure;
    }
    const info = await this.stat(key);
    if (!info) throw new Error(`S3 upload of ${key} finished but the object is missing`);
    return info;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertSafeKey(key);
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return result.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new StorageObjectNotFoundError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    assertSafeKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(head.ContentLength ?? 0) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * ListObjectsV2, one page at a time. Incomplete multipart uploads (a crash
   * mid-upload) are not objects and are not listed: a bucket lifecycle rule
   * (AbortIncompleteMultipartUpload) removes them, see DEPLOYMENT.md.
   */
  async *list(folder?: string): AsyncIterable<StorageEntry> {
    if (folder !== undefined) assertSafeFolder(folder);
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: folder !== undefined ? `${folder}/` : undefined,
          ContinuationToken: token,
          MaxKeys: this.listPageSize,
        }),
      );
      for (const object of page.Contents ?? []) {
        const segments = object.Key?.split('/') ?? [];
        if (segments.length !== 2 || !segments.every(isSafeSegment)) continue;
        // No date (a non-conforming server): treat it as new rather than as old enough to remove.
        yield { key: object.Key!, size: Number(object.Size ?? 0), modifiedAt: object.LastModified ?? new Date(), temporary: false };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteEntry(entry: StorageEntry): Promise<void> {
    if (entry.temporary) throw new Error(`The S3 driver lists no temporary entries: ${JSON.stringify(entry.key)}`);
    await this.delete(entry.key);
  }

  onModuleDestroy(): void {
    this.client.destroy();
  }
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error instanceof S3ServiceException && (error.$metadata?.httpStatusCode === 404 || error.name === 'NoSuchKey'))
  );
}
