import { IsOptional, Matches } from 'class-validator';
import { SyncColumn, syncColumnSpec } from '../../sync/sync-column.validator.js';
import { DOCUMENT_CATEGORIES, UUID_PATTERN } from '../../sync/sync-schema.js';

export { DOCUMENT_CATEGORIES };
export type DocumentCategory = (typeof DOCUMENT_CATEGORIES)[number];

/** Longest `name` (characters), as for sync. */
export const MAX_DOCUMENT_NAME_LENGTH = syncColumnSpec('documents', 'name').maxLength!;
/** Longest `notes` (characters), as for sync; also bounds the multipart field. */
export const MAX_DOCUMENT_NOTES_LENGTH = syncColumnSpec('documents', 'notes').maxLength!;

/**
 * Optional form fields next to the file: when any is present the upload also
 * creates (or updates) a `documents` record pointing at the file. Each field
 * takes exactly what a sync push of that `documents` column takes (the sync
 * table registry's rule), so every device can push the record afterwards.
 */
export class UploadDocumentFieldsDto {
  /**
   * Id of the document to create or update: a client-generated lower-case UUID, as sync ids are
   * (PostgreSQL would store an upper-case one in lower case, and the phone would then hold the
   * record under an id the server never sends).
   */
  @IsOptional() @Matches(UUID_PATTERN, { message: 'document_id must be a lower-case UUID' })
  document_id?: string;

  /** Required when the document is created; never blank. */
  @SyncColumn('documents', 'name')
  name?: string;

  /** Required when the document is created. */
  @SyncColumn('documents', 'category')
  category?: DocumentCategory;

  @SyncColumn('documents', 'notes')
  notes?: string;
}

export const UPLOAD_FIELD_NAMES: ReadonlySet<string> = new Set(['document_id', 'name', 'category', 'notes']);
