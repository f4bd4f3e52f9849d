import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { WriteStamp } from '../sync/write-stamp.js';
import type { DocumentCategory } from './dto/upload-document-fields.dto.js';

/** A row of the synced `documents` table, as the upload flow needs it. */
export interface DocumentRecord {
  id: string;
  familyId: string;
  name: string;
  category: DocumentCategory;
  fileUrl: string | null;
  mimeType: string | null;
  sizeBytes: number | null;
  notes: string | null;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

interface DocumentRow {
  id: string;
  family_id: string;
  name: string;
  category: DocumentCategory;
  file_url: string | null;
  mime_type: string | null;
  size_bytes: string | null;
  notes: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

const COLUMNS = 'id, family_id, name, category, file_url, mime_type, size_bytes, notes, created_at, updated_at, deleted_at';

export interface NewDocument {
  id: string;
  name: string;
  category: DocumentCategory;
  notes: string | null;
  fileUrl: string;
  mimeType: string;
  sizeBytes: number;
}

export interface DocumentFilePatch {
  name?: string;
  category?: DocumentCategory;
  notes?: string;
  fileUrl: string;
  mimeType: string;
  sizeBytes: number;
}

/**
 * Writes of the synced `documents` table made by uploads. Every method runs in
 * a FamilyVersionService transaction and takes the same WriteStamp as the sync
 * push (family and version from the write handle).
 *
 * The stamping below repeats what sync.repository.ts generates from the
 * registry for `documents`, on purpose: the generated statements belong to
 * SyncRepository, a provider of SyncModule, which imports this module (using
 * them here would make a module cycle or a second instance); they read values
 * from pushed JSON documents and return a count, so an upload would have to
 * shape its fields as a pushed record and read the row back (three statements
 * instead of two); and they handle revivals and devices an upload never has.
 * A column added to `documents` with a server-side stamp must be added here too.
 */
@Injectable()
export class DocumentRecordsRepository {
  /**
   * Locks the document with this id in any family. Deliberately not scoped:
   * the caller must tell "exists in another family" (refuse, never overwrite)
   * from "does not exist" (create it with the client's id).
   */
  async lockById(manager: EntityManager, id: string): Promise<DocumentRecord | null> {
    const rows: DocumentRow[] = await manager.query(`SELECT ${COLUMNS} FROM documents WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /**
   * Whose the document with this id is, in any family, and whether it is deleted (unscoped, like
   * lockById), or null when no document has this id. Read without a lock: a courtesy check only.
   */
  async ownerOf(manager: EntityManager, id: string): Promise<{ familyId: string; deleted: boolean } | null> {
    const rows: Array<{ family_id: string; deleted: boolean }> = await manager.query(
      'SELECT family_id, deleted_at IS NOT NULL AS deleted FROM documents WHERE id = $1',
      [id],
    );
    return rows[0] ? { familyId: rows[0].family_id, deleted: rows[0].deleted } : null;
  }

  async insert(
    manager: EntityManager,
    stamp: WriteStamp,
    doc: NewDocument,
  ): Promise<DocumentRecord | null> {
    // created_by_device stays NULL (stamp.deviceId is not used): no device holds a row the server
    // created, the uploader included, so every device pulls it as `created`.
    // ON CONFLICT DO NOTHING: the same new id inserted meanwhile by another family (a guessed UUID
    // racing ours) comes back as "no row", which the caller answers like another family's document.
    const rows: DocumentRow[] = await manager.query(
      `INSERT INTO documents (id, family_id, name, category, file_url, mime_type, size_bytes, notes,
                              created_at, updated_at, server_version, server_created_version,
                              created_by, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10, $11, $11)
       ON CONFLICT (id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [doc.id, stamp.familyId, doc.name, doc.category, doc.fileUrl, doc.mimeType, doc.sizeBytes, doc.notes,
        stamp.now, stamp.version, stamp.userId],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async updateFile(
    manager: EntityManager,
    stamp: WriteStamp,
    id: string,
    patch: DocumentFilePatch,
  ): Promise<DocumentRecord> {
    const rows: DocumentRow[] = await manager.query(
      // Wrapped in a SELECT so TypeORM hands back plain rows (for a bare UPDATE it returns [rows, count]).
      `WITH updated AS (
       UPDATE documents
          SET name = coalesce($3, name), category = coalesce($4, category), notes = coalesce($5, notes),
              file_url = $6, mime_type = $7, size_bytes = $8,
              updated_at = $9, server_version = $10, updated_by = $11
        WHERE id = $1 AND family_id = $2
        RETURNING ${COLUMNS})
       SELECT * FROM updated`,
      [id, stamp.familyId, patch.name ?? null, patch.category ?? null, patch.notes ?? null,
        patch.fileUrl, patch.mimeType, patch.sizeBytes, stamp.now, stamp.version, stamp.userId],
    );
    return toRecord(rows[0]);
  }
}

function toRecord(row: DocumentRow): DocumentRecord {
  return {
    id: row.id,
    familyId: row.family_id,
    name: row.name,
    category: row.category,
    fileUrl: row.file_url,
    mimeType: row.mime_type,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    notes: row.notes,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}
