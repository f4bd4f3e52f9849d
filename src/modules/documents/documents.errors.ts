import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { invalidRequest } from '../../common/errors/invalid-request.js';

/** The documents module's expected failures, one place for their codes and wording (mapped to HTTP by the global filter). */
export const DocumentsErrors = {
  /** Another family's file answers exactly like a missing one. */
  fileNotFound: () => new DomainError(ErrorCode.NOT_FOUND, 'File not found'),
  /** The row exists but its bytes are gone: an operator problem, logged; the caller gets a 404. */
  fileContentMissing: () => new DomainError(ErrorCode.NOT_FOUND, 'File content is not available'),
  /** Another family's (or a deleted) document answers exactly like a missing one. */
  documentNotFound: () => new DomainError(ErrorCode.NOT_FOUND, 'Document not found'),
  /** The upload's family_id is not the caller's family: the phone still holds the family the user left. */
  uploadForAnotherFamily: () =>
    new DomainError(ErrorCode.MEMBERSHIP_CHANGED, 'This upload names a family you are no longer in: sync, then upload again', { membership_changed: true }),
  /** An upload that creates a document without the fields a document needs. */
  documentFieldsMissing: (fields: string[]) =>
    invalidRequest(fields.map((field) => ({ field, errors: [`${field} is required to create a document`] }))),
  /** A multipart request the receiver cannot take: not multipart, no or two files, unknown or too long fields. */
  invalidUpload: (message: string, field?: string) =>
    new DomainError(ErrorCode.INVALID_UPLOAD, message, field ? { fields: [{ field, errors: [message] }] } : undefined),
  fileTooLarge: (maxBytes: number) =>
    new DomainError(ErrorCode.PAYLOAD_TOO_LARGE, `The file is larger than the limit of ${maxBytes} bytes`, { max_bytes: maxBytes }),
  /**
   * The family's stored files would hold more than UPLOAD_FAMILY_MAX_BYTES: 413 (more content than the
   * server will store for this family), told apart from a file over UPLOAD_MAX_BYTES by its code. Not a
   * 507: clients and proxies retry 5xx answers, and retrying cannot help until space is freed.
   */
  storageQuotaExceeded: (maxBytes: number, storedBytes: number) =>
    new DomainError(
      ErrorCode.STORAGE_QUOTA_EXCEEDED,
      `The family's files would take more than its storage limit of ${maxBytes} bytes (${storedBytes} bytes stored). ` +
        "A deleted document's file counts until the server's cleanup removes it",
      { max_bytes: maxBytes, stored_bytes: storedBytes },
    ),
  /** An upload body with a Content-Encoding (RFC 9110 §12.5.3: 415, with Accept-Encoding in the answer). */
  uploadEncodingNotSupported: () =>
    new DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Send the upload uncompressed, without Content-Encoding (the files are compressed already)'),
  emptyFile: () => new DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'The file is empty'),
  typeNotAllowed: (detected: string | null, allowed: readonly string[]) =>
    new DomainError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `Unsupported file type${detected ? ` ${detected}` : ''}: allowed are ${allowed.join(', ')}`,
      { detected, allowed: [...allowed] },
    ),
  /** A download's If-Match or If-Unmodified-Since is not met: the file is not the copy the client names (RFC 9110 §13.1.1, §13.1.4). */
  preconditionFailed: () =>
    new DomainError(ErrorCode.PRECONDITION_FAILED, 'The file is not the copy that If-Match or If-Unmodified-Since names: download it again whole, without them'),
  rangeNotSatisfiable: () => new DomainError(ErrorCode.RANGE_NOT_SATISFIABLE, 'Requested range not satisfiable'),
};
