import { Param, ParseUUIDPipe } from '@nestjs/common';
import { invalidField } from '../errors/invalid-request.js';

/** What PostgreSQL's uuid type parses in its canonical form: checked before an id reaches a uuid column. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * A route parameter that must be a UUID; otherwise 400 VALIDATION_FAILED naming the parameter in
 * `details.fields` (Nest's own pipe names nothing). Every route with an id in its path uses this.
 */
export function UuidParam(name: string): ParameterDecorator {
  return Param(name, new ParseUUIDPipe({ exceptionFactory: () => invalidField(name, `${name} must be a UUID`) }));
}
