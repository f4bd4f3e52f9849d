import type { EntityManager } from 'typeorm';
import { SyncErrors } from './sync.errors.js';

/** A pushed document (created or updated) with a non-empty `file_url`. */
export interface DocumentFileRef {
  id: string;
  fileUrl: string;
}

/**
 * Decides whether pushed `documents.file_url` values point at files of the
 * pushing family. The documents module provides the real implementation under
 * DOCUMENT_FILE_VALIDATOR; it runs inside the push transaction and throws a
 * DomainError (422 or 403) to reject the whole push.
 */
export interface DocumentFileValidator {
  assertFamilyFiles(manager: EntityManager, familyId: string, refs: DocumentFileRef[]): Promise<void>;
}

export const DOCUMENT_FILE_VALIDATOR = Symbol('DOCUMENT_FILE_VALIDATOR');

/** Until uploads exist, a synced document may carry no file. */
export class NoFilesDocumentValidator implements DocumentFileValidator {
  async assertFamilyFiles(_manager: EntityManager, _familyId: string, refs: DocumentFileRef[]): Promise<void> {
    if (refs.length) {
      throw SyncErrors.invalid(
        refs.map(({ id }) => ({ table: 'documents', id, field: 'file_url', message: 'must be empty: no uploaded file matches it' })),
      );
    }
  }
}
