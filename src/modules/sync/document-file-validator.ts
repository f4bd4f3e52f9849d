import type { EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';

/**
 * Decides whether pushed `documents.file_url` values point at files of the
 * pushing family. The documents module provides the real implementation under
 * DOCUMENT_FILE_VALIDATOR; it runs inside the push transaction and throws a
 * DomainError (422 or 403) to reject the whole push.
 */
export interface DocumentFileValidator {
  assertFamilyFiles(manager: EntityManager, familyId: string, fileUrls: string[]): Promise<void>;
}

export const DOCUMENT_FILE_VALIDATOR = Symbol('DOCUMENT_FILE_VALIDATOR');

/** Until uploads exist, a synced document may carry no file. */
export class NoFilesDocumentValidator implements DocumentFileValidator {
  async assertFamilyFiles(_manager: EntityManager, _familyId: string, fileUrls: string[]): Promise<void> {
    if (fileUrls.length) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'documents.file_url must be empty: no uploaded file matches it', {
        table: 'documents',
        field: 'file_url',
        file_urls: fileUrls.slice(0, 20),
      });
    }
  }
}
