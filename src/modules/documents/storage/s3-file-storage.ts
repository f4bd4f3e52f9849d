import {
  AbortMultipartUploadCommand,
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
import { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
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
  StorageUnavailableError,
} from './file-storage.js';
import { UNREACHABLE_ERRNO } from '../../../common/unreachable-errno.js';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /**
   * S3_TIMEOUT_SECONDS: how long connecting may take, and how long a connection may stay silent
   * (nothing sent or received) before the attempt fails. Each attempt: the SDK makes up to 3.
   */
  timeoutSeconds: number;
  /** Keys per ListObjectsV2 page (S3's maximum, 1000, by default; small in tests to exercise paging). */
  listPageSize?: number;
}

/**
 * S3-compatible object storage (AWS S3, MinIO, Garage, SeaweedFS…). Uploads
 * stream through lib-storage's multipart Upload (5 MiB parts, at most two in
 * flight), so memory use is bounded whatever the file size; a failed upload
 * aborts its multipart upload (a refused abort is logged) and leaves no object.
 *
 * Failures that mean the store is down or not answering (see `unavailableReason`) are thrown as
 * StorageUnavailableError, in this one place, for every operation; a missing object stays a miss.
 */
export class S3FileStorage implements FileStorage {
  readonly driver = 's3' as const;
  private readonly logger = new Logger(S3FileStorage.name);
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly listPageSize: number;

  constructor(options: S3StorageOptions, client?: S3Client) {
    this.bucket = options.bucket;
    this.listPageSize = options.listPageSize ?? 1000;
    const timeoutMs = options.timeoutSeconds * 1000;
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
        // NodeHttpHandler's defaults wait forever: an endpoint that accepts the connection and never
        // answers held every upload, download and files:cleanup for good (found by review). In
        // @smithy/node-http-handler 4 `socketTimeout` is the idle timeout; `requestTimeout` times
        // the whole request up to the answer's headers (and only warns unless told to throw), which
        // would also fail a 5 MiB part sent steadily over a slow link.
        requestHandler: { connectionTimeout: timeoutMs, socketTimeout: timeoutMs },
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
      // The parts of a failed upload are aborted below, not by lib-storage: it drops the upload's own
      // error for the abort's when its abort fails, and nobody would hear of the parts left.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      const unavailable = failure ? undefined : asUnavailable('upload', error);
      if (upload.uploadId) {
        // A failed multipart upload (lib-storage never completes one) leaves its parts, not an object:
        // a delete would not touch them, nor would files:cleanup, which lists objects. Aborted even
        // when the store is failing (one part's 5xx may be passing), as lib-storage did; but then not
        // waited for: against a silent store it takes as many attempts of S3_TIMEOUT_SECONDS again,
        // for the phone's 503 (abortUpload never throws; a refused abort is logged).
        const aborted = this.abortUpload(key, upload.uploadId);
        if (!unavailable) await aborted;
      } else if (!unavailable) {
        // A single PutObject that failed may still have landed; make sure nothing stays. Not when the
        // store is not answering: a delete would wait as long again, for the phone's answer. Whatever
        // landed (an attempt whose answer was lost) has no row, and the orphan sweep removes it.
        await this.delete(key).catch(() => undefined);
      }
      throw unavailable ?? failure ?? error;
    }
    if (failure) {
      await this.delete(key).catch(() => undefined);
      throw failure;
    }
    const info = await this.stat(key);
    if (!info) throw new Error(`S3 upload of ${key} finished but the object is missing`);
    return info;
  }

  /**
   * Aborts a failed multipart upload, which removes its parts (S3 bills them until then). When that
   * fails too (a policy without s3:AbortMultipartUpload, a store that is down) the parts stay until
   * the bucket's lifecycle rule removes them (DEPLOYMENT.md): logged, for the operator to know.
   */
  private async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (isNotFound(error)) return; // NoSuchUpload: already gone
      const reason = unavailableReason(error) ?? (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      this.logger.warn({ key, uploadId, reason }, "could not abort a failed upload's multipart upload; its parts stay until the bucket's lifecycle rule removes them");
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertSafeKey(key);
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      const body = result.Body as Readable & { socket?: Socket | null };
      if (range && !answersRange(result, range)) {
        // A store (or a proxy before it) that ignores Range answers the whole object: served as the part,
        // its first bytes would be spliced into a resumed download at the wrong offset, a corrupted scan.
        body.destroy();
        throw new Error(
          `GetObject of ${key}: the store answered Content-Range ${JSON.stringify(result.ContentRange ?? null)} to Range bytes=${range.start}-${range.end}: ` +
            'it does not serve byte ranges, which downloads need (STORAGE_DRIVER=s3 needs a store that does)',
        );
      }
      // The store has answered: from here the phone's pace sets the stream's. The idle timeout would
      // cut the download of a phone that stops reading for S3_TIMEOUT_SECONDS (backpressure leaves
      // the connection silent), which then resumes with Range; the phone going away ends it anyway, and
      // SEND_TIMEOUT_SECONDS (sendTimeout) one that stops reading that long.
      body.socket?.setTimeout(0);
      return body;
    } catch (error) {
      if (isNotFound(error)) throw new StorageObjectNotFoundError(key);
      throw asUnavailable('GetObject', error) ?? error;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    assertSafeKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(head.ContentLength ?? 0) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw asUnavailable('HeadObject', error) ?? error;
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
      if (!isNotFound(error)) throw asUnavailable('DeleteObject', error) ?? error;
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
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: folder !== undefined ? `${folder}/` : undefined,
            ContinuationToken: token,
            MaxKeys: this.listPageSize,
          }),
        )
        .catch((error: unknown) => {
          throw asUnavailable('ListObjectsV2', error) ?? error;
        });
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

