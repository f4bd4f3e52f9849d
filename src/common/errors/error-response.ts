import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { STORAGE_RETRY_AFTER_SECONDS } from '../../modules/documents/storage/file-storage.js';
import { ErrorCode } from './domain-error.js';

/** One field (body property, query or path parameter, multipart field) at fault, with every rule it broke. */
@ApiSchema({ name: 'FieldError' })
export class FieldErrorResponse {
  @ApiProperty({ example: 'email', description: 'The field, dotted for nested ones (`members.0.email`)' })
  field: string;

  @ApiProperty({ type: [String], example: ['email must be an email'] })
  errors: string[];
}

/** One invalid value of a sync push: which table, which record, which column (SyncErrors.invalid). */
@ApiSchema({ name: 'SyncFieldError' })
export class SyncFieldErrorResponse {
  @ApiProperty({ example: 'transfusions' })
  table: string;

  @ApiProperty({ type: String, nullable: true, example: '0b6f1e9a-5c1d-4a57-9f0e-2f4c2d6a7b10', description: 'The record, or null when it has no usable id' })
  id: string | null;

  @ApiProperty({ example: 'volume_ml' })
  field: string;

  @ApiProperty({ example: 'must be a finite number' })
  message: string;
}

/** Record ids per sync table, as 403 FORBIDDEN_RECORD and 409 SYNC_CONFLICT list them. */
const IDS_BY_TABLE = {
  type: 'object',
  additionalProperties: { type: 'array', items: { type: 'string', format: 'uuid' } },
  example: { transfusions: ['0b6f1e9a-5c1d-4a57-9f0e-2f4c2d6a7b10'] },
} as const;

/**
 * `details` of an error: always a machine-readable `code`, then the keys of that error (each key
 * says when it is present). Every key any error sets is listed here, generated from what the code
 * throws (src/common/errors, src/common/http, src/modules/*\/*.errors.ts).
 */
@ApiSchema({ name: 'ErrorDetails' })
export class ErrorDetailsResponse {
  @ApiProperty({
    enum: Object.values(ErrorCode),
    example: ErrorCode.VALIDATION_FAILED,
    description:
      'What went wrong, for programs (the message is for people); present on every 4xx answer and on a 503 SERVER_BUSY, ' +
      'DATABASE_UNAVAILABLE (any route that reads the database), STORAGE_UNAVAILABLE (upload and download: object storage ' +
      'unreachable or not answering; an upload: the local disk below UPLOAD_MIN_FREE_BYTES) or PASSWORD_RESET_UNAVAILABLE. ' +
      'FAMILY_SCOPE_MISSING is a programming error: it is answered as a bare 500, without details',
  })
  code: ErrorCode;

  @ApiPropertyOptional({
    type: [FieldErrorResponse],
    description:
      'Every field at fault: 400 VALIDATION_FAILED (a body, query or path parameter without the shape the route expects), ' +
      '400 INVALID_UPLOAD (the multipart field at fault, when there is one), 422 VALIDATION_FAILED of DELETE /families/me/members/{userId} ' +
      '(the owner removing themselves), of POST /families/me/owner (user_id is the caller) and of POST /auth/change-password ' +
      '(new_password equals current_password)',
  })
  fields?: FieldErrorResponse[];

  @ApiPropertyOptional({
    type: 'integer',
    example: 42,
    description:
      'Seconds to wait before trying again, the same value as the Retry-After header: 429 RATE_LIMITED (until the rate window resets: ' +
      'the auth limits, or new installations of GET and POST /api/v1/sync), ' +
      '503 SERVER_BUSY (GET /api/v1/sync: too many full pulls running), 503 DATABASE_UNAVAILABLE (the database is down, ' +
      'restarting, not taking work or ending the request to resolve conflicts: 5 s) and 503 STORAGE_UNAVAILABLE (POST /api/v1/upload, GET /api/v1/files/{id}: object storage ' +
      `unreachable or not answering, or the local disk below UPLOAD_MIN_FREE_BYTES: ${STORAGE_RETRY_AFTER_SECONDS} s)`,
  })
  retryAfterSeconds?: number;

  @ApiPropertyOptional({
    type: 'integer',
    format: 'int64',
    example: 1048576,
    description:
      '413 PAYLOAD_TOO_LARGE: the limit the body or uploaded file went over, in bytes; 413 STORAGE_QUOTA_EXCEEDED: the family\'s storage limit (UPLOAD_FAMILY_MAX_BYTES)',
  })
  max_bytes?: number;

