import { type ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { echoed } from '../errors/echoed-name.js';
import { invalidRequest, type FieldError } from '../errors/invalid-request.js';
import { DROPPED_NAMES } from './refused-body-value.js';

/**
 * class-validator's errors as the 400 lists them, one per field (`a.b.c`) with every rule it broke.
 * A property name is repeated cut (echoed): an unknown one is the client's, of any length.
 */
export function flattenValidationErrors(errors: ValidationError[], prefix = ''): FieldError[] {
  return errors.flatMap((error) => {
    const name = echoed(error.property);
    const field = prefix ? `${prefix}.${name}` : name;
    // "property <name> should not exist": the name the message repeats is cut as well.
    const messages = brokenRules(error).map((m) => (name === error.property ? m : m.split(error.property).join(name)));
    const own = error.constraints ? [{ field, errors: messages }] : [];
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/**
 * class-validator's rules of a string's length or pattern: a value that is not a string breaks each of
 * them (MaxCharacters, ours, leaves such a value to @IsString instead).
 */
const STRING_RULES = new Set(['maxLength', 'minLength', 'isLength', 'matches']);

/**
 * The messages of the rules a value broke. A value that is not a number breaks its range too, and
 * `last_pulled_at=0x10` was answered "must not be greater than 9007199254740991; must not be less
 * than 0; must be an integer written in decimal digits": only the last is the problem, as the
 * configuration's check says of `PORT=abc` (validateEnv). Likewise a value that is not a string,
 * where a rule says it must be one (IsString, IsEmail): `email: null` was answered "email must be
 * shorter than or equal to 320 characters; email must be an email" (found by review).
 */
function brokenRules(error: ValidationError): string[] {
  const constraints = error.constraints ?? {};
  if (constraints.isInt && typeof error.value !== 'number') return [constraints.isInt];
  if ((constraints.isString || constraints.isEmail) && typeof error.value !== 'string') {
    return Object.entries(constraints).filter(([rule]) => !STRING_RULES.has(rule)).map(([, message]) => message);
  }
  return Object.values(constraints);
}

/**
 * The ValidationPipe, refusing first a query parameter named after a member of Object.prototype
 * (`?toString=1`, `?__proto__=1`): class-transformer drops such a name before the whitelist sees it, so
 * it was ignored where any other unknown parameter is refused. A body's are refused before the guards
 * (findRefusedValue), at any depth.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query' && value !== null && typeof value === 'object') {
      const dropped = Object.keys(value).filter((key) => DROPPED_NAMES.has(key));
      if (dropped.length) throw invalidRequest(dropped.map((key) => ({ field: key, errors: [`property ${key} should not exist`] })));
    }
    return super.transform(value, metadata);
  }
}

/** Unknown fields are rejected, values are converted to the DTO types, and the 400 names every bad field. */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => invalidRequest(flattenValidationErrors(errors)),
  });
}
