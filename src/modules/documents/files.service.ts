import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { contentDisposition, downloadName } from './content-disposition.js';
import { DocumentsErrors } from './documents.errors.js';
import { FilesRepository } from './files.repository.js';
import { etagMatches, etagMatchesStrongly, fileEtag, modifiedAfter, notModifiedSince, parseRange } from './http-range.js';
import { FILE_STORAGE, type FileStorage, StorageObjectNotFoundError } from './storage/file-storage.js';

export interface DownloadConditions {
  method: string;
  range?: string;
  ifMatch?: string;
  ifUnmodifiedSince?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifRange?: string;
}

/** What to answer for GET /api/v1/files/:id; the controller writes it out. */
export interface DownloadPlan {
  status: 200 | 206 | 304 | 416;
  headers: Record<string, string>;
  body?: Readable;
}

/** Downloads of the current family's files (another family's file is a 404). */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);

  constructor(
    private readonly files: FilesRepository,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
  ) {}

  async prepareDownload(id: string, conditions: DownloadConditions): Promise<DownloadPlan> {
    const file = await this.files.findOne({ id });
    if (!file) throw DocumentsErrors.fileNotFound();
    const etag = fileEtag(file.sha256);
    const size = file.sizeBytes;
    const common: Record<string, string> = {
      ETag: etag,
      'Accept-Ranges': 'bytes',
      // Only the caller's device may keep a copy, and it must ask before showing it again: after a
      // sign-out or a removal from the family, a cached medical file must not be served unasked.
      // Revalidating is cheap: the ETag (the sha256) answers 304 without touching the storage.
      'Cache-Control': 'private, no-cache',
      'Content-Disposition': contentDisposition(downloadName(file.id, file.originalName, file.mimeType)),
      'Last-Modified': file.createdAt.toUTCString(),
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'X-Content-Type-Options': 'nosniff',
    };
    // The preconditions in RFC 9110 §13.2.2's order, once the file is known to exist (a missing or another
    // family's file is a 404 whatever they say, §13.2.1): If-Match, else If-Unmodified-Since (412), then
    // If-None-Match, else If-Modified-Since (304), then If-Range. Android's DownloadManager resumes a
    // download with If-Match and a Range: a file that is no longer the one it holds must not be spliced in.
    if (conditions.ifMatch !== undefined ? !etagMatchesStrongly(conditions.ifMatch, etag) : modifiedAfter(conditions.ifUnmodifiedSince, file.createdAt)) {
      throw DocumentsErrors.preconditionFailed();
    }
    // If-Modified-Since counts only without If-None-Match (RFC 9110 §13.2.2). The file of an id never
    // changes, so a copy from its upload time on is current.
    const notModified =
      conditions.ifNoneMatch !== undefined
        ? etagMatches(conditions.ifNoneMatch, etag)
        : notModifiedSince(conditions.ifModifiedSince, file.createdAt);
    if (notModified) return { status: 304, headers: common };

    // Ranges are for GET only: a server MUST ignore a Range with any other method (RFC 9110 §14.2), so a
    // HEAD describes the whole file. If-Range: serve the range only while the client's copy is still this file;
    // an empty one, sent with no validator in it, matches nothing either (§13.1.5), so the range is ignored.
    const rangeHeader =
      conditions.method !== 'GET' || (conditions.ifRange !== undefined && conditions.ifRange.trim() !== etag) ? undefined : conditions.range;
    const range = parseRange(rangeHeader, size);
    if (range.kind === 'unsatisfiable') {
      return { status: 416, headers: { 'Accept-Ranges': 'bytes', 'Content-Range': `bytes */${size}` } };
    }
    const partial = range.kind === 'range';
    const headers: Record<string, string> = {
      ...common,
      'Content-Type': file.mimeType,
      'Content-Length': String(partial ? range.range.end - range.range.start + 1 : size),
      ...(partial ? { 'Content-Range': `bytes ${range.range.start}-${range.range.end}/${size}` } : {}),
    };
    const status = partial ? 206 : 200;
    if (conditions.method === 'HEAD') return { status, headers };
    try {
      const body = await this.storage.get(file.storageKey, partial ? range.range : undefined);
      return { status, headers, body };
    } catch (error) {
      if (error instanceof StorageObjectNotFoundError) {
        // files:cleanup deletes the row, then the bytes: a download that read the row just before
        // finds them gone, and the file is simply no longer there (found by review: it was logged
        // as an error). A row still there without its bytes is an operator problem, not the caller's.
        if (!(await this.files.findOne({ id }))) throw DocumentsErrors.fileNotFound();
        this.logger.error({ fileId: file.id, key: file.storageKey }, 'file row without stored object');
        throw DocumentsErrors.fileContentMissing();
      }
      throw error;
    }
  }
}
