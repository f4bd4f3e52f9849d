import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { SyncTableChangesDto } from './sync.dto.js';

export class SyncPullResponse {
  @ApiProperty({
    description: 'Every synced table with created / updated / deleted',
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(SyncTableChangesDto) },
  })
  changes: Record<string, SyncTableChangesDto>;

  /** The family's version in the pull snapshot: send it back as last_pulled_at. @example 1764090000123 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  timestamp: number;

  @ApiPropertyOptional({
    enum: ['replacement'],
    description:
      "Present when the answer replaces what the client holds: its cursor was issued before the caller joined this family or for another family's data, " +
      'or (with X-Device-Id) the server has no record of that cursor for this installation',
  })
  experimentalStrategy?: 'replacement';
}

export class SyncPushResponse {
  /** The version of this push's transaction; a push that changes nothing takes none and answers the family's current version. @example 1764090000456 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  timestamp: number;
}
