import { applyDecorators } from '@nestjs/common';
import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ValidateBy, type ValidationArguments } from 'class-validator';
import { isJsonColumn, SYNC_TABLE_BY_NAME, type ColumnSpec, type SyncTableName } from './sync-schema.js';
import { Invalid, normalizeValue } from './sync-validator.js';

/**
 * The registry's spec of a writable synced column. Throws at start-up (when a DTO is decorated) for a
 * column the registry does not have, or one a push cannot write: a typo must not pass silently.
 */
export function syncColumnSpec(table: SyncTableName, column: string): ColumnSpec {
  const spec = SYNC_TABLE_BY_NAME.get(table)?.columns.find((c) => c.name === column);
  if (!spec) throw new Error(`sync-schema has no column ${table}.${column}`);
  if (spec.readOnly) throw new Error(`${table}.${column} is read-only for sync: a REST field cannot write it either`);
  if (isJsonColumn(spec)) throw new Error(`${table}.${column} is a JSON column: @SyncColumn supports scalar columns only`);
  return spec;
}

/** What sync's push validator says about `value` in this column (undefined: it accepts it). */
export function syncColumnProblem(spec: ColumnSpec, value: unknown): string | undefined {
  const result = normalizeValue(spec, value);
  return result instanceof Invalid ? result.error : undefined;
}

/**
 * A REST or upload field that writes the synced column `table.column` accepts exactly what a sync
 * push of that column accepts (sync-validator's normalizeValue): the same types, enum values,
 * non-blank required strings, lengths in code points, ranges and storable text. Anything REST
 * writes is then pushable by every device afterwards, and a push never fails on a value REST
 * stored (a push is all or nothing: one bad column blocks every offline record of the phone).
 *
 * - An absent field (undefined) is not checked: the route decides what omitting it means.
 * - null follows sync: it clears an optional column; a required column refuses it.
 * - The value is stored as sync would store it (an optional enum sent as '' becomes null).
 * - An error names the field with sync's message (`notes must be at most 20000 characters`) and
 *   reaches the client through the app's validation error (400, `details.fields`).
 * - The OpenAPI limits (maxLength, minimum/maximum, enum, format) are read from the same spec; the
 *   Swagger plugin adds the type, nullability, description and example.
 */
export function SyncColumn(table: SyncTableName, column: string): PropertyDecorator {
  const spec = syncColumnSpec(table, column);
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => normalizedOrRaw(spec, value)),
    ValidateBy({
      name: 'syncColumn',
      constraints: [table, column],
      validator: {
        validate: (value: unknown) => value === undefined || syncColumnProblem(spec, value) === undefined,
        defaultMessage: (args?: ValidationArguments) => `${args?.property ?? column} ${syncColumnProblem(spec, args?.value) ?? 'is invalid'}`,
      },
    }),
    ApiProperty(openApiLimits(spec)),
  );
}

/** The value sync would store; a value it refuses is left as sent, for the validator to name. */
function normalizedOrRaw(spec: ColumnSpec, value: unknown): unknown {
  if (value === undefined) return undefined;
  const result = normalizeValue(spec, value);
  return result instanceof Invalid ? value : result;
}

/** OpenAPI 3.0 limits of the column: JSON Schema's maxLength counts code points, as sync does. */
export function openApiLimits(spec: ColumnSpec): ApiPropertyOptions {
  switch (spec.kind) {
    case 'string':
      return { maxLength: spec.maxLength, ...(spec.required ? { minLength: 1 } : {}) };
    case 'timestamp':
      // ms since epoch: past 32 bits, which a generator reads `integer` alone as (Java's and Kotlin's Int).
      return { type: 'integer', format: 'int64', minimum: spec.min, maximum: spec.max };
    case 'integer':
      return { type: 'integer', minimum: spec.min, maximum: spec.max };
    case 'number':
      return {
        ...(spec.gt !== undefined ? { minimum: spec.gt, exclusiveMinimum: true } : {}),
        ...(spec.lt !== undefined ? { maximum: spec.lt, exclusiveMaximum: true } : {}),
      };
    case 'enum':
      // An optional enum also takes '' (WatermelonDB's "not set") and null, both stored as null.
      return spec.required ? { enum: [...spec.values] } : { enum: [...spec.values, '', null], nullable: true };
    case 'uuid':
      return { format: 'uuid' };
    case 'boolean':
      return { type: 'boolean' };
    default:
      return {};
  }
}
