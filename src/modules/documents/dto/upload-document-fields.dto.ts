import { IsOptional, Matches } from 'class-validator';
import { SyncColumn, syncColumnSpec } from '../../sync/sync-column.validator.js';
import { LOWER_CASE_UUID_PATTERN } from '../../../common/http/uuid.js';
import { DOCUMENT_CATEGORIES } from '../../sync/sync-schema.js';

export { DOCUMENT_CATEGORIES };
export type DocumentCategory = (typeof DOCUMENT_CATEGORIES)[number];

/** Longest `name` (characters), as for sync. */
export const MAX_DOCUMENT_NAME_LENGTH = documentsMaxLength('name');
/** Longest `notes` (characters), as for sync; also bounds the multipart field. */
export const MAX_DOCUMENT_NOTES_LENGTH = documentsMaxLength('notes');

function documentsMaxLength(column: string): number {
  const spec = syncColumnSpec('documents', column);
  if (spec.kind !== 'string') throw new Error(`documents.${column} is not a string column: it has no maxLength`);
  return spec.maxLength;
}

/**
 * Optional form fields next to the file: when any is present the upload also
 * creates (or updates) a `documents` record pointing at the file. Each field
 * takes exactly what a sync push of that `documents` column takes (the sync
 * table registry's rule), so every device can push the record afterwards.
 */
export class UploadDocumentFieldsDto {
  /**
   * Id of the document to create or update: a client-generated lower-case UUID, as sync ids are
   * (see LOWER_CASE_UUID_PATTERN).
   */
  @IsOptional() @Matches(LOWER_CASE_UUID_PATTERN, { message: 'document_id must be a lower-case UUID' })
  document_id?: string;

  /** Required when the document is created; never blank. */
  @SyncColumn('documents', 'name')
  name?: string;

  /** Required when the document is created. */
  @SyncColumn('documents', 'category')
  category?: DocumentCategory;

  @SyncColumn('documents', 'notes')
  notes?: string;

  /**
   * The family whose data the phone holds (its records' `family_id`). Optional; when sent and the
   * caller is now in another family (they joined it on another phone), the upload is refused with
   * 409 MEMBERSHIP_CHANGED before anything is stored: without it, a scan taken for the previous
   * family's patient was filed in the new one, where its members could read it (found by review).
   * The phone syncs (its pull replaces what it holds), then uploads again.
   */
  @IsOptional() @Matches(LOWER_CASE_UUID_PATTERN, { message: 'family_id must be a lower-case UUID' })
  family_id?: string;
}

export const UPLOAD_FIELD_NAMES: ReadonlySet<string> = new Set(['document_id', 'name', 'category', 'notes', 'family_id']);
