import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { maxHeaderSize } from 'node:http';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, MaxLength } from 'class-validator';

/**
 * A query parameter as a number only when it is written in decimal digits, as WatermelonDB clients
 * write it (`String(n)`, or `${n}` in a template). Anything else stays a string, which @IsInt refuses
 * (400 naming the parameter): Number() would read `0x10` as 16, `1e3` as 1000 and ` 5` as 5.
 */
function decimalInteger(value: unknown): unknown {
  return typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
}

const DECIMAL_INTEGER = { message: '$property must be an integer written in decimal digits' };

/** `null`, `undefined`, '' and 0 all mean "never pulled" (clients interpolate the value into the URL). */
function toCursor({ value }: { value: unknown }): unknown {
  if (value === undefined || value === null || value === '' || value === 'null' || value === 'undefined') return null;
  return decimalInteger(value);
}

/**
 * WatermelonDB's SQLite adapter keeps the schema version in SQLite's `user_version`, a 32-bit signed
 * integer: no app has a version above it.
 */
const MAX_SCHEMA_VERSION = 2_147_483_647;

export class SyncPullQueryDto {
  /** The `timestamp` of the client's last successful pull, in decimal digits; absent, `null` or 0 on the first sync. @example 1764090000000 */
  @ApiPropertyOptional({ type: 'integer', format: 'int64' })
  @IsOptional() @Transform(toCursor) @IsInt(DECIMAL_INTEGER) @Min(0) @Max(Number.MAX_SAFE_INTEGER)
  last_pulled_at?: number | null;

  /**
   * The app's local WatermelonDB schema version (`schemaVersion` in pullChanges). Tables and columns
   * the synced schema gained after this version are left out of the answer (the app has nowhere to
   * put them; its migration sync fetches them once it upgrades). Absent: everything is sent. In
   * decimal digits, at most 2147483647 (SQLite's user_version, where WatermelonDB keeps it).
   * WatermelonDB's versions start at 1: a 0 would get no table at all and a real timestamp, and the
   * client would then sync incrementally without ever having the history (found by review).
   * @example 3
   */
  @ApiPropertyOptional({ type: 'integer' })
  @IsOptional() @Transform(({ value }) => (value === undefined || value === '' ? undefined : decimalInteger(value))) @IsInt(DECIMAL_INTEGER) @Min(1) @Max(MAX_SCHEMA_VERSION)
  schema_version?: number;

  /**
   * WatermelonDB's migration info as JSON (`null` when there is none):
   * `{"from":2,"tables":["reminders"],"columns":[{"table":"transfusions","columns":["hospital"]}]}`.
   * Bounded by the request head: the URL and the headers together may take 16 KB, past which the
   * request is answered 431 before it is read; its maxLength is that limit, the most any request can carry.
   */
  // http.maxHeaderSize: Node's limit on a request head (16 KB unless --max-http-header-size changes it); it said 100000, which no request could reach.
  @IsOptional() @IsString() @MaxLength(maxHeaderSize)
  migration?: string;
}

export class SyncPushQueryDto {
  /** The `timestamp` of the pull that preceded this push, in decimal digits (or send `lastPulledAt` in the body). @example 1764090000000 */
  @ApiPropertyOptional({ type: 'integer', format: 'int64' })
  @IsOptional() @Transform(toCursor) @IsInt(DECIMAL_INTEGER) @Min(0) @Max(Number.MAX_SAFE_INTEGER)
  last_pulled_at?: number | null;
}

/** One table's changes, as WatermelonDB sends and receives them. */
export class SyncTableChangesDto {
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true }, description: 'Raw records (snake_case columns, ms dates, JSON columns as strings)' })
  created: Record<string, unknown>[];

  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } })
  updated: Record<string, unknown>[];

  @ApiProperty({ type: 'array', items: { type: 'string', format: 'uuid' } })
  deleted: string[];
}

/**
 * One table's changes in a push. The sync validator takes each list as optional (absent or null: empty),
 * so a client that sends only `created` is answered as if it sent the other two empty; the pull's
 * answer always has all three (SyncTableChangesDto).
 */
export class SyncPushTableChangesDto {
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    nullable: true,
    description: 'Raw records (snake_case columns, ms dates, JSON columns as strings); absent or null: none',
  })
  created?: Record<string, unknown>[] | null;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true }, nullable: true, description: 'Absent or null: none' })
  updated?: Record<string, unknown>[] | null;

  @ApiPropertyOptional({ type: 'array', items: { type: 'string', format: 'uuid' }, nullable: true, description: 'Absent or null: none' })
  deleted?: string[] | null;
}

/** Validated by the sync validator (not the generic pipe): a push can hold tens of thousands of records. */
export class SyncPushBodyDto {
  @ApiProperty({
    description:
      'Per table: created, updated, deleted (each optional). Tables: families, transfusions, blood_tests, blood_test_results, analysis_templates, reminders, documents; ' +
      'a table left out has no changes',
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/SyncPushTableChangesDto' },
  })
  changes: Record<string, SyncPushTableChangesDto>;

  @ApiPropertyOptional({
    description:
      'The `timestamp` of the pull that preceded this push (WatermelonDB passes it to pushChanges), ms; used when the last_pulled_at query parameter is absent. ' +
      'A pushed record changed on the server after it is a conflict (409); null or absent counts as 0, so every pushed record that already exists on the server conflicts',
    example: 1764090000000,
    type: 'integer',
    format: 'int64',
    minimum: 0,
    nullable: true,
  })
  lastPulledAt?: number | null;
}
