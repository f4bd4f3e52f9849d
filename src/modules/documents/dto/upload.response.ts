import { ApiProperty } from '@nestjs/swagger';
import type { DocumentCategory } from './upload-document-fields.dto.js';
import type { DocumentRecord } from '../document-records.repository.js';
import type { FileEntity } from '../entities/file.entity.js';
import { fileUrlOf } from '../file-url.js';

/** The document record written by an upload with document fields, in the sync wire format. */
export class UploadedDocumentResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  name: string;
  /** @example lab_result */
  category: DocumentCategory;
  /** @example /api/v1/files/3f0c2a4e-8b1d-4c55-9f0a-2b7e6f1d9c10 */
  file_url: string | null;
  mime_type: string | null;
  @ApiProperty({ type: 'integer', format: 'int64', nullable: true })
  size_bytes: number | null;
  notes: string | null;
  /** ms since epoch */
  @ApiProperty({ type: 'integer', format: 'int64' })
  created_at: number;
  /** ms since epoch */
  @ApiProperty({ type: 'integer', format: 'int64' })
  updated_at: number;

  static from(doc: DocumentRecord): UploadedDocumentResponse {
    return {
      id: doc.id,
      name: doc.name,
      category: doc.category,
      file_url: doc.fileUrl,
      mime_type: doc.mimeType,
      size_bytes: doc.sizeBytes,
      notes: doc.notes,
      created_at: doc.createdAt,
      updated_at: doc.updatedAt,
    };
  }
}

export class UploadResponse {
  /** The file's id, made by the server (a new one for every upload, retries included). @example 3f0c2a4e-8b1d-4c55-9f0a-2b7e6f1d9c10 */
  @ApiProperty({ format: 'uuid' })
  id: string;
  /** Put this in the document's `file_url`. @example /api/v1/files/3f0c2a4e-8b1d-4c55-9f0a-2b7e6f1d9c10 */
  file_url: string;
  /** Detected from the file's bytes. @example application/pdf */
  mime_type: string;
  /** The stored size in bytes; put it in the document's `size_bytes`. @example 482113 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  size_bytes: number;
  /** Hex SHA-256 of the content (also the download's ETag). */
  sha256: string;
  /** Present when the upload carried document fields. */
  document?: UploadedDocumentResponse;

  static from(file: FileEntity, document?: DocumentRecord): UploadResponse {
    return {
      id: file.id,
      file_url: fileUrlOf(file.id),
      mime_type: file.mimeType,
      size_bytes: file.sizeBytes,
      sha256: file.sha256,
      ...(document ? { document: UploadedDocumentResponse.from(document) } : {}),
    };
  }
}
