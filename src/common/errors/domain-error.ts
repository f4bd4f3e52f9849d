import { HttpStatus } from '@nestjs/common';

/**
 * Expected failures carry a code; the global filter maps the code to an HTTP
 * status. Services throw these, never bare Errors or HttpExceptions.
 */
export enum ErrorCode {
  /** Bad input: 400 when the request does not have the shape its route expects (fields named), 422 when a rule refuses a well-formed one. */
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  /** A body or request that cannot be read at all: not JSON, a corrupt compressed body, a body cut short, HTTP framing Node refuses. */
  MALFORMED_REQUEST = 'MALFORMED_REQUEST',
  INVALID_UPLOAD = 'INVALID_UPLOAD',
  RANGE_NOT_SATISFIABLE = 'RANGE_NOT_SATISFIABLE',
  /** A download's If-Match (or If-Unmodified-Since) names another copy than the file (412). */
  PRECONDITION_FAILED = 'PRECONDITION_FAILED',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  INVALID_REFRESH_TOKEN = 'INVALID_REFRESH_TOKEN',
  /** A password-reset token that is unknown, expired, already used, or replaced by a newer one: ask for a new link. */
  INVALID_RESET_TOKEN = 'INVALID_RESET_TOKEN',
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  INVITE_CODE_INVALID = 'INVITE_CODE_INVALID',
  NO_FAMILY = 'NO_FAMILY',
  ALREADY_IN_FAMILY = 'ALREADY_IN_FAMILY',
  OWNER_ONLY = 'OWNER_ONLY',
  /** The owner of a family with other members leaving it (hand the ownership on first). */
  OWNER_HAS_MEMBERS = 'OWNER_HAS_MEMBERS',
  NOT_FOUND = 'NOT_FOUND',
  FORBIDDEN_RECORD = 'FORBIDDEN_RECORD',
  SYNC_CONFLICT = 'SYNC_CONFLICT',
  /** The caller left the family (removed, joined another) while the request was in flight. */
  MEMBERSHIP_CHANGED = 'MEMBERSHIP_CHANGED',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  /** The family's stored files would exceed UPLOAD_FAMILY_MAX_BYTES (413, like a file over UPLOAD_MAX_BYTES): free space, or ask the operator. */
  STORAGE_QUOTA_EXCEEDED = 'STORAGE_QUOTA_EXCEEDED',
  /** The family's rows in the synced tables would exceed SYNC_FAMILY_MAX_RECORDS (413, like the storage quota): ask the operator. */
  RECORD_QUOTA_EXCEEDED = 'RECORD_QUOTA_EXCEEDED',
  RATE_LIMITED = 'RATE_LIMITED',
  /** The server is at capacity for this kind of request right now; `details.retryAfterSeconds` says when to retry. */
  SERVER_BUSY = 'SERVER_BUSY',
  /** The database cannot be reached or is not taking work (a restart, a fail-over, an outage), or ended the request's transaction to resolve a conflict with another; retry after `details.retryAfterSeconds`. */
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  /** Object storage (STORAGE_DRIVER=s3) cannot be reached, did not answer within S3_TIMEOUT_SECONDS, or kept failing, or (STORAGE_DRIVER=local) an upload found the disk below UPLOAD_MIN_FREE_BYTES; retry after `details.retryAfterSeconds`. */
  STORAGE_UNAVAILABLE = 'STORAGE_UNAVAILABLE',
  /** Password reset by email is off on this server (production without SMTP_URL). */
  PASSWORD_RESET_UNAVAILABLE = 'PASSWORD_RESET_UNAVAILABLE',
  FAMILY_SCOPE_MISSING = 'FAMILY_SCOPE_MISSING',
}

const STATUS_BY_CODE: Record<ErrorCode, HttpStatus> = {
  [ErrorCode.VALIDATION_FAILED]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCode.MALFORMED_REQUEST]: HttpStatus.BAD_REQUEST,
  [ErrorCode.INVALID_UPLOAD]: HttpStatus.BAD_REQUEST,
  [ErrorCode.RANGE_NOT_SATISFIABLE]: HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
  [ErrorCode.PRECONDITION_FAILED]: HttpStatus.PRECONDITION_FAILED,
  [ErrorCode.INVALID_CREDENTIALS]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.UNAUTHENTICATED]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.INVALID_REFRESH_TOKEN]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.INVALID_RESET_TOKEN]: HttpStatus.UNAUTHORIZED,
  [ErrorCode.EMAIL_TAKEN]: HttpStatus.CONFLICT,
  [ErrorCode.INVITE_CODE_INVALID]: HttpStatus.NOT_FOUND,
  [ErrorCode.NO_FAMILY]: HttpStatus.FORBIDDEN,
  [ErrorCode.ALREADY_IN_FAMILY]: HttpStatus.CONFLICT,
  [ErrorCode.OWNER_ONLY]: HttpStatus.FORBIDDEN,
  [ErrorCode.OWNER_HAS_MEMBERS]: HttpStatus.CONFLICT,
  [ErrorCode.NOT_FOUND]: HttpStatus.NOT_FOUND,
  [ErrorCode.FORBIDDEN_RECORD]: HttpStatus.FORBIDDEN,
  [ErrorCode.SYNC_CONFLICT]: HttpStatus.CONFLICT,
  [ErrorCode.MEMBERSHIP_CHANGED]: HttpStatus.CONFLICT,
  [ErrorCode.PAYLOAD_TOO_LARGE]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  [ErrorCode.STORAGE_QUOTA_EXCEEDED]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.RECORD_QUOTA_EXCEEDED]: HttpStatus.PAYLOAD_TOO_LARGE,
  [ErrorCode.RATE_LIMITED]: HttpStatus.TOO_MANY_REQUESTS,
  [ErrorCode.SERVER_BUSY]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.DATABASE_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.STORAGE_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCode.PASSWORD_RESET_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  // Reaching a scoped query without a family is a programming error: fail closed, loudly.
  [ErrorCode.FAMILY_SCOPE_MISSING]: HttpStatus.INTERNAL_SERVER_ERROR,
};

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get status(): HttpStatus {
    return STATUS_BY_CODE[this.code];
  }
}
