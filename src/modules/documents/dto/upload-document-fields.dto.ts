import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { type ColumnSpec, DOCUMENT_CATEGORIES, SYNC_TABLE_BY_NAME } from '../../sync/sync-schema.js';

export { DOCUMENT_CATEGORIES };
export type DocumentCategory = (typeof DOCUMENT_CATEGORIES)[number];

/** A column of the synced `documents` table: the upload form accepts exactly what a sync push would. */
function documentsColumn(name: string): ColumnSpec {
  const column = SYNC_TABLE_BY_NAME.get('documents')?.columns.find((c) => c.name === name);
  if (!column?.maxLength) throw new Error(`sync-schema has no documents.${name} with a maxLength`);
  return column;
}

/** Longest `name` (characters), as for sync. */
export const MAX_NAME_LENGTH = documentsColumn('name').maxLength!;
/** Longest `notes` (characters), as for sync; also bounds the multipart field. */
export const MAX_NOTES_LENGTH = documentsColumn('notes').maxLength!;

/**
 * Optional form fields next to the file: when any is present the upload also
 * creates (or updates) a `documents` record pointing at the file. Same limits
 * as the documents table (read from the sync table registry).
 */
export class UploadDocumentFieldsDto {
  /** Id of the document to create or update (a client-generated UUID, as WatermelonDB makes them). */
  @IsOptional() @IsUUID()
  document_id?: string;

  /** Required when the document is created. */
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(MAX_NAME_LENGTH)
  name?: string;

  /** Required when the document is created. */
  @IsOptional() @IsIn(DOCUMENT_CATEGORIES)
  category?: DocumentCategory;

  @IsOptional() @IsString() @MaxLength(MAX_NOTES_LENGTH)
  notes?: string;
}

export const UPLOAD_FIELD_NAMES: ReadonlySet<string> = new Set(['document_id', 'name', 'category', 'notes']);
