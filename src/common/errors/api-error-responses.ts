import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiPayloadTooLargeResponse,
  ApiResponse,
  ApiServiceUnavailableResponse,
  ApiTooManyRequestsResponse,
  ApiUnsupportedMediaTypeResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { SUPPORTED_CONTENT_ENCODINGS } from '../http/body-errors.js';
import { ErrorResponse } from './error-response.js';

// These decorators are named Api…Error(s), never Api…Response: the Swagger plugin takes an
// `Api<Name>Response` whose name is not an HTTP error status as the route's own success response,
// and then stops documenting the 200 it derives from the handler's return type.

/** The Retry-After header of a 429 or 503, the same value as `details.retryAfterSeconds`. */
const RETRY_AFTER_HEADER = {
  'Retry-After': { description: 'Seconds to wait before trying again (as details.retryAfterSeconds)', schema: { type: 'integer', minimum: 1 } },
};

/**
 * The errors every JSON-body route can answer before its handler runs (JsonBodyMiddleware, then
 * the ValidationPipe): 400, 413 and 415. `badRequest` and `tooLarge` replace the wording of a
 * route whose body is checked elsewhere (the sync push) or has its own limit; `alsoTooLarge` adds
 * the route's own 413 (one description per status).
 */
export function ApiJsonBodyErrors(options: { badRequest?: string; tooLarge?: string; alsoTooLarge?: string } = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBadRequestResponse({
      type: ErrorResponse,
      description:
        options.badRequest ??
        'A body that is not valid JSON or not UTF-8, is cut short or does not decode (MALFORMED_REQUEST), or missing, unknown or mistyped fields (VALIDATION_FAILED, named in details.fields)',
    }),
    ApiPayloadTooLargeResponse({
      type: ErrorResponse,
      description: `${options.tooLarge ?? 'Body larger than BODY_LIMIT_BYTES'} (PAYLOAD_TOO_LARGE, the limit in details.max_bytes)${options.alsoTooLarge ? `; ${options.alsoTooLarge}` : ''}`,
    }),
    ApiUnsupportedMediaTypeResponse({
      type: ErrorResponse,
      description:
        'A body whose Content-Type is not application/json, whose Content-Encoding is not one of ' +
        `${SUPPORTED_CONTENT_ENCODINGS.join(', ')} (or none), or whose charset is not a UTF one (UNSUPPORTED_MEDIA_TYPE); nothing of it is used`,
    }),
  );
}

/**
 * 429 of a rate-limited route (AuthRateLimitGuard; the sync routes' new installations: `what` says what was too many).
 * Every 429 carries Retry-After (a 503's only for some causes): documented as required.
 */
export function ApiRateLimitedError(what = 'Too many attempts'): MethodDecorator & ClassDecorator {
  return ApiTooManyRequestsResponse({
    type: ErrorResponse,
    headers: { 'Retry-After': { ...RETRY_AFTER_HEADER['Retry-After'], required: true } },
    description: `${what} (RATE_LIMITED): retry after Retry-After seconds (also details.retryAfterSeconds)`,
  });
}

const DATABASE_UNAVAILABLE =
  'the database is unreachable, did not answer in time, or kept ending the request to resolve conflicts with others (DATABASE_UNAVAILABLE): retry after Retry-After seconds (also details.retryAfterSeconds)';

/**
 * The 503 every route can answer (every route reads the database, if only to check the caller's
 * membership), as a global response of the document: a route that documents a 503 of its own
 * names both causes through `ApiServiceUnavailableError`.
 */
export const DATABASE_UNAVAILABLE_RESPONSE = {
  status: 503,
  type: ErrorResponse,
  headers: RETRY_AFTER_HEADER,
  description: DATABASE_UNAVAILABLE.charAt(0).toUpperCase() + DATABASE_UNAVAILABLE.slice(1),
};

/**
 * A route's own 503 besides DATABASE_UNAVAILABLE, which it replaces in the document, so both are
 * described. `retryAfter`: the route's own cause also comes with Retry-After (SERVER_BUSY).
 */
export function ApiServiceUnavailableError(description: string, options: { retryAfter?: boolean } = {}): MethodDecorator & ClassDecorator {
  return ApiServiceUnavailableResponse({
    type: ErrorResponse,
    headers: RETRY_AFTER_HEADER,
    description: `${description}; or ${DATABASE_UNAVAILABLE}${options.retryAfter ? '' : ' (Retry-After comes with this one only)'}`,
  });
}

/**
 * 503 STORAGE_UNAVAILABLE of a route that reads or writes stored files (upload, download), besides
 * DATABASE_UNAVAILABLE; both come with Retry-After. JSON whatever the route produces on success (the
 * download's successes are the file's own type). Each operation has its own causes: only an upload
 * writes (the free-space check) and records something (the document and its file) it could leave half done.
 */
export function ApiStorageUnavailableError(operation: 'upload' | 'download'): MethodDecorator & ClassDecorator {
  const cause =
    operation === 'upload'
      ? 'Object storage (STORAGE_DRIVER=s3) is unreachable, gave no answer within S3_TIMEOUT_SECONDS, or kept failing, or (STORAGE_DRIVER=local) ' +
        'an upload found less free disk space than UPLOAD_MIN_FREE_BYTES (STORAGE_UNAVAILABLE): ' +
        'retry after Retry-After seconds (also details.retryAfterSeconds); nothing was recorded'
      : 'Object storage (STORAGE_DRIVER=s3) is unreachable, gave no answer within S3_TIMEOUT_SECONDS, or kept failing when the file ' +
        'was opened (STORAGE_UNAVAILABLE; a failure once the file is streaming cuts the connection instead): retry after Retry-After ' +
        'seconds (also details.retryAfterSeconds); the file is still stored (a download changes nothing)';
  return ApiResponse({
    status: 503,
    headers: RETRY_AFTER_HEADER,
    content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponse) } } },
    description: `${cause}; or ${DATABASE_UNAVAILABLE}`,
  });
}

/** 503 SERVER_BUSY: the server is at capacity for this kind of request; details and Retry-After say when to retry. */
export function ApiServerBusyError(description: string): MethodDecorator & ClassDecorator {
  return ApiServiceUnavailableError(`${description} (SERVER_BUSY): retry after Retry-After seconds (also details.retryAfterSeconds)`, { retryAfter: true });
}

/**
 * 409 MEMBERSHIP_CHANGED of a REST route that re-checks the caller's membership (membership.ts):
 * removed from the family or moved to another while the request was in flight.
 */
export function ApiMembershipChangedError(): MethodDecorator & ClassDecorator {
  return ApiConflictResponse({
    type: ErrorResponse,
    description:
      'The caller\'s family membership changed (removed, left, joined another family; for an owner-only request, ' +
      'handed the ownership on) while the request was in flight ' +
      '(MEMBERSHIP_CHANGED, details.membership_changed): reload and try again',
  });
}
