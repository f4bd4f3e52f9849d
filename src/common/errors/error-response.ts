import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiPayloadTooLargeResponse, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/** One field (body property, query or path parameter) at fault, with every rule it broke. */
@ApiSchema({ name: 'FieldError' })
export class FieldErrorResponse {
  @ApiProperty({ example: 'email', description: 'The field, dotted for nested ones (`members.0.email`)' })
  field: string;

  @ApiProperty({ type: [String], example: ['email must be an email'] })
  errors: string[];
}

/**
 * `details` of an error: always a machine-readable `code`; validation errors name the fields at
 * fault; a 429 says when to retry. Routes add their own keys (sync: `table`, `id`, `field`,
 * `errors`, `ids`, `conflicts`), described on those routes.
 */
@ApiSchema({ name: 'ErrorDetails' })
export class ErrorDetailsResponse {
  @ApiProperty({
    example: 'VALIDATION_FAILED',
    description:
      'VALIDATION_FAILED, INVALID_CREDENTIALS, UNAUTHENTICATED, INVALID_REFRESH_TOKEN, EMAIL_TAKEN, INVITE_CODE_INVALID, NO_FAMILY, ' +
      'ALREADY_IN_FAMILY, OWNER_ONLY, NOT_FOUND, FORBIDDEN_RECORD, SYNC_CONFLICT, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, … ' +
      "or a body parser's code (entity.parse.failed, encoding.unsupported)",
  })
  code: string;

  @ApiPropertyOptional({ type: [FieldErrorResponse], description: 'Validation errors (400/422): every field at fault' })
  fields?: FieldErrorResponse[];

  @ApiPropertyOptional({ example: 42, description: 'Rate limited (429): seconds until the window resets, as in Retry-After' })
  retryAfterSeconds?: number;

  @ApiPropertyOptional({ example: 1048576, description: 'Too large (413): the limit, in bytes' })
  max_bytes?: number;
}

/** The one JSON shape of every error response. */
export class ErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'Bad Request' })
  error: string;

  @ApiProperty({ example: 'email must be an email' })
  message: string;

  @ApiPropertyOptional({
    type: ErrorDetailsResponse,
    example: { code: 'VALIDATION_FAILED', fields: [{ field: 'email', errors: ['email must be an email'] }] },
    description: 'Absent only on errors without a code (e.g. 401 from a missing token, 500)',
  })
  details?: ErrorDetailsResponse;
}

/**
 * The errors every JSON-body route can answer before its handler runs: 400 (malformed JSON,
 * missing, unknown or mistyped fields, each named in `details.fields`) and 413 (body too large).
 */
export function ApiJsonBodyErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBadRequestResponse({ type: ErrorResponse, description: 'Malformed JSON, or missing, unknown or mistyped fields (named in details.fields)' }),
    ApiPayloadTooLargeResponse({ type: ErrorResponse, description: 'Body larger than BODY_LIMIT_BYTES' }),
  );
}
