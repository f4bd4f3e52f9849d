import { IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

export const DOCUMENT_CATEGORIES = ['lab_result', 'discharge_summary', 'prescription', 'imaging', 'other'] as const;
export type DocumentCategory = (typeof DOCUMENT_CATEGORIES)[number];

/** Longest `notes` accepted in an upload form (the column is text; this bounds the multipart field). */
export const MAX_NOTES_LENGTH = 20_000;

/**
 * Optional form fields next to the file: when any is present the upload also
 * creates (or updates) a `documents` record pointing at the file. Same limits
 * as the documents table.
 */
export class UploadDocumentFieldsDto {
  /** Id of the document to create or update (a client-generated UUID, as WatermelonDB makes them). */
  @IsOptional() @IsUUID()
  document_id?: string;

  /** Required when the document is created. */
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(300)
  name?: string;

  /** Required when the document is created. */
  @IsOptional() @IsIn(DOCUMENT_CATEGORIES)
  category?: DocumentCategory;

  @IsOptional() @IsString() @MaxLength(MAX_NOTES_LENGTH)
  notes?: string;
}

export const UPLOAD_FIELD_NAMES: ReadonlySet<string> = new Set(['document_id', 'name', 'category', 'notes']);
