import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SyncErrors, type SyncFieldError } from '../sync/sync.errors.js';
import { FILE_URL_PREFIX, fileIdOfUrl } from './file-url.js';

const MALFORMED = `must be ${FILE_URL_PREFIX}<id> of a file uploaded by this family (or null/empty)`;
const NOT_A_FAMILY_FILE =
  'does not name a file of this family (never uploaded, uploaded by another family, or removed by the cleanup after its grace period): upload the file again, or push the document with file_url null';

/** A pushed document (created or updated) with a non-empty `file_url`. */
export interface DocumentFileRef {
  id: string;
  fileUrl: string;
}

/**
 * Sync push check for `documents.file_url`: a document may only point at a
 * file of its own family, spelled exactly `/api/v1/files/<uuid>`. One query for
 * the whole push. The rows found are locked FOR KEY SHARE until the push
 * commits, so no concurrent delete can remove a file the push is pointing at.
 */
@Injectable()
export class DocumentFileUrlValidator {
  /**
   * @param refs the pushed documents with a non-empty `file_url` (null/empty are allowed and not passed)
   * @param keptIds the pushed documents without a `file_url` key, which keep the stored value
   * Runs inside the push transaction (`manager`); throwing rejects the whole push.
   * @throws DomainError VALIDATION_FAILED (422) in the sync shape `{ table, id, field, errors }`, one error per
   *   offending document; nothing is written by the caller then
   */
  async assertFamilyFiles(manager: EntityManager, familyId: string, refs: DocumentFileRef[], keptIds: string[] = []): Promise<void> {
    if (keptIds.length) {
      // A deleted document written again comes back with its stored file_url, whose file the cleanup
      // removes once the deletion is past the retention period: that value is checked like a pushed
      // one. (A live document's file is never removed, so its stored value needs no check.)
      const kept: DocumentFileRef[] = await manager.query(
        `SELECT id, file_url AS "fileUrl" FROM documents
          WHERE family_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NOT NULL AND file_url <> ''`,
        [familyId, keptIds],
      );
      refs = [...refs, ...kept];
    }
    const wanted = new Map<string, string[]>(); // file id -> ids of the documents pointing at it
    const errors: SyncFieldError[] = [];
    for (const { id, fileUrl } of refs) {
      const fileId = fileIdOfUrl(fileUrl);
      if (!fileId) errors.push(fileUrlError(id, MALFORMED));
      else wanted.set(fileId, [...(wanted.get(fileId) ?? []), id]);
    }
    if (errors.length) throw SyncErrors.invalid(errors);
    if (!wanted.size) return;
    const rows: Array<{ id: string }> = await manager.query(
      'SELECT id FROM files WHERE family_id = $1 AND id = ANY($2::uuid[]) FOR KEY SHARE',
      [familyId, [...wanted.keys()]],
    );
    const found = new Set(rows.map((r) => r.id));
    // Another family's file and a file that never existed are the same answer: no such file here.
    for (const [fileId, documentIds] of wanted) {
      if (!found.has(fileId)) errors.push(...documentIds.map((id) => fileUrlError(id, NOT_A_FAMILY_FILE)));
    }
    if (errors.length) throw SyncErrors.invalid(errors);
  }
}

function fileUrlError(id: string, message: string): SyncFieldError {
  return { table: 'documents', id, field: 'file_url', message };
}
