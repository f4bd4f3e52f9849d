import { BadRequestException, Param, ParseUUIDPipe } from '@nestjs/common';
import type { FieldError } from './validation.js';

/** What PostgreSQL's uuid type parses in its canonical form: checked before an id reaches a uuid column. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * A 400 in the shape the ValidationPipe uses for bodies, naming the one field at fault:
 * `details: { code: 'VALIDATION_FAILED', fields: [{ field, errors }] }`.
 */
export function invalidField(field: string, message: string): BadRequestException {
  const fields: FieldError[] = [{ field, errors: [message] }];
  return new BadRequestException({ message, details: { code: 'VALIDATION_FAILED', fields } });
}

/** A route parameter that must be a UUID; otherwise 400 naming the parameter (Nest's own pipe names nothing). */
export function UuidParam(name: string): ParameterDecorator {
  return Param(name, new ParseUUIDPipe({ exceptionFactory: () => invalidField(name, `${name} must be a UUID`) }));
}
