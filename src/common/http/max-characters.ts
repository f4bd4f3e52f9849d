import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { ValidateBy, type ValidationArguments } from 'class-validator';

/**
 * A string of at most `max` characters as PostgreSQL's varchar(n) counts them: code points. Use it
 * instead of class-validator's MaxLength for a field stored in such a column: MaxLength counts a
 * character followed by a variation selector (❤️ is U+2764 U+FE0F) as one, so it let through values
 * up to twice too long, and the insert failed with a 500 (found by review: a registration whose
 * name was 200 ❤️). Same message as MaxLength; a value that is not a string is left to @IsString.
 * Also documents the limit in OpenAPI (`maxLength`, which JSON Schema counts in code points too).
 */
export function MaxCharacters(max: number): PropertyDecorator {
  return applyDecorators(
    ValidateBy({
      name: 'maxCharacters',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || characterCount(value, max) <= max,
        defaultMessage: (args?: ValidationArguments) => `${args?.property ?? 'value'} must be shorter than or equal to ${max} characters`,
      },
    }),
    ApiProperty({ maxLength: max }),
  );
}

/**
 * Code points, counted no further than just past `max` (a long string is refused without a full walk:
 * sync's validator spread a 60 MiB string into an array of its characters, ~10 s of event loop).
 */
export function characterCount(value: string, max: number): number {
  if (value.length <= max) return value.length;
  // A code point is at most two UTF-16 code units.
  if (value.length > 2 * max) return max + 1;
  let count = 0;
  for (const _ of value) if (++count > max) break;
  return count;
}
