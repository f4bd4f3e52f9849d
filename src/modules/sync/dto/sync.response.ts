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
  timestamp: number;

  @ApiPropertyOptional({
    enum: ['replacement'],
    description: "Present when the cursor predates the caller's membership of its family: the client replaces its data",
  })
  experimentalStrategy?: 'replacement';
}

export class SyncPushResponse {
  /** The version of this push's transaction. @example 1764090000456 */
  timestamp: number;
}
