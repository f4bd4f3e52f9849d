import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import type { DocumentFileValidator } from '../sync/document-file-validator.js';

const FILE_URL = /^\/api\/v1\/files\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * Sync push check for `documents.file_url`: a document may only point at a
 * file of its own family, spelled exactly `/api/v1/files/<uuid>`. One query for
 * the whole push. The rows found are locked FOR KEY SHARE until the push
 * commits, so no concurrent delete can remove a file the push is pointing at.
 */
@Injectable()
export class DocumentFilesValidator implements DocumentFileValidator {
  /**
   * @param fileUrls the distinct non-empty `file_url` values of the push (null/empty are allowed and skipped)
   * @throws DomainError VALIDATION_FAILED (422) naming the offending values; nothing is written by the caller then
   */
  async assertFamilyFiles(manager: EntityManager, familyId: string, fileUrls: Iterable<string | null | undefined>): Promise<void> {
    const wanted = new Map<string, string>(); // file id -> url as sent
    const malformed: string[] = [];
    for (const url of fileUrls) {
      if (url === null || url === undefined || url === '') continue;
      const match = FILE_URL.exec(url.toLowerCase() === url ? url : '');
      if (match) wanted.set(match[1], url);
      else malformed.push(url);
    }
    if (malformed.length) throw invalid(malformed, 'file_url must be /api/v1/files/<id> of an uploaded file');
    if (!wanted.size) return;
    const rows: Array<{ id: string }> = await manager.query(
      'SELECT id FROM files WHERE family_id = $1 AND id = ANY($2::uuid[]) FOR KEY SHARE',
      [familyId, [...wanted.keys()]],
    );
    const found = new Set(rows.map((r) => r.id));
    const missing = [...wanted].filter(([id]) => !found.has(id)).map(([, url]) => url);
    // Another family's file and a file that never existed are the same answer: no such file here.
    if (missing.length) throw invalid(missing, 'file_url does not name a file of this family');
  }
}

function invalid(urls: string[], message: string): DomainError {
  return new DomainError(ErrorCode.VALIDATION_FAILED, message, {
    table: 'documents',
    field: 'file_url',
    file_urls: urls.slice(0, 20),
  });
}
