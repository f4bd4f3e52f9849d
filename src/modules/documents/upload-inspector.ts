import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DocumentsErrors } from './documents.errors.js';
import { SNIFF_BYTES, sniffFileType } from './file-type.js';

export interface InspectedFile {
  mimeType: string;
  sizeBytes: number;
  sha256: string;
}

/**
 * Sits between the multipart parser and the storage driver: counts bytes
 * (error past `maxBytes`), hashes them (sha256), and holds back the first
 * bytes until it has recognized the type (error for a type not allowed), so
 * storage never receives a byte of a rejected file's body beyond that.
 * Nothing is buffered beyond SNIFF_BYTES.
 */
export class UploadInspector extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private head: Buffer[] = [];
  private headLength = 0;
  private bytesSeen = 0;
  private mimeType: string | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly allowedTypes: ReadonlySet<string>,
  ) {
    super();
  }

  /** Valid after the stream has ended without error. */
  result(): InspectedFile {
    if (!this.mimeType) throw new Error('UploadInspector.result() called before the file was complete');
    return { mimeType: this.mimeType, sizeBytes: this.bytesSeen, sha256: this.hash.digest('hex') };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytesSeen += chunk.length;
    if (this.bytesSeen > this.maxBytes) return callback(DocumentsErrors.fileTooLarge(this.maxBytes));
    this.hash.update(chunk);
    if (this.mimeType) return callback(null, chunk);
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < SNIFF_BYTES) return callback();
    callback(this.decide());
  }

  override _flush(callback: TransformCallback): void {
    if (this.mimeType) return callback();
    if (this.bytesSeen === 0) {
      return callback(DocumentsErrors.emptyFile());
    }
    callback(this.decide());
  }

  private decide(): Error | null {
    const head = Buffer.concat(this.head);
    const type = sniffFileType(head);
    if (!type || !this.allowedTypes.has(type)) {
      return DocumentsErrors.typeNotAllowed(type ?? null, [...this.allowedTypes]);
    }
    this.mimeType = type;
    this.head = [];
    this.push(head);
    return null;
  }
}
