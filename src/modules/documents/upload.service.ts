import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { assertStillMemberOutsideVersionedWrite } from '../../common/family-scope/membership.js';
import { invalidRequest } from '../../common/errors/invalid-request.js';
import { discardUnreadBody } from '../../common/http/discard-body.js';
import { flattenValidationErrors } from '../../common/http/validation.js';
import { FamilyVersionService, type VersionedWrite } from '../../common/versioning/family-version.service.js';
import { uploadConfig } from '../../config/configuration.js';
import { writeStamp, type WriteStamp } from '../sync/write-stamp.js';
import { sanitizeFileName } from './content-disposition.js';
import { DocumentRecordsRepository, type DocumentRecord } from './document-records.repository.js';
import { DocumentsErrors } from './documents.errors.js';
import { MAX_DOCUMENT_NOTES_LENGTH, UPLOAD_FIELD_NAMES, UploadDocumentFieldsDto } from './dto/upload-document-fields.dto.js';
import { UploadLimitsResponse } from './dto/upload-limits.response.js';
import { UploadResponse } from './dto/upload.response.js';
import { fileUrlOf } from './file-url.js';
import type { FileEntity } from './entities/file.entity.js';
import { FilesRepository } from './files.repository.js';
import { declaresFileOver, receiveMultipart } from './multipart-receiver.js';
import { FILE_STORAGE, type FileStorage, StorageUnavailableError } from './storage/file-storage.js';
import { type InspectedFile, UploadInspector } from './upload-inspector.js';

/** Bytes of the multipart fields next to the file (notes are the longest: up to 4 bytes a character). */
const MAX_FIELD_BYTES = MAX_DOCUMENT_NOTES_LENGTH * 4;

/**
 * POST /api/v1/upload: streams the file to storage under a server-generated
 * key while checking type and size, then records it (and, with document
 * fields, the document) in the database. Any failure after bytes were stored
 * deletes them again: a rejected upload leaves nothing behind.
 */
@Injectable()
export class UploadService {
  private readonly logger = new Logger(UploadService.name);
  private readonly allowedTypes: ReadonlySet<string>;

  constructor(
    @Inject(uploadConfig.KEY) private readonly config: ConfigType<typeof uploadConfig>,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    private readonly files: FilesRepository,
    private readonly documents: DocumentRecordsRepository,
    private readonly versions: FamilyVersionService,
    private readonly familyContext: FamilyContext,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.allowedTypes = new Set(config.allowedTypes);
  }

  /** GET /api/v1/upload/limits: the limits the next upload of the caller's family meets. */
  async limits(): Promise<UploadLimitsResponse> {
    const stored = await this.files.bytesStored();
    return {
      max_file_bytes: this.config.maxBytes,
      allowed_types: [...this.config.allowedTypes],
      family_max_bytes: this.config.familyMaxBytes,
      family_stored_bytes: stored,
      family_available_bytes: Math.max(0, this.config.familyMaxBytes - stored),
    };
  }

  async upload(req: Request): Promise<UploadResponse> {
    const scope = this.familyContext.require();
    const fileId = randomUUID();
    const key = `${scope.familyId}/${fileId}`;
    let stored: Promise<InspectedFile> | undefined;
    // Set as COMMIT is sent: a failure after it may be a commit that happened unacknowledged (a
    // connection lost at COMMIT), and its row needs the bytes. Not earlier: a versioned write is still
    // checked after its work is done (the record limit), and a write refused there is rolled back.
    let committing = false;
    // A family already at its storage limit, or a file declared larger than what is left of it, is
    // refused before the file is stored (an upload from a phone may take minutes); the limit itself is
    // enforced when the file is recorded (insertWithinQuota), where concurrent uploads take turns.
    const familyBytes = await this.files.bytesStored();
    const room = this.config.familyMaxBytes - familyBytes;
    if (room <= 0 || declaresFileOver(req, room)) {
      // A body of a few MiB is read and dropped first, as after any refusal midway: a phone still
      // sending it would report a broken connection, not our answer. A longer one is not read at all.
      await discardUnreadBody(req);
      throw DocumentsErrors.storageQuotaExceeded(this.config.familyMaxBytes, familyBytes);
    }
    try {
      const received = await receiveMultipart(
        req,
        { maxFileBytes: this.config.maxBytes, fieldNames: UPLOAD_FIELD_NAMES, maxFieldBytes: MAX_FIELD_BYTES },
        {
          // Fields sent before the file (the usual order) are checked before a byte is stored.
          beforeFile: (fieldsSoFar) => this.refuseDocumentBeforeFile(scope.familyId, validateFields(fieldsSoFar, scope.familyId)),
          handleFile: (stream) => (stored = this.store(key, stream)),
        },
      );
      const fields = validateFields(received.fields, scope.familyId);
      const file: Partial<FileEntity> = {
        id: fileId,
        storageKey: key,
        mimeType: received.file.mimeType,
        sizeBytes: received.file.sizeBytes,
        sha256: received.file.sha256,
        originalName: sanitizeFileName(received.info.filename),
        createdBy: scope.userId,
      };
      if (!hasDocumentFields(fields)) {
        // Not a versioned write (files are not synced), but still only for a caller who is, now, the
        // member the request began as: an upload can outlive a removal or a join by minutes.
        const saved = await this.dataSource.transaction(async (manager) => {
          await assertStillMemberOutsideVersionedWrite(manager, scope);
          const inserted = await this.files.withManager(manager).insertWithinQuota(file, this.config.familyMaxBytes);
          committing = true;
          return inserted;
        });
        this.logger.log({ fileId, sizeBytes: saved.sizeBytes, mimeType: saved.mimeType }, 'file uploaded');
        return UploadResponse.from(saved);
      }
      const { result } = await this.versions.write(async (write) => {
        const saved = await this.files.withManager(write.manager).insertWithinQuota(file, this.config.familyMaxBytes);
        // No device: the uploaded document is pulled as `created` by every device (see DocumentRecordsRepository).
        const document = await this.writeDocument(write, writeStamp(write, scope.userId, null), fields, saved);
        return { saved, document };
      }, { committing: () => void (committing = true) });
      this.logger.log({ fileId, documentId: result.document.id, sizeBytes: result.saved.sizeBytes }, 'file uploaded with document');
      return UploadResponse.from(result.saved, result.document);
    } catch (error) {
      if (stored && committing) {
        // Whether the row exists is unknown: keep the bytes. Without a row, the orphan sweep removes them.
        this.logger.error({ err: error, fileId, key }, 'upload failed at commit; its stored object is kept');
      } else if (stored) {
        // Wait for the driver to stop writing before removing what it may have written.
        const storeFailure = await stored.then(
          () => undefined,
          (e: unknown) => e,
        );
        // Unless the store is not answering: a delete would wait as long again before the caller gets its
        // 503, and fail too. What landed, if anything, has no row: the orphan sweep removes it.
        if (!(storeFailure instanceof StorageUnavailableError)) {
          await this.storage.delete(key).catch((e: unknown) => this.logger.error({ err: e, key }, 'could not remove a rejected upload'));
        }
      }
      throw error;
    }
  }

