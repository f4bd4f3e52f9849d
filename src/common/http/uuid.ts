import { Param, ParseUUIDPipe } from '@nestjs/common';
import { invalidField } from '../errors/invalid-request.js';

/**
 * A canonical lower-case UUID, unanchored, for building other patterns (storage keys, file URLs):
 * the server makes ids with randomUUID() and PostgreSQL prints uuids this way.
 */
export const LOWER_CASE_UUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * What PostgreSQL's uuid type parses in its canonical form, in any case: checked before an id
 * reaches a uuid column (path params, token subjects, CLI arguments).
 */
export const ANY_CASE_UUID_PATTERN = new RegExp(`^${LOWER_CASE_UUID_SOURCE}$`, 'i');

/**
 * Ids on the wire (sync records, upload document_id): lower case only, so a pushed id round-trips
 * unchanged (PostgreSQL would store an upper-case one lower-cased, and the phone would then hold
 * the record under an id the server never sends).
 */
export const LOWER_CASE_UUID_PATTERN = new RegExp(`^${LOWER_CASE_UUID_SOURCE}$`);

/** A UUID in any case (see ANY_CASE_UUID_PATTERN). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && ANY_CASE_UUID_PATTERN.test(value);
}

/** A lower-case UUID, as ids on the wire must be (see LOWER_CASE_UUID_PATTERN). */
export function isLowerCaseUuid(value: unknown): value is string {
  return typeof value === 'string' && LOWER_CASE_UUID_PATTERN.test(value);
}

/**
 * A route parameter that must be a UUID; otherwise 400 VALIDATION_FAILED naming the parameter in
 * `details.fields` (Nest's own pipe names nothing). Every route with an id in its path uses this.
 * Any case is accepted and handed on lower-cased, the form of every id the server compares it with:
 * PostgreSQL matches `6F1C…` to `6f1c…`, JavaScript's `===` does not (found by review: the owner's
 * own id in upper case passed the "cannot remove themselves" check, and the owner was removed).
 */
export function UuidParam(name: string): ParameterDecorator {
  return Param(name, new ParseUUIDPipe({ exceptionFactory: () => invalidField(name, `${name} must be a UUID`) }), { transform: (value: string) => value.toLowerCase() });
}
