import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiPayloadTooLargeResponse, ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { ErrorCode } from './domain-error.js';

/** One field (body property, query or path parameter, multipart field) at fault, with every rule it broke. */
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
    enum: Object.values(ErrorCode),
    example: ErrorCode.VALIDATION_FAILED,
    description: 'What went wrong, for programs (the message is for people); present on every 4xx answer',
  })
  code: ErrorCode;

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
    description: 'Present on every 4xx answer; absent on 5xx (500 says nothing on purpose; 503 is the health check)',
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