  /**
   * Before the file is stored, what the fields so far already decide, rather than after minutes of
   * upload: a `document_id` of another family, or of a deleted document, answers 404 (as writeDocument
   * would once the file is stored: found by review, the whole file was received and written first);
   * one that names no document yet, in a family with no room for one more record, 413
   * RECORD_QUOTA_EXCEEDED. Without a `document_id` (yet) nothing is refused here: one may still come
   * after the file and name an existing document, which the upload then updates, whatever the limit.
   * Read without the family's lock: the checks in the write (writeDocument, the commit) are the ones that hold.
   */
  private async refuseDocumentBeforeFile(familyId: string, fields: UploadDocumentFieldsDto): Promise<void> {
    if (fields.document_id === undefined) return;
    const owner = await this.documents.ownerOf(this.dataSource.manager, fields.document_id);
    if (owner && (owner.familyId !== familyId || owner.deleted)) throw DocumentsErrors.documentNotFound();
    if (owner) return;
    await this.versions.assertRecordRoomNow(familyId, 1);
  }

  private async store(key: string, stream: Readable): Promise<InspectedFile> {
    const inspector = new UploadInspector(this.config.maxBytes, this.allowedTypes);
    stream.once('error', (error) => inspector.destroy(error));
    // The driver may attach to the body only after an await (e.g. mkdir); an error emitted before that
    // must not crash the process. The driver still sees it: its pipeline fails on the errored stream.
    inspector.on('error', () => undefined);
    stream.pipe(inspector);
    await this.storage.put(key, inspector);
    return inspector.result();
  }

  private async writeDocument(
    write: VersionedWrite,
    stamp: WriteStamp,
    fields: UploadDocumentFieldsDto,
    file: FileEntity,
  ): Promise<DocumentRecord> {
    const { manager } = write;
    const fileFields = { fileUrl: fileUrlOf(file.id), mimeType: file.mimeType, sizeBytes: file.sizeBytes };
    const existing = fields.document_id ? await this.documents.lockById(manager, fields.document_id) : null;
    if (existing) {
      // Another family's document answers exactly like a missing one would on a read: 404.
      if (existing.familyId !== stamp.familyId || existing.deletedAt !== null) {
        throw DocumentsErrors.documentNotFound();
      }
      return this.documents.updateFile(manager, stamp, existing.id, {
        name: fields.name,
        category: fields.category,
        notes: fields.notes,
        ...fileFields,
      });
    }
    if (!fields.name || !fields.category) {
      throw DocumentsErrors.documentFieldsMissing((['name', 'category'] as const).filter((field) => !fields[field]));
    }
    const created = await this.documents.insert(manager, stamp, {
      id: fields.document_id ?? randomUUID(),
      name: fields.name,
      category: fields.category,
      notes: fields.notes ?? null,
      ...fileFields,
    });
    if (!created) throw DocumentsErrors.documentNotFound();
    // Within the family's record limit, like a push (else 413 at the commit, and the stored file is removed;
    // with its document_id before the file, refuseDocumentBeforeFile answered it before the file).
    write.addRecords(1);
    return created;
  }
}

function hasDocumentFields(fields: UploadDocumentFieldsDto): boolean {
  return [fields.document_id, fields.name, fields.category, fields.notes].some((v) => v !== undefined);
}

/**
 * Each field on its own (all are optional here; what a new document requires is checked with the
 * database), and a `family_id` other than the caller's family: the phone holds another family's data.
 */
function validateFields(raw: Readonly<Record<string, string>>, familyId: string): UploadDocumentFieldsDto {
  const dto = plainToInstance(UploadDocumentFieldsDto, { ...raw });
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) throw invalidRequest(flattenValidationErrors(errors));
  if (dto.family_id !== undefined && dto.family_id !== familyId) throw DocumentsErrors.uploadForAnotherFamily();
  return dto;
}
