import { HttpStatus } from '@nestjs/common';
import { DomainError, ErrorCode } from './domain-error.js';

/** One field (body property, query or path parameter, multipart field) at fault, with every rule it broke. */
export interface FieldError {
  field: string;
  errors: string[];
}

/**
 * VALIDATION_FAILED for a request that does not have the shape its route expects: 400. The same
 * code raised by a rule refusing a well-formed request (an invalid sync record, the owner removing
 * themselves) is a plain DomainError and maps to 422.
 */
export class InvalidRequestError extends DomainError {
  constructor(
    readonly fields: FieldError[],
    message: string,
  ) {
    super(ErrorCode.VALIDATION_FAILED, message, { fields });
    this.name = 'InvalidRequestError';
  }

  override get status(): HttpStatus {
    return HttpStatus.BAD_REQUEST;
  }
}

/**
 * The one 400 for bad input, whoever finds it (the ValidationPipe, a path parameter, the body
 * parser's text check, the upload's multipart fields):
 * `{ message, details: { code: 'VALIDATION_FAILED', fields: [{ field, errors }] } }`.
 * The message joins every error, so a client that only shows `message` still says what is wrong.
 */
export function invalidRequest(fields: FieldError[], message?: string): InvalidRequestError {
  return new InvalidRequestError(fields, message ?? (fields.flatMap((f) => f.errors).join('; ') || 'Invalid request'));
}

/** invalidRequest naming the one field at fault. */
export function invalidField(field: string, message: string): InvalidRequestError {
  return invalidRequest([{ field, errors: [message] }], message);
}