  @ApiPropertyOptional({ type: 'integer', format: 'int64', example: 10737000000, description: '413 STORAGE_QUOTA_EXCEEDED: the bytes of the family\'s stored files, before this upload' })
  stored_bytes?: number;

  @ApiPropertyOptional({ type: 'integer', example: 1000000, description: '413 RECORD_QUOTA_EXCEEDED: the family\'s record limit (SYNC_FAMILY_MAX_RECORDS)' })
  max_records?: number;

  @ApiPropertyOptional({
    type: 'integer',
    example: 999998,
    description: '413 RECORD_QUOTA_EXCEEDED: the family\'s records before this push or upload, deleted ones included (a deletion keeps a tombstone)',
  })
  stored_records?: number;

  @ApiPropertyOptional({ type: 'integer', example: 3, description: '413 RECORD_QUOTA_EXCEEDED: the records this push or upload would have created' })
  new_records?: number;

  @ApiPropertyOptional({ example: 'transfusions', description: '422 VALIDATION_FAILED of a sync push: the table of the first invalid record (all of them: `errors`)' })
  table?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '0b6f1e9a-5c1d-4a57-9f0e-2f4c2d6a7b10',
    description: '422 VALIDATION_FAILED of a sync push: the id of the first invalid record, null when it has no usable id',
  })
  id?: string | null;

  @ApiPropertyOptional({
    example: 'volume_ml',
    description:
      'The one field at fault, on sync routes: 422 VALIDATION_FAILED of a push, the first invalid column (with `table` and `id`); ' +
      '422 VALIDATION_FAILED of an invalid parameter (`X-Device-Id`, `migration`, or a push body property: `body`, `lastPulledAt`, an unknown one); ' +
      '409 SYNC_CONFLICT, `last_pulled_at` when the push cursor is later than the family\'s version',
  })
  field?: string;

  @ApiPropertyOptional({
    type: [SyncFieldErrorResponse],
    description: '422 VALIDATION_FAILED of a sync push: every invalid value found (at most 50), the first being the one in `table`, `id`, `field`',
  })
  errors?: SyncFieldErrorResponse[];

  @ApiPropertyOptional({
    ...IDS_BY_TABLE,
    description:
      '409 SYNC_CONFLICT: per table, the pushed records that changed on the server after last_pulled_at (pull, then push again); ' +
      'empty ({}) when the conflict is the cursor (`field`) or a membership change (`membership_changed`)',
  })
  conflicts?: Record<string, string[]>;

  @ApiPropertyOptional({
    ...IDS_BY_TABLE,
    description: '403 FORBIDDEN_RECORD: per table, the pushed ids (or ids referred to) that belong to another family; nothing was applied',
  })
  ids?: Record<string, string[]>;

  @ApiPropertyOptional({
    example: true,
    description:
      'Always true when present: the caller left the family (removed, or joined another) while the request was in flight, and nothing was written. ' +
      '409 MEMBERSHIP_CHANGED on REST routes, 409 SYNC_CONFLICT on sync routes',
  })
  membership_changed?: boolean;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: 'image/heic',
    description: '415 UNSUPPORTED_MEDIA_TYPE of an upload: the type detected from the file\'s bytes, null when none was recognised (absent for an empty file)',
  })
  detected?: string | null;

  @ApiPropertyOptional({
    type: [String],
    example: ['application/pdf', 'image/jpeg', 'image/png'],
    description: '415 UNSUPPORTED_MEDIA_TYPE of an upload: the types this server accepts (UPLOAD_ALLOWED_TYPES)',
  })
  allowed?: string[];
}

/** The one JSON shape of every error response. */
export class ErrorResponse {
  @ApiProperty({ type: 'integer', example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'Bad Request' })
  error: string;

  @ApiProperty({ example: 'email must be an email' })
  message: string;

  @ApiPropertyOptional({
    type: ErrorDetailsResponse,
    example: { code: 'VALIDATION_FAILED', fields: [{ field: 'email', errors: ['email must be an email'] }] },
    description:
      'Present on every 4xx answer, on a 503 SERVER_BUSY (GET /api/v1/sync, with retryAfterSeconds), on a 503 ' +
      'DATABASE_UNAVAILABLE (any route that reads the database, with retryAfterSeconds), on a 503 STORAGE_UNAVAILABLE ' +
      '(upload and download: object storage unreachable, or the local disk below UPLOAD_MIN_FREE_BYTES; with retryAfterSeconds) and on a ' +
      '503 PASSWORD_RESET_UNAVAILABLE (POST /api/v1/auth/forgot-password: no mail server); ' +
      'absent on a 500 (it says nothing, on purpose) and on the health check\'s 503',
  })
  details?: ErrorDetailsResponse;
}