/**
 * UNREACHABLE_ERRNO (or a cut connection) in the message: an error from another realm (Node's own, under jest) is not
 * `instanceof Error` to the SDK, which then wraps it ("AWS SDK error wrapper for Error: connect
 * ECONNREFUSED …") without its `code`.
 */
const UNREACHABLE_IN_MESSAGE = new RegExp(`\\b(${[...UNREACHABLE_ERRNO].join('|')})\\b|socket hang up`);
/** S3's (and S3-compatible servers') names for "too many requests, slow down", whatever their status. */
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestThrottled']);

/** `error`, when it means the store is unavailable, as a StorageUnavailableError naming `operation`. */
function asUnavailable(operation: string, error: unknown): StorageUnavailableError | undefined {
  const reason = unavailableReason(error);
  return reason === undefined ? undefined : new StorageUnavailableError(`${operation}: ${reason}`, error);
}

/**
 * Why an error of the SDK means the store is down or not answering, or undefined when it means
 * something else (a 4xx: bad credentials, no such bucket, a refused request; a body stream's own
 * error): those stay what they are. Only errors that went through the client (`$metadata`) count,
 * once its retries are spent (`attempts`):
 * - no HTTP answer at all: a refused, reset or cut connection, an unknown host, or S3_TIMEOUT_SECONDS
 *   of silence while connecting or waiting (the handler's `TimeoutError`);
 * - an answer of 5xx (InternalError, ServiceUnavailable, SlowDown…), 429, or a throttling code.
 */
function unavailableReason(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const { name, code, message, $metadata } = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
  };
  const text = typeof message === 'string' ? message.replace(/^AWS SDK error wrapper for (\w*Error: )?/, '').replace(/^@smithy\/node-http-handler - /, '') : '';
  const attempts = typeof $metadata?.attempts === 'number' && $metadata.attempts > 1 ? ` (${$metadata.attempts} attempts)` : '';
  const status = $metadata?.httpStatusCode;
  if (typeof status === 'number') {
    const failing = status >= 500 || status === 429 || (typeof name === 'string' && THROTTLING.has(name));
    return failing ? `HTTP ${status} ${String(name)}${text ? `: ${text}` : ''}${attempts}` : undefined;
  }
  const unreachable =
    name === 'TimeoutError' || (typeof code === 'string' && UNREACHABLE_ERRNO.has(code)) || UNREACHABLE_IN_MESSAGE.test(text);
  return unreachable ? `${text || String(name)}${attempts}` : undefined;
}

/**
 * Whether a GetObject answered the range asked: its Content-Range says so (`bytes <start>-<end>/<size>`), or,
 * without one (a 200), its body is exactly those bytes, the whole object being the range.
 */
function answersRange(answer: { ContentRange?: string; ContentLength?: number }, range: ByteRange): boolean {
  if (answer.ContentRange !== undefined) return answer.ContentRange.startsWith(`bytes ${range.start}-${range.end}/`);
  return range.start === 0 && answer.ContentLength === range.end + 1;
}
